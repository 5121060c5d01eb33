// Developer tools, the pure part: subtags for test events, the last replay URL, the self-test hop
// diagram, forward markers, loud warnings, tunnel command examples.
import type { ForwardAttempt } from '../generated/ForwardAttempt';
import type { SelfTestHop } from '../generated/SelfTestHop';
import type { SelfTestResult } from '../generated/SelfTestResult';
import type { TestDeliveryRequest } from '../generated/TestDeliveryRequest';
import { KNOWN_TAGS } from './format';

// ---- subtags -------------------------------------------------------------------------------

/**
 * AfterShip subtags per tag, with the wording only where it is confirmed
 * (/work/shared/aftership-webhooks.md); the other known codes are listed without wording.
 */
const CONFIRMED: Record<string, string> = {
  Delivered_001: 'Delivered',
  Delivered_002: 'Picked up by the customer',
  Delivered_003: 'Sign by customer',
  Delivered_004: 'Delivered and received cash on delivery',
  Delivered_005: 'Delivered to neighbor',
  AvailableForPickup_001: 'Available for pickup',
  AttemptFail_001: 'Failed Attempt',
  InTransit_007: 'Departure scan',
  Exception_001: 'Exception',
  Exception_002: 'Customer moved',
  Exception_003: 'Customer refused delivery',
  Exception_004: 'Delayed (Customs clearance)',
  Exception_005: 'Delayed (External factors)',
  Exception_006: 'Held for payment',
  Exception_007: 'Incorrect Address',
  Exception_008: 'Pick up missed',
  Exception_009: 'Rejected by carrier',
  Exception_010: 'Returning to sender',
  Exception_011: 'Returned to sender',
  Exception_012: 'Shipment damage',
  Exception_013: 'Shipment lost',
  Exception_016: 'Delayed (Processing issue)',
  Exception_017: 'Delayed (Extreme weather)',
  Exception_018: 'Incorrect/missing documents',
  Exception_019: 'Delayed (Late flight)',
  Exception_020: 'Shipment cancelled',
  Exception_021: 'Shipment disposed',
};

const range = (tag: string, nums: number[]) => nums.map((n) => `${tag}_${String(n).padStart(3, '0')}`);
const seq = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

const SUBTAG_CODES: Record<string, string[]> = {
  Pending: range('Pending', seq(1, 6)),
  InfoReceived: range('InfoReceived', [1]),
  InTransit: range('InTransit', seq(1, 9)),
  OutForDelivery: range('OutForDelivery', [1, 3, 4]),
  AttemptFail: range('AttemptFail', [1, 2, 3]),
  Delivered: range('Delivered', seq(1, 5)),
  AvailableForPickup: range('AvailableForPickup', [1]),
  Exception: range('Exception', [...seq(1, 13), ...seq(16, 21)]),
  Expired: range('Expired', [1]),
};

export interface SubtagOption {
  value: string;
  /** `Delivered_002 · Picked up by the customer`, or the bare code when the wording is unconfirmed. */
  label: string;
  /** The confirmed wording, when there is one. */
  message: string | null;
}

export const TEST_TAGS: readonly string[] = KNOWN_TAGS;

/** The subtags of a tag, `_001` first (the default). An unknown tag gets just its `_001`. */
export function subtagsFor(tag: string): SubtagOption[] {
  const codes = SUBTAG_CODES[tag] ?? [`${tag}_001`];
  return codes.map((value) => {
    const message = CONFIRMED[value] ?? null;
    return { value, message, label: message ? `${value} · ${message}` : value };
  });
}

export const defaultSubtag = (tag: string) => `${tag}_001`;

/**
 * What to show for a subtag: the payload's own `subtag_message` when it has one, else AfterShip's
 * confirmed wording for the code, else nothing (the code alone says little to a merchant).
 */
export function subtagWording(subtag: string | null | undefined, message: string | null | undefined): string | null {
  if (message && message.trim()) return message;
  return (subtag && CONFIRMED[subtag]) || null;
}

export interface TestEventForm {
  tag: string;
  subtag: string;
  shape: 'v4' | 'versioned';
  target: 'receiver' | 'url';
  url: string;
}

