import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const listen = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: (...a: unknown[]) => listen(...a) }));

import { createHttpBackend } from '../src/backend/http';
import { createTauriBackend } from '../src/backend/tauri';
import { ApiError, errorMessage } from '../src/backend/types';

describe('Tauri backend: command names and argument shapes from docs/api.md', () => {
  beforeEach(() => {
    invoke.mockReset();
    invoke.mockResolvedValue({ ok: true });
  });
  it('calls each command with exactly its arguments', async () => {
    const b = createTauriBackend();
    await b.status();
    await b.listDeliveries({ verdict: 'failed', limit: 100 });
    await b.getDelivery(12);
    await b.reverifyDelivery(12, { secret: 's' });
    await b.listShipments({ tag: 'Delivered' });
    await b.getShipment(3);
    await b.getSettings();
    await b.updateSettings({ public_url: 'https://x' });
    await b.sendTestDelivery({});
    await b.notificationLog!();
    await b.replayDelivery(12, { to: 'http://127.0.0.1:9/x', resign: true });
    await b.deliveryForwards(12);
    await b.reverifyFailed();
    await b.tunnelStatus();
    await b.restartTunnel();
    await b.selfTest();
    await b.sendTestDelivery({ tag: 'Delivered', subtag: 'Delivered_002', shape: 'versioned' });
    await b.desk();
    await b.archiveShipment(3, true);
    await b.archiveShipment(3, false);
    await b.removeTestData();
    expect(invoke.mock.calls).toEqual([
      ['status', undefined],
      ['list_deliveries', { query: { verdict: 'failed', limit: 100 } }],
      ['get_delivery', { id: 12 }],
      ['reverify_delivery', { id: 12, request: { secret: 's' } }],
      ['list_shipments', { query: { tag: 'Delivered' } }],
      ['get_shipment', { id: 3 }],
      ['get_settings', undefined],
      ['update_settings', { update: { public_url: 'https://x' } }],
      ['send_test_delivery', { request: {} }],
      ['notification_log', undefined],
      ['replay_delivery', { id: 12, request: { to: 'http://127.0.0.1:9/x', resign: true } }],
      ['delivery_forwards', { id: 12 }],
      ['reverify_failed', undefined],
      ['tunnel_status', undefined],
      ['restart_tunnel', undefined],
      ['self_test', undefined],
      ['send_test_delivery', { request: { tag: 'Delivered', subtag: 'Delivered_002', shape: 'versioned' } }],
      ['desk', undefined],
      ['archive_shipment', { id: 3, archived: true }],
      ['archive_shipment', { id: 3, archived: false }],
      ['remove_test_data', undefined],
    ]);
  });
  it('turns a command error body into an ApiError with its message', async () => {
    invoke.mockRejectedValueOnce({ error: 'no such delivery: 99' });
    await expect(createTauriBackend().getDelivery(99)).rejects.toMatchObject({ message: 'no such delivery: 99' });
    invoke.mockRejectedValueOnce('plain string');
    await expect(createTauriBackend().status()).rejects.toBeInstanceOf(ApiError);
  });
  it('listens to the `live` event and unlistens', async () => {
    const unlisten = vi.fn();
    let handler: ((e: { payload: unknown }) => void) | null = null;
    const names: string[] = [];
    listen.mockImplementation(async (name: string, h: (e: { payload: unknown }) => void) => {
      names.push(name);
      if (name === 'live') handler = h;
      return unlisten;
    });
    const events: unknown[] = [];
    const states: string[] = [];
    const stop = createTauriBackend().subscribe({ onEvent: (e) => events.push(e), onConnection: (s) => states.push(s) });
    await Promise.resolve();
    await Promise.resolve();
    handler!({ payload: { type: 'lagged', missed: 3 } });
    expect(events).toEqual([{ type: 'lagged', missed: 3 }]);
    expect(states).toEqual(['connecting', 'connected']);
    expect(names.sort()).toEqual(['live', 'open-shipment']);
    stop();
    expect(unlisten).toHaveBeenCalledTimes(2);
  });
});

class FakeEventSource {
  static all: FakeEventSource[] = [];
  url: string;
  closed = false;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  listeners = new Map<string, (e: { data: string }) => void>();
  constructor(url: string) {
    this.url = url;
    FakeEventSource.all.push(this);
  }
  addEventListener(name: string, fn: (e: { data: string }) => void) {
    this.listeners.set(name, fn);
  }
  close() {
    this.closed = true;
  }
  emit(name: string, data: unknown) {
    this.listeners.get(name)?.({ data: JSON.stringify(data) });
  }
}

