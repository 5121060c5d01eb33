// The settings form: what changed since it was loaded, as a SettingsUpdate.
import type { SettingsUpdate } from '../generated/SettingsUpdate';
import type { SettingsView } from '../generated/SettingsView';

export interface SettingsForm {
  listen: string;
  webhook_path: string;
  /** KiB as typed; '' = default. */
  body_limit_kib: string;
  notify_tags: string[];
  quiet_enabled: boolean;
  quiet_start: string;
  quiet_end: string;
  notifications_paused: boolean;
  autostart: boolean;
  public_url: string;
  tunnel_command: string;
  /** '' = forward mode off. */
  forward_url: string;
  forward_failing: boolean;
  /** Whole days as typed; '' = keep forever. */
  retention_days: string;
  /** MB as typed; '' = no size limit. */
  retention_max_mb: string;
  /** Whole days as typed (1 to 365). */
  stuck_after_days: string;
  pickup_after_days: string;
  archive_after_days: string;
  /** Any of `late`, `stuck`, `estimate_later`. */
  alerts: string[];
  digest_enabled: boolean;
  /** Local HH:MM. */
  digest_at: string;
}

/** The alerts the clock and events can raise, with their wording. */
export const ALERTS: { value: string; label: string; help: string }[] = [
  { value: 'late', label: 'A parcel is late', help: 'past its estimated or promised delivery date and not delivered' },
  { value: 'stuck', label: 'A parcel is stuck', help: 'no courier scan for the number of days above' },
  { value: 'estimate_later', label: 'An estimate moves later', help: 'AfterShip or the courier pushed the delivery date back' },
];

const DEFAULT_ALERTS = ALERTS.map((a) => a.value);
/** The engine's defaults, for a Shipwatch older than these settings (it leaves them out). */
const DEFAULT_DAYS = { stuck_after_days: 5, pickup_after_days: 3, archive_after_days: 3 } as const;

