// Filters → API queries, and the same filters applied client-side to live events.
import type { DeliveryItem } from '../generated/DeliveryItem';
import type { DeliveryQuery } from '../generated/DeliveryQuery';
import type { DiagnosisCode } from '../generated/DiagnosisCode';
import type { ShipmentItem } from '../generated/ShipmentItem';
import type { ShipmentQuery } from '../generated/ShipmentQuery';
import type { Verdict } from '../generated/Verdict';
import { hasRange, inRange, rangeBounds } from './range';
import { DIAGNOSIS_LABELS, PASSING_DIAGNOSES } from './format';

export interface FeedFilters {
  /** One verdict, `failed`, or '' for all. */
  verdict: string;
  tag: string;
  /** Courier slug. */
  slug: string;
  q: string;
  /** Received-time range: a preset ('hour', 'today', '7d'), 'custom' or '' (lib/range.ts). */
  range: string;
  /** Custom range: first and last local day (`YYYY-MM-DD`), or ''. */
  since: string;
  until: string;
  /** A diagnosis code (`wrong_secret`, ...), or '' for all. */
  diagnosis: string;
}

export const emptyFilters = (): FeedFilters => ({ verdict: '', tag: '', slug: '', q: '', diagnosis: '', range: '', since: '', until: '' });

export const hasFilters = (f: FeedFilters) => !!(f.verdict || f.tag || f.slug || f.q.trim() || f.diagnosis) || hasRange(f);

export const FAILED_VERDICTS: readonly Verdict[] = ['invalid', 'missing', 'malformed', 'too_large'];

export const isFailedVerdict = (v: Verdict) => FAILED_VERDICTS.includes(v);

export const VERDICT_FILTERS: { value: string; label: string }[] = [
  { value: '', label: 'All verdicts' },
  { value: 'failed', label: 'Failed (401/413)' },
  { value: 'valid', label: 'Valid' },
  { value: 'unverified', label: 'Unverified (no secret)' },
  { value: 'invalid', label: 'Invalid signature' },
  { value: 'missing', label: 'Missing signature' },
  { value: 'malformed', label: 'Malformed signature' },
  { value: 'too_large', label: 'Too large' },
];

/** The filter by reason: failures first (the reasons one looks for), then the passing ones. */
export const DIAGNOSIS_FILTERS: { group: string; options: { value: DiagnosisCode; label: string }[] }[] = [
  {
    group: 'Failed because',
    options: (Object.keys(DIAGNOSIS_LABELS) as DiagnosisCode[])
      .filter((c) => !PASSING_DIAGNOSES.includes(c))
      .map((value) => ({ value, label: DIAGNOSIS_LABELS[value] })),
  },
  { group: 'Passed', options: PASSING_DIAGNOSES.map((value) => ({ value, label: DIAGNOSIS_LABELS[value] })) },
];

export function toDeliveryQuery(f: FeedFilters, limit?: number, before?: string | null): DeliveryQuery {
  const q: DeliveryQuery = {};
  if (f.verdict) q.verdict = f.verdict;
  if (f.diagnosis) q.diagnosis = f.diagnosis;
  if (f.tag) q.tag = f.tag;
  if (f.slug) q.slug = f.slug.trim().toLowerCase();
  if (f.q.trim()) q.q = f.q.trim();
  const range = rangeBounds(f);
  if (range.since) q.since = range.since;
  if (range.until) q.until = range.until;
  if (limit !== undefined) q.limit = limit;
  if (before) q.before = before;
  return q;
}

export function toShipmentQuery(tag: string, text: string, limit?: number, before?: string | null): ShipmentQuery {
  const q: ShipmentQuery = {};
  if (tag) q.tag = tag;
  if (text.trim()) q.q = text.trim();
  if (limit !== undefined) q.limit = limit;
  if (before) q.before = before;
  return q;
}

/** `?a=1&b=x` for an HTTP GET; undefined and empty values are left out. */
export function toSearch(query: object): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    sp.set(k, String(v));
  }
  const s = sp.toString();
  return s ? '?' + s : '';
}

const contains = (hay: string | null, needle: string) => !!hay && hay.toLowerCase().includes(needle);

/** Does a live delivery belong in the feed under these filters? (Mirrors the server's filter.) */
export function matchesDelivery(d: DeliveryItem, f: FeedFilters): boolean {
  if (f.verdict) {
    if (f.verdict === 'failed') {
      if (!isFailedVerdict(d.verdict)) return false;
    } else if (d.verdict !== f.verdict) return false;
  }
  if (f.diagnosis && d.diagnosis !== f.diagnosis) return false;
  if (f.tag && d.tag !== f.tag) return false;
  if (f.slug && (d.slug ?? '').toLowerCase() !== f.slug.trim().toLowerCase()) return false;
  if (hasRange(f) && !inRange(d.received_at, f)) return false;
  const q = f.q.trim().toLowerCase();
  if (q && !(contains(d.tracking_number, q) || contains(d.order_id, q) || contains(d.event_id, q) || contains(d.title, q)))
    return false;
  return true;
}

export function matchesShipment(s: ShipmentItem, tag: string, text: string): boolean {
  if (tag && s.tag !== tag) return false;
  const q = text.trim().toLowerCase();
  if (q && !(contains(s.tracking_number, q) || contains(s.order_id, q) || contains(s.title, q))) return false;
  return true;
}
