/**
 * `f` at most once per `ms`: the first call runs at once, calls within the next `ms` are
 * folded into one that runs when it ends. A sync applying thousands of events tells the
 * window about each; the lists read the cache again once a second, not thousands of times.
 */
export function throttle(f: () => void, ms: number): () => void {
  let last = -Infinity;
  let pending: ReturnType<typeof setTimeout> | null = null;
  const run = () => {
    pending = null;
    last = Date.now();
    f();
  };
  return () => {
    if (pending !== null) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else pending = setTimeout(run, wait);
  };
}
