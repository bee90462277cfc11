// The admin's local time: the instant a `datetime-local` field names, and the instants the
// local days start at, as the system's time zone has them.

/** A `datetime-local` input's value (local time) as an RFC 3339 instant, or null when empty or invalid. */
export function localToInstant(value: string): string | null {
  if (value.trim() === "") return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/**
 * The instants of the local midnights of the last `days` days, oldest first, today last: the
 * admin's days as the system's time zone has them (23 or 25 hours long across a
 * daylight-saving change).
 */
export function localDayStarts(days: number, now: Date = new Date()): string[] {
  const starts: string[] = [];
  for (let back = days - 1; back >= 0; back--) {
    starts.push(new Date(now.getFullYear(), now.getMonth(), now.getDate() - back).toISOString());
  }
  return starts;
}

/** An instant as a `datetime-local` input's value in local time, to the second: "2026-04-08T14:05:09". */
export function instantToLocal(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}` +
    `T${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`
  );
}