describe('HTTP backend', () => {
  const fetchMock = vi.fn();
  beforeEach(() => {
    fetchMock.mockReset();
    vi.stubGlobal('fetch', fetchMock);
    vi.stubGlobal('EventSource', FakeEventSource);
    FakeEventSource.all = [];
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });
  const json = (status: number, body: unknown) => ({ ok: status < 400, status, text: async () => JSON.stringify(body) });

  it('maps calls to /api paths and methods', async () => {
    fetchMock.mockResolvedValue(json(200, {}));
    const b = createHttpBackend();
    await b.listDeliveries({ verdict: 'failed', q: 'a b', limit: 100, before: '42' });
    await b.reverifyDelivery(7, { secret: 's' });
    await b.updateSettings({ secret: '' });
    await b.listShipments({});
    await b.sendTestDelivery({ tag: 'Delivered' });
    await b.replayDelivery(7, { body: '{}', resign: true });
    await b.deliveryForwards(7);
    await b.reverifyFailed();
    await b.tunnelStatus();
    await b.restartTunnel();
    await b.selfTest();
    await b.desk();
    await b.archiveShipment(5, true);
    await b.removeTestData();
    const calls = fetchMock.mock.calls.map(([url, init]) => [url, init.method, init.body]);
    expect(calls).toEqual([
      ['/api/deliveries?verdict=failed&q=a+b&limit=100&before=42', 'GET', undefined],
      ['/api/deliveries/7/reverify', 'POST', '{"secret":"s"}'],
      ['/api/settings', 'PUT', '{"secret":""}'],
      ['/api/shipments', 'GET', undefined],
      ['/api/test-delivery', 'POST', '{"tag":"Delivered"}'],
      ['/api/deliveries/7/replay', 'POST', '{"body":"{}","resign":true}'],
      ['/api/deliveries/7/forwards', 'GET', undefined],
      ['/api/reverify-failed', 'POST', undefined],
      ['/api/tunnel', 'GET', undefined],
      ['/api/tunnel/restart', 'POST', undefined],
      ['/api/self-test', 'POST', undefined],
      ['/api/desk', 'GET', undefined],
      ['/api/shipments/5/archive', 'POST', '{"archived":true}'],
      ['/api/test-data', 'DELETE', undefined],
    ]);
    expect(fetchMock.mock.calls[0][1].credentials).toBe('same-origin');
  });

  it('reports the server message, and 401 to the app', async () => {
    const onUnauthorized = vi.fn();
    fetchMock.mockResolvedValueOnce(json(404, { error: 'no delivery 9: it may have been pruned' }));
    const b = createHttpBackend('', onUnauthorized);
    await expect(b.getDelivery(9)).rejects.toMatchObject({ status: 404, message: 'no delivery 9: it may have been pruned' });
    fetchMock.mockResolvedValueOnce(json(401, { error: 'token required' }));
    await expect(b.status()).rejects.toMatchObject({ status: 401, unauthorized: true });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    fetchMock.mockRejectedValueOnce(new TypeError('Failed to fetch'));
    const e = await b.status().catch((x) => x);
    expect(e.status).toBe(0);
    expect(errorMessage(e)).toMatch(/shipwatch serve/);
  });

  it('streams live events and reconnects with backoff, refetching after a gap', async () => {
    vi.useFakeTimers();
    fetchMock.mockResolvedValue(json(200, {}));
    const events: unknown[] = [];
    const states: string[] = [];
    const stop = createHttpBackend().subscribe({ onEvent: (e) => events.push(e), onConnection: (s) => states.push(s) });
    const es1 = FakeEventSource.all[0];
    expect(es1.url).toBe('/api/stream');
    es1.onopen!();
    es1.emit('delivery', { type: 'delivery', delivery: { id: 1 } });
    es1.emit('shipment', { type: 'shipment', shipment: { id: 2 } });
    es1.emit('forward', { type: 'forward', forward: { delivery_id: 1, state: 'delivered' } });
    es1.emit('desk', { type: 'desk' });
    expect(events).toEqual([
      { type: 'delivery', delivery: { id: 1 } },
      { type: 'shipment', shipment: { id: 2 } },
      { type: 'forward', forward: { delivery_id: 1, state: 'delivered' } },
      { type: 'desk' },
    ]);
    es1.onerror!();
    expect(es1.closed).toBe(true);
    expect(states).toEqual(['connecting', 'connected', 'disconnected']);
    vi.advanceTimersByTime(499);
    expect(FakeEventSource.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeEventSource.all).toHaveLength(2);
    const es2 = FakeEventSource.all[1];
    es2.onerror!();
    vi.advanceTimersByTime(999);
    expect(FakeEventSource.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    const es3 = FakeEventSource.all[2];
    es3.onopen!();
    expect(states.at(-1)).toBe('connected');
    // Whatever happened while away was never pushed: the views refetch.
    expect(events.at(-1)).toEqual({ type: 'lagged', missed: 0 });
    stop();
    expect(es3.closed).toBe(true);
  });
});
