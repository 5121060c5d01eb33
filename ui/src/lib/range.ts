// The feed's received-time range: presets (last hour, today, last 7 days) resolved when the list is
// asked for, or a custom range of local dates; sent to the API as RFC 3339 instants.

/** The presets, in the order the filter bar offers them ('' = any time, 'custom' = two dates). */
export const RANGE_PRESETS: { value: string; label: string }[] = [
  { value: '', label: 'Any time' },
  { value: 'hour', label: 'Last hour' },
  { value: 'today', label: 'Today' },
  { value: '7d', label: 'Last 7 days' },
  { value: 'custom', label: 'Custom…' },
];

export interface RangeFilter {
  /** '', 'hour', 'today', '7d' or 'custom'. */
  range: string;
  /** Custom range: first day, local `YYYY-MM-DD` (or ''). */
  since: string;
  /** Custom range: last day, included, local `YYYY-MM-DD` (or ''). */
  until: string;
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Local midnight starting `day` (`YYYY-MM-DD`), or null when it is not a date. */
export function localDayStart(day: string): Date | null {
  const m = DAY_RE.exec(day.trim());
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return d.getFullYear() === Number(m[1]) && d.getMonth() === Number(m[2]) - 1 ? d : null;
}

/** The mode shown: dates in the URL mean a custom range. */
export function rangeMode(f: RangeFilter): string {
  if (f.since.trim() || f.until.trim()) return 'custom';
  return RANGE_PRESETS.some((p) => p.value === f.range) ? f.range : '';
}

export const hasRange = (f: RangeFilter) => {
  const mode = rangeMode(f);
  return mode !== '' && (mode !== 'custom' || !!(localDayStart(f.since) || localDayStart(f.until)));
};

/** `[since, until)` as RFC 3339 instants for the API, resolved at `now`. */
export function rangeBounds(f: RangeFilter, now: Date = new Date()): { since?: string; until?: string } {
  switch (rangeMode(f)) {
    case 'hour':
      return { since: new Date(now.getTime() - 3_600_000).toISOString() };
    case 'today':
      return { since: new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString() };
    case '7d':
      return { since: new Date(now.getTime() - 7 * 86_400_000).toISOString() };
    case 'custom': {
      const out: { since?: string; until?: string } = {};
      const from = localDayStart(f.since);
      const to = localDayStart(f.until);
      if (from) out.since = from.toISOString();
      if (to) out.until = new Date(to.getFullYear(), to.getMonth(), to.getDate() + 1).toISOString();
      return out;
    }
    default:
      return {};
  }
}

/** Is an instant (RFC 3339) inside the range, resolved at `now`? (Live rows.) */
export function inRange(receivedAt: string, f: RangeFilter, now: Date = new Date()): boolean {
  const b = rangeBounds(f, now);
  const t = Date.parse(receivedAt);
  if (Number.isNaN(t)) return true;
  if (b.since && t < Date.parse(b.since)) return false;
  if (b.until && t >= Date.parse(b.until)) return false;
  return true;
}

/** Local `YYYY-MM-DD` of a date (for the date inputs' defaults). */
export function localDay(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
