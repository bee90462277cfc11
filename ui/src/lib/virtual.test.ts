import { describe, expect, it } from "vitest";
import { visibleRange } from "./virtual";

describe("visibleRange", () => {
  it("draws the rows in view and a few around them", () => {
    expect(visibleRange(0, 400, 40, 100_000, 5)).toEqual({ first: 0, last: 15 });
    expect(visibleRange(4000, 400, 40, 100_000, 5)).toEqual({ first: 95, last: 115 });
  });
  it("stops at the end of the list", () => {
    expect(visibleRange(40 * 99_995, 400, 40, 100_000, 5)).toEqual({ first: 99_990, last: 100_000 });
    expect(visibleRange(10_000_000, 400, 40, 10, 5)).toEqual({ first: 4, last: 10 });
  });
  it("draws nothing for an empty list", () => {
    expect(visibleRange(0, 400, 40, 0, 5)).toEqual({ first: 0, last: 0 });
  });
});
