import { describe, expect, it } from "vitest";
import { tabCount } from "./tabCount";

describe("tabCount", () => {
  it("shows nothing at 0, the count up to 99, then 99+", () => {
    expect(tabCount(0)).toBeNull();
    expect(tabCount(-1)).toBeNull();
    expect(tabCount(Number.NaN)).toBeNull();
    expect(tabCount(1)).toBe("1");
    expect(tabCount(99)).toBe("99");
    expect(tabCount(100)).toBe("99+");
  });
});
