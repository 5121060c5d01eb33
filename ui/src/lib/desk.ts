// The merchant's desk: pure wording and grouping helpers for the home page and the shipment page.
// Ages count from the courier's checkpoint times (last_scan_at) and the due date, never from when
// Shipwatch received a delivery.
import type { AttentionKind } from '../generated/AttentionKind';
import type { Desk } from '../generated/Desk';
import type { DeskGroup } from '../generated/DeskGroup';
import type { EstimateChange } from '../generated/EstimateChange';
import type { ShipmentItem } from '../generated/ShipmentItem';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');
const DAY = 86_400_000;

export type Urgency = 'critical' | 'warning' | 'info';

export interface KindInfo {
  urgency: Urgency;
  /** A short label shown beside the icon, so urgency is never told by colour alone. */
  label: string;
  /** Name of the icon (components/Icon.tsx). */
  icon: 'alert' | 'door' | 'clock' | 'pause' | 'store';
}

const KINDS: Record<AttentionKind, KindInfo> = {
  exception: { urgency: 'critical', label: 'Exception', icon: 'alert' },
  failed_attempt: { urgency: 'critical', label: 'Failed attempt', icon: 'door' },
  late: { urgency: 'warning', label: 'Late', icon: 'clock' },
  stuck: { urgency: 'warning', label: 'No scan', icon: 'pause' },
  waiting_for_pickup: { urgency: 'info', label: 'At pickup point', icon: 'store' },
};

export function kindInfo(kind: AttentionKind): KindInfo {
  return KINDS[kind] ?? { urgency: 'warning', label: String(kind).replace(/_/g, ' '), icon: 'alert' };
}

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const t = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(iso + 'T00:00:00') : new Date(iso);
  return isNaN(t.getTime()) ? null : t;
}

/**
 * How long ago, in words a merchant reads at a glance: "just now", "12 min ago", "5 h ago",
 * "1 day ago", "3 days ago". Empty for a missing or unreadable time.
 */
