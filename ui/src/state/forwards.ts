// Forward mode: the newest forwarding attempt per delivery, from live `forward` events (the list
// API brings each delivery's state too: `forwardOf` takes the newer of the two). Batched like
// the feed (one update per frame) so a burst of deliveries and their forwards stays cheap.
import { signal } from '@preact/signals';
import type { DeliveryItem } from '../generated/DeliveryItem';
import type { ForwardAttempt } from '../generated/ForwardAttempt';
import { createBatcher } from '../lib/batch';
import { isNewerAttempt, mergeForwards } from '../lib/devtools';
import { onLive } from './app';

export const forwards = signal<ReadonlyMap<number, ForwardAttempt>>(new Map());

type ForwardListener = (a: ForwardAttempt) => void;
const listeners = new Set<ForwardListener>();

/** Every forward attempt as it arrives (the inspector refreshes its list with them). */
export function onForward(fn: ForwardListener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const batcher = createBatcher<ForwardAttempt>((batch) => {
  const next = mergeForwards(forwards.value, batch);
  if (next !== forwards.value) forwards.value = next;
});

/** Record attempts fetched for one delivery (the inspector's list) so its feed row agrees. */
export function noteForwards(list: ForwardAttempt[]) {
  const next = mergeForwards(forwards.value, list);
  if (next !== forwards.value) forwards.value = next;
}

export function startForwardsLive() {
  onLive((e) => {
    if (e.type !== 'forward') return;
    batcher.push(e.forward);
    for (const l of listeners) l(e.forward);
  });
}

/**
 * What a feed row shows of a delivery's forwarding: the state the list brought (`d.forward`, so a
 * reload keeps it) or the live one, whichever is newer.
 */
export function forwardOf(d: DeliveryItem, live: ReadonlyMap<number, ForwardAttempt>): ForwardAttempt | undefined {
  const seen = live.get(d.id);
  const listed = d.forward ?? undefined;
  if (!seen) return listed;
  if (!listed) return seen;
  return isNewerAttempt(listed, seen) ? seen : listed;
}