/** The request for a test event; `error` when the form cannot be sent as is. */
export function buildTestRequest(f: TestEventForm): { request: TestDeliveryRequest; error: string | null } {
  const request: TestDeliveryRequest = { tag: f.tag, subtag: f.subtag || defaultSubtag(f.tag), shape: f.shape };
  if (f.target === 'url') {
    const err = checkTargetUrl(f.url);
    if (err) return { request, error: err };
    request.to = f.url.trim();
  }
  return { request, error: null };
}

// ---- replay --------------------------------------------------------------------------------

/** Problem with a URL typed as a replay / test / forward target, or null when it is fine. */
export function checkTargetUrl(raw: string): string | null {
  const s = raw.trim();
  if (!s) return 'Enter the URL to send it to, e.g. http://127.0.0.1:3000/webhooks/aftership.';
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'That is not a URL: it should look like http://127.0.0.1:3000/webhooks/aftership.';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'Use an http:// or https:// URL.';
  return null;
}

export const LAST_REPLAY_URL_KEY = 'shipwatch.replay.lastUrl';

export function loadLastReplayUrl(storage: Pick<Storage, 'getItem'> | null = safeLocalStorage()): string {
  try {
    return storage?.getItem(LAST_REPLAY_URL_KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveLastReplayUrl(url: string, storage: Pick<Storage, 'setItem'> | null = safeLocalStorage()) {
  try {
    storage?.setItem(LAST_REPLAY_URL_KEY, url.trim());
  } catch {
    /* private mode: nothing to remember with */
  }
}

function safeLocalStorage(): Storage | null {
  try {
    return typeof localStorage !== 'undefined' ? localStorage : null;
  } catch {
    return null;
  }
}

// ---- self-test hop diagram ------------------------------------------------------------------

export type HopNodeId = 'shipwatch' | 'public' | 'tunnel' | 'back';
export type HopState = 'ok' | 'fail' | 'skipped' | 'idle';

export interface HopNode {
  id: HopNodeId;
  label: string;
  detail: string;
  state: HopState;
}

/** Which node a failed hop is drawn on. */
export const HOP_NODE: Record<SelfTestHop, HopNodeId | null> = {
  ok: null,
  no_public_url: 'shipwatch',
  dns: 'public',
  connect: 'public',
  tls: 'public',
  timeout: 'tunnel',
  tunnel_down: 'tunnel',
  wrong_path: 'back',
  rejected: 'back',
  not_arrived: 'back',
  body_altered: 'back',
};

/** A short name of what failed, for the headline. */
export const HOP_TITLE: Record<SelfTestHop, string> = {
  ok: 'Arrived byte-exact with a valid signature',
  no_public_url: 'No public URL set',
  dns: 'DNS: the public hostname does not resolve',
  connect: 'Connect: nothing answers at the public URL',
  tls: 'TLS: the HTTPS handshake failed',
  timeout: 'Timeout: no answer in time',
  tunnel_down: 'Tunnel down: the tunnel answered 502/503/504',
  wrong_path: 'Wrong path: 404 at the public URL',
  rejected: 'Rejected: our receiver did not answer 200',
  not_arrived: 'Not arrived: something else answered 200',
  body_altered: 'Body altered: a proxy changed the body on the way',
};

const NODES: { id: HopNodeId; label: string; detail: string }[] = [
  { id: 'shipwatch', label: 'Shipwatch', detail: 'signs a sample' },
  { id: 'public', label: 'Public URL', detail: 'DNS · connect · TLS' },
  { id: 'tunnel', label: 'Tunnel', detail: 'forwards to the receiver' },
  { id: 'back', label: 'Back to Shipwatch', detail: 'path · signature · bytes' },
];

/** The four nodes of the path a self-test takes, each ok / failed / not reached (or idle before a run). */
export function hopDiagram(result: Pick<SelfTestResult, 'hop'> | null): HopNode[] {
  if (!result) return NODES.map((n) => ({ ...n, state: 'idle' }));
  const failAt = HOP_NODE[result.hop];
  const idx = failAt === null ? NODES.length : NODES.findIndex((n) => n.id === failAt);
  return NODES.map((n, i) => ({ ...n, state: i < idx ? 'ok' : i === idx ? 'fail' : 'skipped' }));
}

// ---- forward markers ------------------------------------------------------------------------

export type ForwardKind = 'delivered' | 'retrying' | 'gave_up' | 'pending';

export interface ForwardMarker {
  kind: ForwardKind;
  icon: string;
  /** For the title attribute: what the target said. */
  title: string;
}

function fwdKind(state: string): ForwardKind {
  return state === 'delivered' || state === 'retrying' || state === 'gave_up' ? state : 'pending';
}

export function forwardMarker(a: ForwardAttempt): ForwardMarker {
  const kind = fwdKind(a.state);
  const answered = a.status !== null ? `answered ${a.status}` : a.error ? a.error : 'no answer';
  const tries = a.attempts === 1 ? '1 attempt' : `${a.attempts} attempts`;
  const rt = a.round_trip_ms !== null ? ` in ${a.round_trip_ms} ms` : '';
  let title: string;
  switch (kind) {
    case 'delivered':
      title = `Forwarded to ${a.target}: ${answered}${rt}`;
      break;
    case 'retrying':
      title = `Forwarding to ${a.target} failed (${answered}, ${tries}); retrying${a.next_attempt_at ? ' at ' + a.next_attempt_at : ''}`;
      break;
    case 'gave_up':
      title = `Gave up forwarding to ${a.target} after ${tries}: ${answered}`;
      break;
    default:
      title = `Queued for forwarding to ${a.target}`;
  }
  const icon = kind === 'delivered' ? '✓' : kind === 'retrying' ? '↻' : kind === 'gave_up' ? '✗' : '…';
  return { kind, icon, title };
}

/** Is `b` the same or a later state of a delivery's forwarding than `a`? */
export function isNewerAttempt(a: ForwardAttempt, b: ForwardAttempt): boolean {
  if (b.attempts !== a.attempts) return b.attempts > a.attempts;
  const ta = a.last_attempt_at ? Date.parse(a.last_attempt_at) : 0;
  const tb = b.last_attempt_at ? Date.parse(b.last_attempt_at) : 0;
  if (tb !== ta) return tb > ta;
  // Same attempt: a final state beats `pending`/`retrying`.
  return fwdKind(a.state) === 'pending' || fwdKind(b.state) !== 'pending';
}

/** The newest attempt per delivery after a batch of live events; returns `prev` when nothing changed. */
export function mergeForwards(prev: ReadonlyMap<number, ForwardAttempt>, batch: ForwardAttempt[]): ReadonlyMap<number, ForwardAttempt> {
  let next: Map<number, ForwardAttempt> | null = null;
  for (const a of batch) {
    const cur = (next ?? prev).get(a.delivery_id);
    if (cur && !isNewerAttempt(cur, a)) continue;
    next ??= new Map(prev);
    next.set(a.delivery_id, a);
  }
  return next ?? prev;
}

// ---- warnings -------------------------------------------------------------------------------

export type LoudKind = 'url_changed' | 'offline';

/** The status warnings that mean AfterShip's retries may be lost: shown as a banner, not just in the bar. */
export function loudWarningKind(w: string): LoudKind | null {
  if (/public url.*chang|url.*changed since|changed since the last delivery/i.test(w)) return 'url_changed';
  if (/offline|not receiving|was not running|was down|receiver was stopped/i.test(w)) return 'offline';
  return null;
}

// ---- tunnel ---------------------------------------------------------------------------------

/** Example tunnel commands for the settings (Shipwatch replaces `{port}` with the receiver's port). */
export const TUNNEL_COMMAND_EXAMPLES = ['cloudflared tunnel --url http://127.0.0.1:{port}', 'ngrok http {port} --log stdout'];

export type TunnelKind = 'ok' | 'warn' | 'bad' | 'off';

export function tunnelStateKind(state: string): TunnelKind {
  switch (state) {
    case 'running':
      return 'ok';
    case 'starting':
    case 'restarting':
      return 'warn';
    case 'stopped':
      return 'bad';
    default:
      return 'off';
  }
}
