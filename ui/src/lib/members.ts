// Finding and ordering members: the Members list's search and sort, and the member filters'
// matches.

/** How the members list is sorted. */
export type MemberSort = "name" | "sessions" | "last_active";

/**
 * The members whose name or email contains `text` (any case), sorted by `sort`: by name A–Z,
 * by active sessions (most first) or by last activity (most recent first; never last), with
 * the name breaking ties.
 */
export function membersShown<M extends { display_name: string; email: string; active_sessions: number; last_active_at: string | null }>(
  members: M[],
  text: string,
  sort: MemberSort,
): M[] {
  const needle = text.trim().toLowerCase();
  const byName = (a: M, b: M) =>
    a.display_name.localeCompare(b.display_name, "en", { sensitivity: "base" }) || a.email.localeCompare(b.email);
  const at = (m: M) => (m.last_active_at ? Date.parse(m.last_active_at) : -Infinity);
  const order: Record<MemberSort, (a: M, b: M) => number> = {
    name: byName,
    sessions: (a, b) => b.active_sessions - a.active_sessions || byName(a, b),
    last_active: (a, b) => at(b) - at(a) || byName(a, b),
  };
  return members
    .filter((m) => needle === "" || m.display_name.toLowerCase().includes(needle) || m.email.toLowerCase().includes(needle))
    .sort(order[sort]);
}

/** The member whose email is `text` (any case, surrounding spaces ignored), if any. */
export function memberByEmail<M extends { email: string }>(members: M[], text: string): M | null {
  const wanted = text.trim().toLowerCase();
  if (wanted === "") return null;
  return members.find((m) => m.email.toLowerCase() === wanted) ?? null;
}
