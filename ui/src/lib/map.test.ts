import { describe, expect, it } from "vitest";
import { dotRadius, placeLabel, timelineBars, worldMap } from "./map";
import type { DayCount, Place } from "./bindings";

describe("worldMap", () => {
  const map = worldMap(800, 400);

  it("draws the land and the borders from the bundled outline", () => {
    expect(map.land.startsWith("M")).toBe(true);
    expect(map.land.length).toBeGreaterThan(10_000);
    expect(map.borders.startsWith("M")).toBe(true);
  });

  it("puts places where they are: west before east, north above south, inside the box", () => {
    const london = map.project(-0.12, 51.5)!;
    const sydney = map.project(151.2, -33.9)!;
    const sanFrancisco = map.project(-122.4, 37.8)!;
    for (const [x, y] of [london, sydney, sanFrancisco]) {
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThan(800);
      expect(y).toBeGreaterThan(0);
      expect(y).toBeLessThan(400);
    }
    expect(sanFrancisco[0]).toBeLessThan(london[0]);
    expect(london[0]).toBeLessThan(sydney[0]);
    expect(london[1]).toBeLessThan(sydney[1]);
    // London lies near the middle across (Greenwich) and in the northern half.
    expect(Math.abs(london[0] - 400)).toBeLessThan(10);
    expect(london[1]).toBeLessThan(200);
  });
});

describe("dotRadius", () => {
  it("grows with the sessions by area, from 3 to 18 px", () => {
    expect(dotRadius(100, 100)).toBe(18);
    expect(dotRadius(25, 100)).toBeCloseTo(10.5);
    expect(dotRadius(1, 10_000)).toBeCloseTo(3.15);
    expect(dotRadius(0, 100)).toBe(0);
    // A small workspace: one session is a small dot even when it is the busiest place.
    expect(dotRadius(1, 1)).toBeCloseTo(6);
    expect(dotRadius(25, 25)).toBe(18);
    expect(dotRadius(5, 0)).toBe(0);
  });
});

describe("placeLabel", () => {
  const place = (city: string | null, cc: string | null, sessions: number): Place => ({
    latitude: 0,
    longitude: 0,
    city,
    country_code: cc,
    sessions,
  });
  it("names the city, the country and the sessions", () => {
    expect(placeLabel(place("London", "GB", 12))).toBe("London, GB · 12 sessions");
    expect(placeLabel(place(null, "FR", 1))).toBe("FR · 1 session");
    expect(placeLabel(place(null, null, 2))).toBe("Unknown place · 2 sessions");
  });
});

describe("timelineBars", () => {
  const day = (sign_ins: number, failed: number): DayCount => ({ day: "2026-04-08T00:00:00Z", sign_ins, failed });

  it("scales every day to the busiest and stacks the failures", () => {
    const bars = timelineBars([day(10, 0), day(5, 5), day(0, 0), day(2, 1)], 400, 100);
    expect(bars.map((b) => b.x)).toEqual([10, 110, 210, 310]);
    expect(bars.every((b) => b.width === 80)).toBe(true);
    expect(bars.map((b) => b.signInHeight)).toEqual([100, 50, 0, 20]);
    expect(bars.map((b) => b.failedHeight)).toEqual([0, 50, 0, 10]);
  });

  it("draws nothing tall for days without sign-ins", () => {
    const bars = timelineBars([day(0, 0), day(0, 0)], 100, 50);
    expect(bars.map((b) => b.signInHeight + b.failedHeight)).toEqual([0, 0]);
    expect(timelineBars([], 100, 50)).toEqual([]);
  });
});
