// Batches a burst of live events into one update per animation frame.

export type Scheduler = (cb: () => void) => unknown;

export const frameScheduler: Scheduler = (cb) =>
  typeof requestAnimationFrame === 'function' && typeof document !== 'undefined' && !document.hidden
    ? requestAnimationFrame(() => cb())
    : setTimeout(cb, 16);

export interface Batcher<T> {
  push(item: T): void;
  /** Deliver what is queued now (e.g. before a refetch). */
  flush(): void;
  /** Drop what is queued. */
  clear(): void;
  readonly pending: number;
}

export function createBatcher<T>(deliver: (items: T[]) => void, schedule: Scheduler = frameScheduler): Batcher<T> {
  let queue: T[] = [];
  let scheduled = false;
  const run = () => {
    scheduled = false;
    if (!queue.length) return;
    const items = queue;
    queue = [];
    deliver(items);
  };
  return {
    push(item) {
      queue.push(item);
      if (!scheduled) {
        scheduled = true;
        schedule(run);
      }
    },
    flush: run,
    clear() {
      queue = [];
    },
    get pending() {
      return queue.length;
    },
  };
}

/** Calls fn at most once per `ms`, trailing: the last call in a window always runs. */
export function throttle(fn: () => void, ms: number): () => void {
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  return () => {
    const now = Date.now();
    const wait = last + ms - now;
    if (wait <= 0 && !timer) {
      last = now;
      fn();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = null;
        last = Date.now();
        fn();
      }, Math.max(wait, 0));
    }
  };
}
