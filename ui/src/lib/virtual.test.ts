import { describe, expect, it } from "vitest";
import { visibleRange, withPage } from "./virtual";

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

describe("withPage", () => {
  it("adds a page of the same query to those shown", () => {
    const shown = new Map([[0, ["a", "b"]]]);
    const next = withPage(shown, 3, 3, 1, ["c"]);
    expect([...next.entries()]).toEqual([
      [0, ["a", "b"]],
      [1, ["c"]],
    ]);
    expect(shown.size).toBe(1);
  });

  it("replaces an older query's pages with the new query's first answer", () => {
    const shown = new Map([
      [0, ["old"]],
      [4, ["older"]],
    ]);
    expect([...withPage(shown, 2, 3, 4, ["new"]).entries()]).toEqual([[4, ["new"]]]);
  });
});
