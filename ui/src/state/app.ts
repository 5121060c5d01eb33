// App-wide state: the backend, the route, the status bar, the live connection, toasts.
import { signal } from '@preact/signals';
import { createBackend, errorMessage, type Backend, type ConnectionState } from '../backend';
import type { LiveEvent } from '../generated/LiveEvent';
import type { Status } from '../generated/Status';
import { createBatcher, throttle } from '../lib/batch';
import type { DeliveryItem } from '../generated/DeliveryItem';
import { formatRoute, parseHash, type Route } from '../lib/router';

let backend: Backend | null = null;

/** The backend; only valid after `start()` resolved. */
export function api(): Backend {
  if (!backend) throw new Error('backend not started');
  return backend;
}

export const route = signal<Route>(parseHash(typeof location !== 'undefined' ? location.hash : ''));
export const status = signal<Status | null>(null);
export const statusError = signal<string | null>(null);
export const connection = signal<ConnectionState>('connecting');
export const unauthorized = signal(false);
export const ready = signal(false);
export const toast = signal<{ text: string; kind: 'ok' | 'error'; seq: number } | null>(null);

let toastSeq = 0;
let toastTimer: ReturnType<typeof setTimeout> | null = null;
export function showToast(text: string, kind: 'ok' | 'error' = 'ok') {
  toast.value = { text, kind, seq: ++toastSeq };
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (toast.value = null), kind === 'error' ? 6000 : 2200);
}

export function navigate(r: Route | string, replace = false) {
  const hash = typeof r === 'string' ? r : formatRoute(r);
  if (replace) {
    history.replaceState(null, '', hash);
    route.value = parseHash(hash);
  } else if (location.hash !== hash) {
    location.hash = hash;
  }
}

/** Back to where the user came from inside the app, else to `fallback`. */
let inAppNavs = 0;
export function goBack(fallback: string) {
  if (inAppNavs > 0) history.back();
  else navigate(fallback);
}

// ---- live events -------------------------------------------------------------------------

type LiveListener = (e: LiveEvent) => void;
const listeners = new Set<LiveListener>();

/** Subscribe to every live event (deliveries, shipments, lagged). */
export function onLive(fn: LiveListener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export async function refreshStatus(): Promise<void> {
  try {
    status.value = await api().status();
    statusError.value = null;
  } catch (e) {
    statusError.value = errorMessage(e);
  }
}

const refreshStatusSoon = throttle(() => void refreshStatus(), 1000);

/** The status bar counts new deliveries at once (one update per frame); the refresh that follows
 * corrects anything counted twice. */
const countLater = createBatcher<DeliveryItem>((batch) => {
  const s = status.value;
  if (!s) return;
  // Like the server's failures_today: signature failures only (not too_large).
  const failed = batch.filter((d) => d.verdict === 'invalid' || d.verdict === 'missing' || d.verdict === 'malformed').length;
  status.value = {
    ...s,
    deliveries_today: s.deliveries_today + batch.length,
    deliveries_total: s.deliveries_total + batch.length,
    failures_today: s.failures_today + failed,
    last_delivery_at: batch[batch.length - 1].received_at,
  };
});

export async function start(): Promise<void> {
  backend = await createBackend(() => (unauthorized.value = true));
  window.addEventListener('hashchange', () => {
    inAppNavs++;
    route.value = parseHash(location.hash);
  });
  await refreshStatus();
  ready.value = true;
  backend.subscribe({
    onEvent(e) {
      if (e.type === 'delivery') countLater.push(e.delivery);
      // The attention count moves with shipments and the desk's clock.
      if (e.type === 'delivery' || e.type === 'shipment' || e.type === 'desk' || e.type === 'lagged') refreshStatusSoon();
      for (const l of listeners) l(e);
    },
    onConnection(s) {
      connection.value = s;
      // Connected: counts may have moved while away. Disconnected: find out whether Shipwatch is gone.
      if (s === 'connected' || s === 'disconnected') refreshStatusSoon();
    },
  });
  // The receiver's state and warnings are not pushed: a slow refresh keeps the status bar honest.
  setInterval(() => void refreshStatus(), 10000);
}

/** Setup is needed while there is no secret or no public URL. */
export function needsSetup(s: Status | null): boolean {
  return !!s && (!s.secret_configured || !s.public_url);
}
