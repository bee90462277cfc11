// The count a tab shows beside its name: exact up to a maximum, above which it reads "99+"
// (the alerts' count asks the cache for one more than the maximum, no more).

/** The most new alerts a tab counts exactly; more read "99+". */
export const TAB_COUNT_MAX = 99;

/** The count a tab shows beside its name: nothing at 0, "99+" above the maximum. */
export function tabCount(n: number): string | null {
  if (!(n > 0)) return null;
  return n > TAB_COUNT_MAX ? `${TAB_COUNT_MAX}+` : String(Math.trunc(n));
}
