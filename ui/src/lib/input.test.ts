import { describe, expect, it } from "vitest";
import { listOf } from "./input";

describe("listOf", () => {
  it("splits on commas, spaces and new lines and drops empties", () => {
    expect(listOf(" 10.0.0.0/8,\n192.0.2.0/24  GB ,, ")).toEqual(["10.0.0.0/8", "192.0.2.0/24", "GB"]);
    expect(listOf("   ")).toEqual([]);
  });
});
