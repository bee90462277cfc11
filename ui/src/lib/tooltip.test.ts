import { describe, expect, it } from "vitest";
import { tipAt, tipTextOf } from "./tooltip";

describe("tipAt", () => {
  it("shows the words where the pointer is", () => {
    expect(tipAt("3 Apr: 4 sign-ins, 1 failed", 360, 40, 720, 120)).toEqual({
      text: "3 Apr: 4 sign-ins, 1 failed",
      x: 360,
      y: 40,
      align: "middle",
    });
  });

  // The chart's tooltip was left on screen as an empty box: a part without words, or a
  // pointer that left, must give no box at all.
  it("is no box without words", () => {
    expect(tipAt("", 10, 10, 100, 100)).toBeNull();
    expect(tipAt("   ", 10, 10, 100, 100)).toBeNull();
    expect(tipAt(null, 10, 10, 100, 100)).toBeNull();
    expect(tipAt(undefined, 10, 10, 100, 100)).toBeNull();
  });

  it("is no box once the pointer is outside or the chart is gone", () => {
    expect(tipAt("words", -1, 10, 100, 100)).toBeNull();
    expect(tipAt("words", 101, 10, 100, 100)).toBeNull();
    expect(tipAt("words", 10, 101, 100, 100)).toBeNull();
    expect(tipAt("words", 0, 0, 0, 0)).toBeNull();
    expect(tipAt("words", Number.NaN, 10, 100, 100)).toBeNull();
  });

  it("grows inwards near the edges", () => {
    expect(tipAt("a", 5, 5, 100, 100)?.align).toBe("start");
    expect(tipAt("a", 50, 5, 100, 100)?.align).toBe("middle");
    expect(tipAt("a", 95, 5, 100, 100)?.align).toBe("end");
  });
});

describe("tipTextOf", () => {
  it("reads the nearest data-tip, or nothing", () => {
    const part = { getAttribute: (name: string) => (name === "data-tip" ? "Paris, FR" : null) };
    const inside = { closest: (css: string) => (css === "[data-tip]" ? part : null) };
    expect(tipTextOf(inside as unknown as EventTarget)).toBe("Paris, FR");
    expect(tipTextOf({ closest: () => null } as unknown as EventTarget)).toBeNull();
    expect(tipTextOf(null)).toBeNull();
    expect(tipTextOf({} as EventTarget)).toBeNull();
  });
});
