// Formatting for people: times, sizes, tags, verdicts.
import type { DiagnosisCode } from '../generated/DiagnosisCode';
import type { Verdict } from '../generated/Verdict';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function validDate(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return isNaN(d.getTime()) ? null : d;
}

/** Compact local time for a list row: "14:03:22" today, "Jan 3 14:03" this year, else "2024-01-03 14:03". */
export function formatListTime(iso: string, now: Date = new Date()): string {
  const d = validDate(iso);
  if (!d) return iso;
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate())
    return hms;
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.getFullYear() === now.getFullYear()) return `${MONTHS[d.getMonth()]} ${d.getDate()} ${hm}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

/** Full local time with milliseconds: "2024-01-03 14:03:22.123". */
export function formatFullTime(iso: string): string {
  const d = validDate(iso);
  if (!d) return iso;
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 days ago". */
export function relativeTime(iso: string, now: Date = new Date()): string {
  const d = validDate(iso);
  if (!d) return '';
  const s = Math.round((now.getTime() - d.getTime()) / 1000);
  if (s < -5) return 'in the future';
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  const days = Math.floor(h / 24);
  return `${days} days ago`;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

const COUNT = new Intl.NumberFormat('en-US');
export function formatCount(n: number): string {
  return COUNT.format(n);
}

/**
 * A date as AfterShip sent it (checkpoint_time, expected_delivery): empty, "YYYY-MM-DD",
 * a local "YYYY-MM-DDTHH:MM:SS" (the checkpoint's own local time) or one with an offset.
 * Shown in the time it was given in, never converted: the courier's local time is what matters.
 */
export function formatSentDate(raw: string | null | undefined): string {
  if (!raw || !raw.trim()) return '—';
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/.exec(
    raw.trim(),
  );
  if (!m) return raw;
  const [, y, mo, da, hh, mi, , zone] = m;
  const month = MONTHS[Number(mo) - 1];
  if (!month) return raw;
  const date = `${month} ${Number(da)}, ${y}`;
  if (hh === undefined) return date;
  let z = '';
  if (zone === 'Z') z = ' UTC';
  else if (zone) z = ` (UTC${zone.length === 5 ? zone.slice(0, 3) + ':' + zone.slice(3) : zone})`;
  return `${date} ${hh}:${mi}${z}`;
}

/** Sort key for a sent date (lenient), or null. */
export function sentDateValue(raw: string | null | undefined): number | null {
  if (!raw) return null;
  const t = Date.parse(raw.length === 10 ? raw + 'T00:00:00' : raw);
  return isNaN(t) ? null : t;
}

export const KNOWN_TAGS = [
  'Pending',
  'InfoReceived',
  'InTransit',
  'OutForDelivery',
  'AttemptFail',
  'Delivered',
  'AvailableForPickup',
  'Exception',
  'Expired',
] as const;

const TAG_LABELS: Record<string, string> = {
  Pending: 'Pending',
  InfoReceived: 'Info received',
  InTransit: 'In transit',
  OutForDelivery: 'Out for delivery',
  AttemptFail: 'Failed attempt',
  Delivered: 'Delivered',
  AvailableForPickup: 'Available for pickup',
  Exception: 'Exception',
  Expired: 'Expired',
};

export function tagLabel(tag: string | null | undefined): string {
  if (!tag) return 'No tag';
  return TAG_LABELS[tag] ?? tag;
}

/** CSS class that sets a tag's colour (`--c`); unknown tags get a neutral one. */
export function tagColor(tag: string | null | undefined): string {
  if (tag && tag in TAG_LABELS) return `tc-${tag.toLowerCase()}`;
  return 'tc-unknown';
}

/** CSS classes of a tag badge. */
export function tagClass(tag: string | null | undefined): string {
  return `tag ${tagColor(tag)}`;
}

export type VerdictKind = 'pass' | 'fail' | 'warn';

export interface VerdictInfo {
  kind: VerdictKind;
  /** Badge text. */
  short: string;
  /** Headline. */
  long: string;
}

export function verdictInfo(v: Verdict): VerdictInfo {
  switch (v) {
    case 'valid':
      return { kind: 'pass', short: 'pass', long: 'Signature valid' };
    case 'unverified':
      return { kind: 'warn', short: 'unverified', long: 'Not verified: no secret configured' };
    case 'invalid':
      return { kind: 'fail', short: 'fail', long: 'Signature does not match' };
    case 'missing':
      return { kind: 'fail', short: 'fail', long: 'Signature header missing' };
    case 'malformed':
      return { kind: 'fail', short: 'fail', long: 'Signature header malformed' };
    case 'too_large':
      return { kind: 'fail', short: 'too big', long: 'Body over the size limit' };
    default:
      return { kind: 'warn', short: String(v), long: String(v) };
  }
}

/**
 * A few words per diagnosis code, as the terminal (`shipwatch serve`) prints them: the short form
 * of the sentence on the delivery page (signature.rs, `DiagnosisCode::label`).
 */
export const DIAGNOSIS_LABELS: Record<DiagnosisCode, string> = {
  valid_current: 'current secret',
  valid_previous: 'previous secret',
  unverified_no_secret: 'no secret set',
  missing_header: 'no signature header',
  returns_or_warranty_product: 'Returns/Warranty webhook',
  shipping_product: 'Shipping webhook',
  renamed_header: 'renamed header',
  empty_header: 'empty header',
  quoted_header: 'quoted header',
  prefixed_header: 'prefixed header',
  hex_signature: 'hex signature',
  base64url_signature: 'base64url signature',
  unpadded_signature: 'unpadded signature',
  wrong_length: 'not HMAC-SHA256',
  not_base64: 'not base64',
  trailing_newline: 'trailing newline added',
  missing_newline: 'final newline removed',
  crlf_body: 'CRLF line endings',
  lf_body: 'LF line endings',
  reserialised_body: 're-serialised body',
  secret_whitespace: 'secret has whitespace',
  secret_decoded: 'decoded secret',
  empty_body: 'empty body',
  compressed_body: 'compressed body',
  wrong_secret: 'wrong secret',
  too_large: 'too large',
};

/** The diagnosis codes of deliveries that passed (valid or unverified); every other one failed. */
export const PASSING_DIAGNOSES: readonly DiagnosisCode[] = ['valid_current', 'valid_previous', 'unverified_no_secret'];

/** "wrong secret" for `wrong_secret`; a code this UI does not know is shown as it is. */
export function diagnosisLabel(code: string): string {
  return (DIAGNOSIS_LABELS as Record<string, string>)[code] ?? code.replace(/_/g, ' ');
}

export function statusKind(status: number): 'ok' | 'client' | 'server' {
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 500) return 'server';
  return 'client';
}

/** "tracking_update" → "tracking update". */
export function eventLabel(event: string | null | undefined): string {
  if (!event) return '—';
  return event.replace(/_/g, ' ');
}

export function plural(n: number, one: string, many = one + 's'): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}
