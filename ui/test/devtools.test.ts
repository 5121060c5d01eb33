import { describe, expect, it } from 'vitest';
import type { ForwardAttempt } from '../src/generated/ForwardAttempt';
import type { SelfTestHop } from '../src/generated/SelfTestHop';
import {
  buildTestRequest,
  checkTargetUrl,
  defaultSubtag,
  forwardMarker,
  HOP_NODE,
  HOP_TITLE,
  hopDiagram,
  LAST_REPLAY_URL_KEY,
  loadLastReplayUrl,
  loudWarningKind,
  mergeForwards,
  saveLastReplayUrl,
  subtagsFor,
  subtagWording,
  TEST_TAGS,
  tunnelStateKind,
  TUNNEL_COMMAND_EXAMPLES,
} from '../src/lib/devtools';
import { diffSettings, formFromView, validateForm } from '../src/lib/settings';
import type { SettingsView } from '../src/generated/SettingsView';

describe('self-test hop diagram', () => {
  const states = (hop: SelfTestHop) => hopDiagram({ hop }).map((n) => `${n.id}:${n.state}`);
  it('is idle before a run and all ok on success', () => {
    expect(hopDiagram(null).map((n) => n.state)).toEqual(['idle', 'idle', 'idle', 'idle']);
    expect(states('ok')).toEqual(['shipwatch:ok', 'public:ok', 'tunnel:ok', 'back:ok']);
  });
  it('marks the failed hop, the ones before ok and the ones after not reached', () => {
    expect(states('no_public_url')).toEqual(['shipwatch:fail', 'public:skipped', 'tunnel:skipped', 'back:skipped']);
    for (const h of ['dns', 'connect', 'tls'] as const) expect(states(h)).toEqual(['shipwatch:ok', 'public:fail', 'tunnel:skipped', 'back:skipped']);
    for (const h of ['tunnel_down', 'timeout'] as const) expect(states(h)).toEqual(['shipwatch:ok', 'public:ok', 'tunnel:fail', 'back:skipped']);
    for (const h of ['wrong_path', 'rejected', 'not_arrived', 'body_altered'] as const)
      expect(states(h)).toEqual(['shipwatch:ok', 'public:ok', 'tunnel:ok', 'back:fail']);
  });
  it('has a node and a headline for every hop of the contract', () => {
    const hops: SelfTestHop[] = ['ok', 'no_public_url', 'dns', 'connect', 'tls', 'timeout', 'tunnel_down', 'wrong_path', 'rejected', 'not_arrived', 'body_altered'];
    for (const h of hops) {
      expect(h in HOP_NODE).toBe(true);
      expect(HOP_TITLE[h]).toBeTruthy();
      expect(hopDiagram({ hop: h }).filter((n) => n.state === 'fail').length).toBe(h === 'ok' ? 0 : 1);
    }
    expect(HOP_TITLE.body_altered).toMatch(/proxy changed the body/);
  });
});

describe('replay', () => {
  it('remembers the last URL', () => {
    const m = new Map<string, string>();
    const st = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
    expect(loadLastReplayUrl(st)).toBe('');
    saveLastReplayUrl(' http://127.0.0.1:9/x ', st);
    expect(m.get(LAST_REPLAY_URL_KEY)).toBe('http://127.0.0.1:9/x');
    expect(loadLastReplayUrl(st)).toBe('http://127.0.0.1:9/x');
    expect(loadLastReplayUrl({ getItem: () => { throw new Error('denied'); } })).toBe('');
  });
  it('checks target URLs', () => {
    expect(checkTargetUrl('https://example.com/hook')).toBeNull();
    expect(checkTargetUrl('  ')).toMatch(/Enter/);
  });
});

