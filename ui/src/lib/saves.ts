/**
 * Settings saved one change at a time. Each change is made on the latest local value (so a
 * second change made while the first is still being saved keeps the first), the saves reach
 * the app in the order they were made, and only the answer to the latest one replaces the
 * local value.
 */
export function savesInOrder<T>(save: (next: T) => Promise<T>) {
  let queue: Promise<unknown> = Promise.resolve();
  let made = 0;
  return {
    /** Saves `next`; `settled` gets the saved value when this is still the latest change. */
    save(next: T, settled: (saved: T) => void, failed: (e: unknown) => void): Promise<void> {
      const change = ++made;
      const saved = queue.then(() => save(next));
      queue = saved.catch(() => undefined);
      return saved.then(
        (value) => {
          if (change === made) settled(value);
        },
        failed,
      );
    },
  };
}
