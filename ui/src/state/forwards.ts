// Forward mode: the newest forwarding attempt per delivery, from live `forward` events. Batched like
// the feed (one update per frame) so a burst of deliveries and their forwards stays cheap.
import { signal } from '@preact/signals';
import type { ForwardAttempt } from '../generated/ForwardAttempt';
import { createBatcher } from '../lib/batch';
import { mergeForwards } from '../lib/devtools';
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
