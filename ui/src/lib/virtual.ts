// The rows a virtualised list draws: those in view, and a few on each side.

/** Rows `first..last` (last excluded) to draw for a list scrolled to `scrollTop`. */
export function visibleRange(
  scrollTop: number,
  height: number,
  rowHeight: number,
  total: number,
  overscan: number,
): { first: number; last: number } {
  if (total <= 0 || rowHeight <= 0) return { first: 0, last: 0 };
  const top = Math.max(0, Math.floor(scrollTop / rowHeight));
  const first = Math.max(0, Math.min(top, total - 1) - overscan);
  const last = Math.min(total, top + Math.ceil(height / rowHeight) + overscan);
  return { first, last: Math.max(first, last) };
}

/**
 * The pages a list shows once page `index` of query `query` arrives, given the pages it shows
 * now and the query they belong to: added to them when the query is the same, else replacing
 * them all. An older query's rows so stay on screen until the new one's first answer.
 */
export function withPage<T>(
  shown: Map<number, T[]>,
  shownQuery: number,
  query: number,
  index: number,
  rows: T[],
): Map<number, T[]> {
  return new Map(shownQuery === query ? shown : []).set(index, rows);
}
