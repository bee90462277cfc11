import { describe, expect, it } from "vitest";
import { savesInOrder } from "./saves";

type S = { enabled: boolean; min: string };

describe("savesInOrder", () => {
  it("keeps a change made while an earlier one is being saved", async () => {
    const stored: S[] = [];
    const pending: (() => void)[] = [];
    // The app answers each save when told to.
    const saves = savesInOrder<S>(
      (next) =>
        new Promise((resolve) =>
          pending.push(() => {
            stored.push(next);
            resolve(next);
          }),
        ),
    );
    let local: S = { enabled: true, min: "low" };
    const shown: S[] = [];
    local = { ...local, enabled: false };
    const first = saves.save(local, (s) => shown.push(s), () => {});
    local = { ...local, min: "high" };
    const second = saves.save(local, (s) => shown.push(s), () => {});
    // The second save waits for the first.
    await Promise.resolve();
    expect(pending).toHaveLength(1);
    pending[0]?.();
    await first;
    await Promise.resolve();
    expect(pending).toHaveLength(2);
    pending[1]?.();
    await second;
    expect(stored).toEqual([
      { enabled: false, min: "low" },
      { enabled: false, min: "high" },
    ]);
    // Only the latest answer is shown, so the first answer cannot undo the second change.
    expect(shown).toEqual([{ enabled: false, min: "high" }]);
  });

  it("goes on after a failed save", async () => {
    let calls = 0;
    const saves = savesInOrder<number>(async (n) => {
      calls += 1;
      if (n === 1) throw new Error("refused");
      return n;
    });
    const errors: unknown[] = [];
    const shown: number[] = [];
    await saves.save(1, (n) => shown.push(n), (e) => errors.push(e));
    await saves.save(2, (n) => shown.push(n), (e) => errors.push(e));
    expect(calls).toBe(2);
    expect(errors).toHaveLength(1);
    expect(shown).toEqual([2]);
  });
});
