import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { throttle } from "./throttle";

describe("throttle", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs the first call at once and folds a burst into one more call", () => {
    let runs = 0;
    const news = throttle(() => (runs += 1), 1000);
    news();
    expect(runs).toBe(1);
    for (let i = 0; i < 10_000; i++) news();
    expect(runs).toBe(1);
    vi.advanceTimersByTime(999);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);
    // Quiet for longer than the interval: the next call runs at once again.
    vi.advanceTimersByTime(5000);
    news();
    expect(runs).toBe(3);
  });

  it("never drops the last call of a burst", () => {
    let runs = 0;
    const news = throttle(() => (runs += 1), 1000);
    for (let t = 0; t < 3000; t += 100) {
      news();
      vi.advanceTimersByTime(100);
    }
    vi.advanceTimersByTime(1000);
    // One at the start, then one per second while calls kept coming.
    expect(runs).toBe(4);
  });
});