export function ageWords(iso: string | null | undefined, now: Date = new Date()): string {
  const d = parse(iso);
  if (!d) return '';
  const ms = now.getTime() - d.getTime();
  if (ms < -5 * 60_000) return 'in the future';
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ago`;
  const days = Math.floor(ms / DAY);
  return days === 1 ? '1 day ago' : `${days} days ago`;
}

/** "Dec 5, 14:02" (local), with the year when it is not this year's. */
export function shortDateTime(iso: string | null | undefined, now: Date = new Date()): string {
  const d = parse(iso);
  if (!d) return iso ?? '';
  const year = d.getFullYear() === now.getFullYear() ? '' : ` ${d.getFullYear()}`;
  return `${MONTHS[d.getMonth()]} ${d.getDate()}${year}, ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "Dec 5" (local), with the year when it is not this year's. */
export function shortDate(iso: string | null | undefined, now: Date = new Date()): string {
  const d = parse(iso);
  if (!d) return iso ?? '';
  const year = d.getFullYear() === now.getFullYear() ? '' : `, ${d.getFullYear()}`;
  return `${MONTHS[d.getMonth()]} ${d.getDate()}${year}`;
}

/** For a list row: "last scan 3 days ago", or "no courier scan yet". */
export function scanAge(lastScanAt: string | null | undefined, now: Date = new Date()): string {
  const age = ageWords(lastScanAt, now);
  return age ? `last scan ${age}` : 'no courier scan yet';
}

/** For the shipment page: "Last courier scan 2 days ago (Dec 5, 14:02)". */
export function lastScanLine(lastScanAt: string | null | undefined, now: Date = new Date()): string {
  const age = ageWords(lastScanAt, now);
  if (!age) return 'No courier scan yet';
  return `Last courier scan ${age} (${shortDateTime(lastScanAt, now)})`;
}

/** Local calendar days from `a` to `b` (b later → positive), by date, not by 24 h blocks. */
export function calendarDays(a: Date, b: Date): number {
  const da = Date.UTC(a.getFullYear(), a.getMonth(), a.getDate());
  const db = Date.UTC(b.getFullYear(), b.getMonth(), b.getDate());
  return Math.round((db - da) / DAY);
}

export interface DueInfo {
  /** "Dec 3". */
  date: string;
  /** Whole local days past the due date (0 when not late). */
  daysLate: number;
  /** What to show: "due today", "due tomorrow", "due Dec 12", "2 days late (due Dec 3)",
   * "delivered on time", "delivered 1 day late". */
  words: string;
  late: boolean;
}

/** The due date and how late, from `due` (`YYYY-MM-DD` or RFC 3339) and, once delivered, when. */
export function dueInfo(due: string | null | undefined, now: Date = new Date(), deliveredAt?: string | null): DueInfo | null {
  // A date-only due date is that local day; a timestamp's local day is the day it is due.
  const d = parse(due && /^\d{4}-\d{2}-\d{2}T/.test(due) && !/[zZ]|[+-]\d{2}:?\d{2}$/.test(due) ? due.slice(0, 10) : due);
  if (!d) return null;
  const date = shortDate(due && /^\d{4}-\d{2}-\d{2}$/.test(due) ? due : d.toISOString(), now);
  const delivered = parse(deliveredAt);
  if (delivered) {
    const late = Math.max(0, calendarDays(d, delivered));
    return { date, daysLate: late, late: late > 0, words: late > 0 ? `delivered ${late === 1 ? '1 day' : `${late} days`} late (due ${date})` : `delivered on time (due ${date})` };
  }
  const days = calendarDays(d, now);
  if (days > 0) return { date, daysLate: days, late: true, words: `${days === 1 ? '1 day' : `${days} days`} late (due ${date})` };
  if (days === 0) return { date, daysLate: 0, late: false, words: 'due today' };
  if (days === -1) return { date, daysLate: 0, late: false, words: 'due tomorrow' };
  return { date, daysLate: 0, late: false, words: `due ${date}` };
}

export interface EstimateMove {
  from: string;
  to: string;
  /** "later", "earlier", "first estimate", "removed" or "unchanged". */
  direction: 'later' | 'earlier' | 'first' | 'removed' | 'same';
  /** "2 days later", "1 day earlier", "first estimate", … */
  words: string;
}

/** One move of the estimated delivery, in words: "Dec 3 → Dec 5, 2 days later". */
export function estimateMove(c: EstimateChange, now: Date = new Date()): EstimateMove {
  const from = c.previous ? shortDate(c.previous, now) : '—';
  const to = c.estimate ? shortDate(c.estimate, now) : '—';
  if (!c.previous && c.estimate) return { from, to, direction: 'first', words: 'first estimate' };
  if (c.previous && !c.estimate) return { from, to, direction: 'removed', words: 'estimate withdrawn' };
  const a = parse(c.previous);
  const b = parse(c.estimate);
  const days = a && b ? calendarDays(a, b) : 0;
  if (days > 0 || (days === 0 && c.later)) {
    return { from, to, direction: 'later', words: days > 0 ? `${days === 1 ? '1 day' : `${days} days`} later` : 'later' };
  }
  if (days < 0) return { from, to, direction: 'earlier', words: `${-days === 1 ? '1 day' : `${-days} days`} earlier` };
  return { from, to, direction: 'same', words: 'same day, new time' };
}

/** The courier's display name (never the slug when a name is known). */
export function courierName(s: { courier?: string | null; slug?: string | null }): string {
  return s.courier || s.slug || '—';
}

/** The order a shipment is for: "order 1234" from order_number, else order_id. */
export function orderLabel(s: Pick<ShipmentItem, 'order_number' | 'order_id'>): string | null {
  const n = s.order_number || s.order_id;
  return n ? `order ${n}` : null;
}

/** The main line of a shipment: its title, else its order, else its tracking number. */
export function shipmentHeadline(s: Pick<ShipmentItem, 'title' | 'tracking_number' | 'order_number' | 'order_id' | 'id'>): string {
  if (s.title && s.title !== s.tracking_number) return s.title;
  const order = orderLabel(s);
  if (order) return order.charAt(0).toUpperCase() + order.slice(1);
  return s.tracking_number ?? `Shipment #${s.id}`;
}

/** Only http(s) links are ever made clickable; anything else is shown as text. */
export function safeHttpUrl(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const t = raw.trim();
  if (!/^https?:\/\//i.test(t)) return null;
  try {
    const u = new URL(t);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

export interface ProofOfDelivery {
  signedBy: string | null;
  /** Photos and other links, as sent; `url` only when it is http(s). */
  links: { label: string; text: string; url: string | null }[];
  /** Other scalar fields, as sent. */
  other: [string, string][];
}

const isLinkKey = (k: string) => /url|link|photo|image|picture|href|file/i.test(k);
const words = (...parts: string[]) => parts.join(' ').replace(/_/g, ' ').replace(/\s+/g, ' ').trim();

/**
 * `proof_of_delivery` as sent (its shape is loose: an object or a list of them, with signed by, a
 * type such as "photo" or "signature" and links), flattened to what the shipment page shows.
 */
export function proofOfDelivery(pod: unknown, signedBy?: string | null): ProofOfDelivery | null {
  const out: ProofOfDelivery = { signedBy: signedBy?.trim() || null, links: [], other: [] };
  const walk = (prefix: string, key: string, v: unknown, depth: number) => {
    if (v === null || v === undefined || v === '' || depth > 5) return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        const typed = x && typeof x === 'object' && !Array.isArray(x) && typeof (x as { type?: unknown }).type === 'string';
        walk(typed ? prefix : words(prefix, key), typed ? '' : v.length > 1 ? String(i + 1) : '', x, depth + 1);
      });
      return;
    }
    if (typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const p = typeof o.type === 'string' ? words(prefix, key, o.type) : words(prefix, key);
      for (const [k, x] of Object.entries(o)) if (!(k === 'type' && typeof x === 'string')) walk(p, k, x, depth + 1);
      return;
    }
    const text = String(v);
    if (/^signed_?by$|^signer|signatory/i.test(key) && typeof v === 'string') {
      if (!out.signedBy) out.signedBy = text.trim();
      return;
    }
    if (isLinkKey(key) || /^[a-z][a-z0-9+.-]*:/i.test(text.trim()) && /^(https?|javascript|data|ftp|file|vbscript):/i.test(text.trim())) {
      const name = words(words(prefix, key).replace(/\burls?\b|\blinks?\b|\bhref\b/gi, ''));
      out.links.push({ label: name || 'link', text, url: safeHttpUrl(text) });
      return;
    }
    out.other.push([words(prefix, key) || 'value', text]);
  };
  walk('', '', pod ?? null, 0);
  if (!out.signedBy && !out.links.length && !out.other.length) return null;
  return out;
}

/** `as-webhook-version` of a delivery: "2026-07", or "legacy v4" when the header was absent. */
export function webhookVersionLabel(v: string | null | undefined): string {
  return v && v.trim() ? v.trim() : 'legacy v4';
}

/** The status bar's words for held notifications ("paused", "quiet hours until 07:00"). */
export function heldWords(held: string | null | undefined): string | null {
  if (!held) return null;
  if (/^paused$/i.test(held.trim())) return 'Notifications paused';
  return `Notifications held: ${held.trim()}`;
}

/** "2 exceptions · 1 late · 1 with no scan": what the attention list holds, by kind, most urgent first. */
export function attentionSummary(kinds: AttentionKind[]): string {
  const order: AttentionKind[] = ['exception', 'failed_attempt', 'late', 'stuck', 'waiting_for_pickup'];
  const words: Record<AttentionKind, [string, string]> = {
    exception: ['exception', 'exceptions'],
    failed_attempt: ['failed attempt', 'failed attempts'],
    late: ['late', 'late'],
    stuck: ['with no scan', 'with no scan'],
    waiting_for_pickup: ['at a pickup point', 'at a pickup point'],
  };
  const counts = new Map<AttentionKind, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return order
    .filter((k) => counts.get(k))
    .map((k) => {
      const n = counts.get(k)!;
      return `${n} ${words[k][n === 1 ? 0 : 1]}`;
    })
    .join(' · ');
}

/** No real shipment on the home page (hidden test shipments do not count: they get their own note). */
export function deskIsEmpty(d: Desk): boolean {
  return !d.attention_total && !d.arriving_today.total && !d.in_transit.total && !d.delivered_recently.total;
}

/** The desk without one shipment (archived by hand), totals adjusted; the next fetch confirms. */
export function withoutShipment(d: Desk, id: number): Desk {
  const group = (g: DeskGroup): DeskGroup => {
    const items = g.items.filter((s) => s.id !== id);
    return items.length === g.items.length ? g : { items, total: Math.max(0, g.total - 1) };
  };
  const attention = d.attention.filter((a) => a.shipment.id !== id);
  return {
    ...d,
    attention,
    attention_total: d.attention_total - (d.attention.length - attention.length),
    arriving_today: group(d.arriving_today),
    in_transit: group(d.in_transit),
    delivered_recently: group(d.delivered_recently),
  };
}
