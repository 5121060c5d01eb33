// The in-memory feed: newest first, deduplicated by id, merging live batches and older pages.

export interface HasId {
  id: number;
}

export interface MergeResult<T> {
  items: T[];
  /** How many of the incoming items were new rows placed above the previously first row. */
  addedAbove: number;
}

/**
 * Merges a live batch into a newest-first list. Rows already present are replaced in place
 * (an update), new rows are inserted in id order (live events can arrive slightly out of order).
 */
export function mergeLive<T extends HasId>(items: T[], incoming: T[]): MergeResult<T> {
  if (!incoming.length) return { items, addedAbove: 0 };
  const byId = new Map<number, T>();
  for (const it of incoming) byId.set(it.id, it);
  let replaced = false;
  const updated = items.map((it) => {
    const u = byId.get(it.id);
    if (u) {
      byId.delete(it.id);
      replaced = true;
      return u;
    }
    return it;
  });
  const fresh = [...byId.values()].sort((a, b) => b.id - a.id);
  if (!fresh.length) return { items: replaced ? updated : items, addedAbove: 0 };
  const topId = updated.length ? updated[0].id : -Infinity;
  const above = fresh.filter((f) => f.id > topId);
  const below = fresh.filter((f) => f.id <= topId);
  let merged = [...above, ...updated];
  if (below.length) merged = merged.concat(below).sort((a, b) => b.id - a.id);
  return { items: merged, addedAbove: above.length };
}

/** Appends an older page, skipping rows already shown (a live row may also be in the page). */
export function appendPage<T extends HasId>(items: T[], page: T[]): T[] {
  if (!page.length) return items;
  const seen = new Set(items.map((i) => i.id));
  const extra = page.filter((p) => !seen.has(p.id));
  return extra.length ? items.concat(extra) : items;
}
