// The feed's state lives here, not in the view: leaving for the inspector and coming back keeps
// the rows, the scroll position and the selection, and live rows keep arriving meanwhile.
import { signal } from '@preact/signals';
import { errorMessage } from '../backend';
import type { DeliveryItem } from '../generated/DeliveryItem';
import { createBatcher } from '../lib/batch';
import { appendPage, mergeLive } from '../lib/feedlist';
import { emptyFilters, matchesDelivery, toDeliveryQuery, type FeedFilters } from '../lib/query';
import { api, onLive } from './app';

export const PAGE_SIZE = 100;

export const feedFilters = signal<FeedFilters>(emptyFilters());
export const feedItems = signal<DeliveryItem[]>([]);
export const feedNext = signal<string | null>(null);
export const feedLoaded = signal(false);
export const feedLoading = signal(false);
export const feedLoadingOlder = signal(false);
export const feedError = signal<string | null>(null);
export const feedSelected = signal<number | null>(null);
/** Rows that arrived above the viewport while the user was scrolled down. */
export const feedNewAbove = signal(0);
/** Ids pushed live in the last few seconds (highlighted once). */
export const liveIds = new Set<number>();
/** Slugs seen, for the courier filter's suggestions. */
export const seenSlugs = signal<string[]>([]);

/** The view sets this to keep its scroll position when rows are inserted above. */
export let onRowsAbove: ((n: number) => void) | null = null;
export function setOnRowsAbove(fn: ((n: number) => void) | null) {
  onRowsAbove = fn;
}

export const feedScroll = { top: 0 };

let generation = 0;
let buffered: DeliveryItem[] | null = null;

const filtersKey = (f: FeedFilters) =>
  JSON.stringify([f.verdict, f.tag, f.slug.trim().toLowerCase(), f.q.trim(), f.range, f.since, f.until, f.diagnosis]);

function noteSlugs(items: DeliveryItem[]) {
  const cur = new Set(seenSlugs.value);
  let changed = false;
  for (const it of items)
    if (it.slug && !cur.has(it.slug)) {
      cur.add(it.slug);
      changed = true;
    }
  if (changed) seenSlugs.value = [...cur].sort();
}

/** Show the feed for these filters (no-op when they are the ones shown). */
export function setFeedFilters(f: FeedFilters) {
  if (feedLoaded.value && filtersKey(f) === filtersKey(feedFilters.value)) return;
  feedFilters.value = f;
  void reloadFeed();
}

export async function reloadFeed(): Promise<void> {
  const gen = ++generation;
  buffered = [];
  feedLoading.value = true;
  feedError.value = null;
  try {
    const page = await api().listDeliveries(toDeliveryQuery(feedFilters.value, PAGE_SIZE));
    if (gen !== generation) return;
    const merged = mergeLive(page.items, buffered ?? []).items;
    buffered = null;
    feedItems.value = merged;
    feedNext.value = page.next;
    feedLoaded.value = true;
    feedNewAbove.value = 0;
    feedScroll.top = 0;
    noteSlugs(merged);
  } catch (e) {
    if (gen !== generation) return;
    buffered = null;
    feedError.value = errorMessage(e);
  } finally {
    if (gen === generation) feedLoading.value = false;
  }
}

export async function loadOlder(): Promise<void> {
  const before = feedNext.value;
  if (!before || feedLoadingOlder.value || feedLoading.value) return;
  const gen = generation;
  feedLoadingOlder.value = true;
  try {
    const page = await api().listDeliveries(toDeliveryQuery(feedFilters.value, PAGE_SIZE, before));
    if (gen !== generation) return;
    feedItems.value = appendPage(feedItems.value, page.items);
    feedNext.value = page.next;
    noteSlugs(page.items);
  } catch (e) {
    if (gen === generation) feedError.value = errorMessage(e);
  } finally {
    feedLoadingOlder.value = false;
  }
}

const batcher = createBatcher<DeliveryItem>((batch) => {
  const f = feedFilters.value;
  const matching = batch.filter((d) => matchesDelivery(d, f));
  noteSlugs(batch);
  if (!matching.length) return;
  if (buffered) {
    buffered.push(...matching);
    return;
  }
  if (!feedLoaded.value) return;
  const { items, addedAbove } = mergeLive(feedItems.value, matching);
  const now = Date.now();
  for (const d of matching) liveIds.add(d.id);
  setTimeout(() => {
    for (const d of matching) liveIds.delete(d.id);
  }, 3000 + (Date.now() - now));
  if (addedAbove && onRowsAbove) onRowsAbove(addedAbove);
  feedItems.value = items;
});

/** Wire the feed to live events (once, at start). */
export function startFeedLive() {
  onLive((e) => {
    if (e.type === 'delivery') batcher.push(e.delivery);
    else if (e.type === 'lagged') {
      batcher.clear();
      if (feedLoaded.value) void reloadFeed();
    }
  });
}
