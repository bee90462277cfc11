// The count of new alerts the Alerts tab shows, read from the cache. The tab and the alerts
// screen share it: the screen asks for a recount when it changes an alert's status.
import { api } from "./api";
import { TAB_COUNT_MAX } from "./tabCount";

let count = $state(0);
// Bumped with every recount, so that a late answer to an older one is dropped.
let generation = 0;

/** The new alerts counted last (at most one more than `TAB_COUNT_MAX`). */
export const newAlerts = {
  get count(): number {
    return count;
  },
};

/** Counts the new alerts again. A failure keeps the last count (the screens say what failed). */
export async function recountNewAlerts(): Promise<void> {
  const gen = ++generation;
  try {
    const rows = await api.alerts({ status: "new", limit: TAB_COUNT_MAX + 1 });
    if (gen === generation) count = rows.length;
  } catch {
    // Kept as it was.
  }
}