describe('test event subtags', () => {
  it('every tag has subtags, `_001` first (the default)', () => {
    for (const t of TEST_TAGS) {
      const s = subtagsFor(t);
      expect(s.length).toBeGreaterThan(0);
      expect(s[0].value).toBe(defaultSubtag(t));
      expect(s.every((x) => x.value.startsWith(t + '_'))).toBe(true);
    }
  });
  it('words a subtag: the payload first, else the confirmed wording, else nothing', () => {
    expect(subtagWording('Exception_004', 'Held at customs (courier)')).toBe('Held at customs (courier)');
    expect(subtagWording('Exception_004', null)).toBe('Delayed (Customs clearance)');
    expect(subtagWording('Exception_004', '  ')).toBe('Delayed (Customs clearance)');
    expect(subtagWording('InTransit_003', null)).toBeNull();
    expect(subtagWording(null, null)).toBeNull();
  });
    it('uses only the confirmed wording', () => {
    const d = subtagsFor('Delivered');
    expect(d.map((x) => x.value)).toEqual(['Delivered_001', 'Delivered_002', 'Delivered_003', 'Delivered_004', 'Delivered_005']);
    expect(d[1].label).toBe('Delivered_002 · Picked up by the customer');
    const ex = subtagsFor('Exception').map((x) => x.value);
    expect(ex).toContain('Exception_013');
    expect(ex).not.toContain('Exception_014');
    expect(ex).toContain('Exception_021');
    expect(subtagsFor('Exception').find((x) => x.value === 'Exception_011')?.message).toBe('Returned to sender');
    const it7 = subtagsFor('InTransit');
    expect(it7).toHaveLength(9);
    expect(it7.find((x) => x.value === 'InTransit_007')?.message).toBe('Departure scan');
    expect(it7.find((x) => x.value === 'InTransit_003')).toEqual({ value: 'InTransit_003', label: 'InTransit_003', message: null });
    expect(subtagsFor('OutForDelivery').map((x) => x.value)).toEqual(['OutForDelivery_001', 'OutForDelivery_003', 'OutForDelivery_004']);
    expect(subtagsFor('Somethingnew')).toEqual([{ value: 'Somethingnew_001', label: 'Somethingnew_001', message: null }]);
  });
  it('builds the request: our receiver by default, `to` for a URL', () => {
    const f = { tag: 'Exception', subtag: 'Exception_007', shape: 'versioned' as const, target: 'receiver' as const, url: 'http://ignored' };
    expect(buildTestRequest(f)).toEqual({ request: { tag: 'Exception', subtag: 'Exception_007', shape: 'versioned' }, error: null });
    expect(buildTestRequest({ ...f, subtag: '' }).request.subtag).toBe('Exception_001');
    expect(buildTestRequest({ ...f, target: 'url', url: 'http://127.0.0.1:5/x' }).request.to).toBe('http://127.0.0.1:5/x');
    expect(buildTestRequest({ ...f, target: 'url', url: '' }).error).toBeTruthy();
  });
});

describe('forward markers', () => {
  const a = (p: Partial<ForwardAttempt>): ForwardAttempt => ({
    delivery_id: 1,
    target: 'http://127.0.0.1:3000/hook',
    state: 'pending',
    attempts: 0,
    status: null,
    error: null,
    last_attempt_at: null,
    next_attempt_at: null,
    round_trip_ms: null,
    ...p,
  });
  it('✓ delivered, ↻ retrying, ✗ gave up, with the target status in the title', () => {
    const d = forwardMarker(a({ state: 'delivered', attempts: 1, status: 204, round_trip_ms: 12 }));
    expect(d).toEqual({ kind: 'delivered', icon: '✓', title: 'Forwarded to http://127.0.0.1:3000/hook: answered 204 in 12 ms' });
    const r = forwardMarker(a({ state: 'retrying', attempts: 2, status: 503, next_attempt_at: '2026-01-01T00:00:02Z' }));
    expect(r.icon).toBe('↻');
    expect(r.title).toMatch(/answered 503, 2 attempts\); retrying at 2026-01-01T00:00:02Z/);
    const c = forwardMarker(a({ state: 'retrying', attempts: 1, error: 'connect: connection refused' }));
    expect(c.title).toMatch(/connection refused/);
    const g = forwardMarker(a({ state: 'gave_up', attempts: 40, status: 500 }));
    expect([g.kind, g.icon]).toEqual(['gave_up', '✗']);
    expect(g.title).toMatch(/after 40 attempts: answered 500/);
    expect(forwardMarker(a({ state: 'weird' })).kind).toBe('pending');
  });
  it('keeps the newest attempt per delivery; returns the same map when nothing changed', () => {
    const m0 = new Map<number, ForwardAttempt>();
    const m1 = mergeForwards(m0, [a({ state: 'pending' }), a({ delivery_id: 2, state: 'retrying', attempts: 1, last_attempt_at: '2026-01-01T00:00:00Z' })]);
    expect(m1).not.toBe(m0);
    expect(m1.get(1)?.state).toBe('pending');
    const m2 = mergeForwards(m1, [
      a({ delivery_id: 2, state: 'delivered', attempts: 2, status: 200, last_attempt_at: '2026-01-01T00:00:01Z' }),
      // An older event arriving late changes nothing.
      a({ delivery_id: 2, state: 'retrying', attempts: 1, last_attempt_at: '2026-01-01T00:00:00Z' }),
      a({ state: 'delivered', attempts: 1, status: 200, last_attempt_at: '2026-01-01T00:00:00Z' }),
    ]);
    expect(m2.get(2)?.state).toBe('delivered');
    expect(m2.get(1)?.state).toBe('delivered');
    expect(mergeForwards(m2, [a({ delivery_id: 2, state: 'retrying', attempts: 1 })])).toBe(m2);
  });
});