export function formFromView(v: SettingsView): SettingsForm {
  return {
    listen: v.listen,
    webhook_path: v.webhook_path,
    body_limit_kib: String(Math.round(v.body_limit / 1024)),
    notify_tags: [...v.notify_tags],
    quiet_enabled: v.quiet_hours !== null,
    quiet_start: v.quiet_hours?.start ?? '22:00',
    quiet_end: v.quiet_hours?.end ?? '07:00',
    notifications_paused: v.notifications_paused,
    autostart: v.autostart,
    public_url: v.public_url ?? '',
    tunnel_command: v.tunnel_command ?? '',
    forward_url: v.forward_url ?? '',
    // `?? ` / `== null`: a Shipwatch older than these settings leaves them out.
    forward_failing: v.forward_failing ?? false,
    retention_days: v.retention_days == null ? '' : String(v.retention_days),
    retention_max_mb: v.retention_max_mb == null ? '' : String(v.retention_max_mb),
    stuck_after_days: String(v.stuck_after_days ?? DEFAULT_DAYS.stuck_after_days),
    pickup_after_days: String(v.pickup_after_days ?? DEFAULT_DAYS.pickup_after_days),
    archive_after_days: String(v.archive_after_days ?? DEFAULT_DAYS.archive_after_days),
    alerts: [...(v.alerts ?? DEFAULT_ALERTS)],
    digest_enabled: v.digest_at != null,
    digest_at: v.digest_at ?? '08:00',
  };
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** Only the fields that differ from `v` (absent fields stay as they are on the server). */
export function diffSettings(v: SettingsView, f: SettingsForm): SettingsUpdate {
  const u: SettingsUpdate = {};
  if (f.listen.trim() !== v.listen) u.listen = f.listen.trim();
  if (f.webhook_path.trim() !== v.webhook_path) u.webhook_path = f.webhook_path.trim();
  const kib = f.body_limit_kib.trim();
  if (kib !== String(Math.round(v.body_limit / 1024))) u.body_limit = kib === '' ? null : Math.round(Number(kib) * 1024);
  if (!sameSet(f.notify_tags, v.notify_tags)) u.notify_tags = [...f.notify_tags];
  const qh = f.quiet_enabled ? { start: f.quiet_start, end: f.quiet_end } : null;
  const cur = v.quiet_hours;
  if ((qh === null) !== (cur === null) || (qh && cur && (qh.start !== cur.start || qh.end !== cur.end))) u.quiet_hours = qh;
  if (f.notifications_paused !== v.notifications_paused) u.notifications_paused = f.notifications_paused;
  if (f.autostart !== v.autostart) u.autostart = f.autostart;
  if (f.public_url.trim() !== (v.public_url ?? '')) u.public_url = f.public_url.trim();
  if (f.tunnel_command.trim() !== (v.tunnel_command ?? '')) u.tunnel_command = f.tunnel_command.trim();
  if (f.forward_url.trim() !== (v.forward_url ?? '')) u.forward_url = f.forward_url.trim();
  if (f.forward_failing !== (v.forward_failing ?? false)) u.forward_failing = f.forward_failing;
  const days = optionalInt(f.retention_days);
  if (days !== undefined && days !== (v.retention_days ?? null)) u.retention_days = days;
  const mb = optionalInt(f.retention_max_mb);
  if (mb !== undefined && mb !== (v.retention_max_mb ?? null)) u.retention_max_mb = mb;
  for (const k of ['stuck_after_days', 'pickup_after_days', 'archive_after_days'] as const) {
    const n = dayCount(f[k]);
    if (n !== null && n !== (v[k] ?? DEFAULT_DAYS[k])) u[k] = n;
  }
  if (!sameSet(f.alerts, v.alerts ?? DEFAULT_ALERTS)) u.alerts = ALERTS.map((a) => a.value).filter((a) => f.alerts.includes(a));
  const digest = f.digest_enabled ? f.digest_at.trim() : null;
  if (digest !== (v.digest_at ?? null)) u.digest_at = digest;
  return u;
}

/** '' → null (no limit), a whole number → it, anything else → undefined (invalid: not sent). */
function optionalInt(raw: string): number | null | undefined {
  const t = raw.trim();
  if (t === '') return null;
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

/** A whole number of days from 1 to 365, else null. */
function dayCount(raw: string): number | null {
  const t = raw.trim();
  if (!/^\d{1,3}$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 && n <= 365 ? n : null;
}

/** Problems a person should fix before saving (field → message). */
export function validateForm(f: SettingsForm): Partial<Record<keyof SettingsForm, string>> {
  const e: Partial<Record<keyof SettingsForm, string>> = {};
  const listen = f.listen.trim();
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535) e.listen = 'Use host:port, e.g. 127.0.0.1:8787.';
  const path = f.webhook_path.trim();
  if (!path.startsWith('/') || /\s|\?|#/.test(path)) e.webhook_path = 'A path starting with /, e.g. /webhooks/aftership.';
  const kib = f.body_limit_kib.trim();
  if (kib !== '' && !(/^\d+$/.test(kib) && Number(kib) >= 1 && Number(kib) <= 1024 * 1024))
    e.body_limit_kib = 'A whole number of KiB (1024 = 1 MiB), or empty for the default.';
  const hm = /^([01]\d|2[0-3]):[0-5]\d$/;
  if (f.quiet_enabled && (!hm.test(f.quiet_start) || !hm.test(f.quiet_end))) e.quiet_start = 'Times as HH:MM.';
  const fwd = f.forward_url.trim();
  if (fwd) {
    try {
      const u = new URL(fwd);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') e.forward_url = 'Use an http:// or https:// URL.';
    } catch {
      e.forward_url = 'A URL, e.g. http://127.0.0.1:3000/webhooks/aftership, or empty to turn forward mode off.';
    }
  }
  const days = optionalInt(f.retention_days);
  if (days === undefined || days === 0) e.retention_days = 'A whole number of days (1 or more), or empty to keep everything.';
  const mb = optionalInt(f.retention_max_mb);
  if (mb === undefined || (mb !== null && mb < 10)) e.retention_max_mb = 'A whole number of MB (10 or more), or empty for no limit.';
  for (const k of ['stuck_after_days', 'pickup_after_days', 'archive_after_days'] as const)
    if (dayCount(f[k]) === null) e[k] = 'A whole number of days, from 1 to 365.';
  if (f.digest_enabled && !hm.test(f.digest_at.trim())) e.digest_at = 'A time as HH:MM, e.g. 08:00.';
  return e;
}

export const isEmptyUpdate = (u: SettingsUpdate) => Object.keys(u).length === 0;
