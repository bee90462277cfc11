import { afterEach, describe, expect, it, vi } from "vitest";
import { instantToLocal, localDayStarts, localToInstant } from "./localTime";

describe("localToInstant", () => {
  it("turns a local date and time into an instant, or null", () => {
    expect(localToInstant("")).toBeNull();
    expect(localToInstant("not a date")).toBeNull();
    const iso = localToInstant("2026-04-08T12:30");
    expect(iso).toMatch(/^2026-04-0[78]T\d\d:30:00\.000Z$/);
  });
});

describe("instantToLocal", () => {
  it("gives back what localToInstant read, to the second", () => {
    expect(instantToLocal("nonsense")).toBe("");
    expect(instantToLocal(localToInstant("2026-04-08T12:30:05")!)).toBe("2026-04-08T12:30:05");
    expect(localToInstant(instantToLocal("2026-11-02T23:59:59.000Z"))).toBe("2026-11-02T23:59:59.000Z");
  });
});

describe("localDayStarts", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("gives the local midnights, a 23-hour day across the spring change", () => {
    vi.stubEnv("TZ", "Europe/London");
    expect(localDayStarts(3, new Date("2026-03-30T12:00:00Z"))).toEqual([
      "2026-03-28T00:00:00.000Z",
      "2026-03-29T00:00:00.000Z",
      "2026-03-29T23:00:00.000Z",
    ]);
  });

  it("ends today and counts the days asked for", () => {
    vi.stubEnv("TZ", "Asia/Kolkata");
    const starts = localDayStarts(7, new Date("2026-04-08T20:00:00Z"));
    expect(starts).toHaveLength(7);
    // 01:30 on 9 April in India: today began at 18:30 UTC on the 8th.
    expect(starts[6]).toBe("2026-04-08T18:30:00.000Z");
    expect(starts[0]).toBe("2026-04-02T18:30:00.000Z");
  });
});
