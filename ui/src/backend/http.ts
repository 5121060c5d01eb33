// HTTP transport: same-origin fetch of /api/... (auth: the cookie `shipwatch serve` set from
// ?token=) and Server-Sent Events from /api/stream, reconnecting with backoff.
import type { ArchiveRequest } from '../generated/ArchiveRequest';
import type { LiveEvent } from '../generated/LiveEvent';
import { toSearch } from '../lib/query';
import { ApiError, type Backend, type LiveHandlers } from './types';

export type UnauthorizedHook = () => void;

async function call<T>(method: string, path: string, body?: unknown, onUnauthorized?: UnauthorizedHook): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'Cannot reach Shipwatch. Is `shipwatch serve` still running? Start it again, then reload this page.');
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401) onUnauthorized?.();
    const msg =
      data && typeof data === 'object' && typeof (data as { error?: unknown }).error === 'string'
        ? (data as { error: string }).error
        : `${method} ${path} failed with HTTP ${res.status}.`;
    throw new ApiError(res.status, msg);
  }
  return data as T;
}

/** Backoff for reconnects: 0.5 s, 1 s, 2 s, 4 s, … capped at 15 s. */
export function backoffDelay(attempt: number): number {
  return Math.min(15000, 500 * 2 ** Math.max(0, attempt));
}

const EVENT_NAMES = ['delivery', 'shipment', 'forward', 'desk', 'lagged'] as const;

export function createHttpBackend(base = '', onUnauthorized?: UnauthorizedHook): Backend {
  const get = <T>(p: string) => call<T>('GET', base + p, undefined, onUnauthorized);
  const send = <T>(m: string, p: string, b: unknown) => call<T>(m, base + p, b, onUnauthorized);
  return {
    kind: 'http',
    status: () => get('/api/status'),
    listDeliveries: (q) => get('/api/deliveries' + toSearch(q)),
    getDelivery: (id) => get(`/api/deliveries/${id}`),
    reverifyDelivery: (id, request) => send('POST', `/api/deliveries/${id}/reverify`, request),
    listShipments: (q) => get('/api/shipments' + toSearch(q)),
    getShipment: (id) => get(`/api/shipments/${id}`),
    desk: () => get('/api/desk'),
    archiveShipment: (id, archived) => send('POST', `/api/shipments/${id}/archive`, { archived } satisfies ArchiveRequest),
    removeTestData: () => send('DELETE', '/api/test-data', undefined),
    getSettings: () => get('/api/settings'),
    updateSettings: (update) => send('PUT', '/api/settings', update),
    sendTestDelivery: (request) => send('POST', '/api/test-delivery', request),
    replayDelivery: (id, request) => send('POST', `/api/deliveries/${id}/replay`, request),
    deliveryForwards: (id) => get(`/api/deliveries/${id}/forwards`),
    reverifyFailed: () => send('POST', '/api/reverify-failed', undefined),
    tunnelStatus: () => get('/api/tunnel'),
    restartTunnel: () => send('POST', '/api/tunnel/restart', undefined),
    selfTest: () => send('POST', '/api/self-test', undefined),
    subscribe(h: LiveHandlers) {
      let es: EventSource | null = null;
      let attempt = 0;
      let everConnected = false;
      let stopped = false;
      let timer: ReturnType<typeof setTimeout> | null = null;

      const connect = () => {
        if (stopped) return;
        h.onConnection(everConnected ? 'disconnected' : 'connecting');
        es = new EventSource(base + '/api/stream', { withCredentials: true });
        es.onopen = () => {
          attempt = 0;
          h.onConnection('connected');
          // Anything stored while we were away was never pushed: refetch like after a lag.
          if (everConnected) h.onEvent({ type: 'lagged', missed: 0 });
          everConnected = true;
        };
        for (const name of EVENT_NAMES) {
          es.addEventListener(name, (ev) => {
            try {
              const data = JSON.parse((ev as MessageEvent<string>).data) as LiveEvent;
              h.onEvent(data.type ? data : ({ ...(data as object), type: name } as LiveEvent));
            } catch {
              /* a malformed event is dropped; the next lagged/refetch repairs the view */
            }
          });
        }
        es.onerror = () => {
          // EventSource retries by itself on some errors and gives up on others (401, 5xx):
          // take control so the delay grows and the UI says we are down.
          es?.close();
          es = null;
          if (stopped) return;
          h.onConnection('disconnected');
          const delay = backoffDelay(attempt++);
          timer = setTimeout(() => {
            timer = null;
            // A 401 on the stream looks like any error: ask the API, which reports 401 properly.
            call('GET', base + '/api/status', undefined, onUnauthorized).catch(() => {});
            connect();
          }, delay);
        };
      };
      connect();
      return () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        es?.close();
      };
    },
  };
}
