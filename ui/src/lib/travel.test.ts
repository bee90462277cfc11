import { describe, expect, it } from "vitest";
import type { Location, SignInPoint, TravelHistory } from "./bindings";
import { span, travelDots, travelLines, tripLabel } from "./travel";

const place = (city: string, cc: string, latitude: number, longitude: number): Location => ({
  city,
  region: null,
  country: null,
  country_code: cc,
  latitude,
  longitude,
});

const point = (seq: number, location: Location | null): SignInPoint => ({
  seq,
  at: `2026-04-08T12:0${seq}:00Z`,
  session_id: null,
  ip: null,
  device: null,
  location,
});

const london = place("London", "GB", 51.5074, -0.1278);
const paris = place("Paris", "FR", 48.8566, 2.3522);

const history: TravelHistory = {
  member_id: "m1",
  sign_ins: [point(1, london), point(2, london), point(3, null), point(4, paris)],
  trips: [{ from_seq: 2, to_seq: 4, km: 343.5, hours: 2 / 3, kmh: 515.2, impossible: false }],
  truncated: false,
};

describe("a member's travels", () => {
  it("counts the sign-ins of each place and leaves the unplaced out", () => {
    const dots = travelDots(history);
    expect(dots.map((d) => [d.label, d.count])).toEqual([
      ["London, GB · 2 sign-ins", 2],
      ["Paris, FR · 1 sign-in", 1],
    ]);
  });

  it("says a trip's distance, time and speed", () => {
    expect(tripLabel(history.trips[0]!, history.sign_ins[1], history.sign_ins[3])).toBe(
      "London, GB → Paris, FR: 344 km in 40 min (515 km/h)",
    );
    expect(
      tripLabel({ from_seq: 1, to_seq: 2, km: 16990, hours: 0, kmh: null, impossible: true }, history.sign_ins[0], undefined),
    ).toBe("London, GB → Unknown location: 16,990 km in 0 min (at the same instant) — impossible travel");
  });

  it("draws each trip from place to place", () => {
    const lines = travelLines(history);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.from).toEqual([51.5074, -0.1278]);
    expect(lines[0]!.to).toEqual([48.8566, 2.3522]);
  });

  it("puts durations in the unit that reads best", () => {
    expect(span(0.5)).toBe("30 min");
    expect(span(3.5)).toBe("3.5 h");
    expect(span(72)).toBe("3 days");
  });
});