describe('warnings, tunnel', () => {
  it('picks out the warnings that lose AfterShip retries', () => {
    expect(loudWarningKind('The public URL changed since the last delivery (was https://a.trycloudflare.com)')).toBe('url_changed');
    expect(loudWarningKind('The receiver was offline from 10:00 to 10:30')).toBe('offline');
    // The server's wording (src-tauri/crates/server/src/background.rs, devtools.rs).
    expect(loudWarningKind('Shipwatch was not receiving from 2026-01-01 10:00 to 2026-01-01 12:00 (2.0 h). AfterShip retries…')).toBe('offline');
    expect(loudWarningKind('The public URL changed since the last delivery: it was https://a.example, now https://b.example. AfterShip…')).toBe('url_changed');
    expect(loudWarningKind('no notification server: desktop notifications are off')).toBeNull();
  });
  it('tunnel examples and states', () => {
    expect(TUNNEL_COMMAND_EXAMPLES).toEqual(['cloudflared tunnel --url http://127.0.0.1:{port}', 'ngrok http {port} --log stdout']);
    expect(['running', 'starting', 'restarting', 'stopped', 'off'].map(tunnelStateKind)).toEqual(['ok', 'warn', 'warn', 'bad', 'off']);
  });
});

describe('settings: forward mode and retention', () => {
  const view: SettingsView = {
    secret_set: true, secret_hint: null, previous_secret_set: false, previous_secret_hint: null, secrets_from_env: false,
    previous_secret_from_env: false, listen: '127.0.0.1:8787', webhook_path: '/webhooks/aftership', body_limit: 1048576,
    notify_tags: [], quiet_hours: null, notifications_paused: false, autostart: false, public_url: null, tunnel_command: null,
    forward_url: null, forward_failing: false, retention_days: 30, retention_max_mb: null,
    stuck_after_days: 5, pickup_after_days: 3, archive_after_days: 3, alerts: ['late', 'stuck', 'estimate_later'], digest_at: null,
  };
  it('sends forward_url ("" = off), forward_failing, retention (empty = null)', () => {
    const f = formFromView(view);
    expect(f.retention_days).toBe('30');
    expect(diffSettings(view, f)).toEqual({});
    f.forward_url = ' http://127.0.0.1:3000/hook ';
    f.forward_failing = true;
    f.retention_days = '';
    f.retention_max_mb = '500';
    expect(diffSettings(view, f)).toEqual({ forward_url: 'http://127.0.0.1:3000/hook', forward_failing: true, retention_days: null, retention_max_mb: 500 });
    const on = { ...view, forward_url: 'http://x/' };
    expect(diffSettings(on, formFromView(on))).toEqual({});
    expect(diffSettings({ ...view, forward_url: 'http://x/' }, formFromView(view)).forward_url).toBe('');
  });
  it('validates them', () => {
    const f = { ...formFromView(view), retention_days: '3.5', retention_max_mb: '0', forward_url: 'nope' };
    const e = validateForm(f);
    expect(Object.keys(e).sort()).toEqual(['forward_url', 'retention_days', 'retention_max_mb']);
    expect(validateForm(formFromView(view))).toEqual({});
  });
});
