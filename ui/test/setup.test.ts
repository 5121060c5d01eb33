import { describe, expect, it } from 'vitest';
import type { SettingsView } from '../src/generated/SettingsView';
import { diffSettings, formFromView, isEmptyUpdate, validateForm } from '../src/lib/settings';
import { joinUrl, tunnelCommands, validatePublicUrl } from '../src/lib/setup';
import { backoffDelay } from '../src/backend/http';

describe('first-run helpers', () => {
  it('joins the public URL and the webhook path', () => {
    expect(joinUrl('https://a.trycloudflare.com', '/webhooks/aftership')).toBe('https://a.trycloudflare.com/webhooks/aftership');
    expect(joinUrl('https://a.trycloudflare.com//', 'webhooks/aftership')).toBe('https://a.trycloudflare.com/webhooks/aftership');
  });
  it('derives tunnel commands from the local URL', () => {
    expect(tunnelCommands('http://127.0.0.1:8787/webhooks/aftership')).toEqual([
      'cloudflared tunnel --url http://127.0.0.1:8787',
      'ngrok http 127.0.0.1:8787',
    ]);
    expect(tunnelCommands('0.0.0.0:9000')[0]).toBe('cloudflared tunnel --url http://127.0.0.1:9000');
    expect(tunnelCommands(null)).toEqual([]);
  });
  it('checks a public URL', () => {
    expect(validatePublicUrl('')).toEqual({ ok: true, message: null });
    expect(validatePublicUrl('https://a.trycloudflare.com')).toEqual({ ok: true, message: null });
    expect(validatePublicUrl('not a url').ok).toBe(false);
    expect(validatePublicUrl('http://127.0.0.1:8787').ok).toBe(false);
    expect(validatePublicUrl('ftp://x.example').ok).toBe(false);
    expect(validatePublicUrl('https://x.example/?a=1').ok).toBe(false);
    expect(validatePublicUrl('https://x.example:9443').message).toContain('80, 443 and 8080');
    expect(validatePublicUrl('https://x.example:8080').message).toBeNull();
    expect(validatePublicUrl('http://x.example')).toMatchObject({ ok: false });
    expect(validatePublicUrl('http://x.example').message).toContain('https://');
  });
  it('backs off reconnects up to 15 s', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map(backoffDelay)).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000]);
  });
});

describe('settings form', () => {
  const view: SettingsView = {
    secret_set: true,
    secret_hint: '••••a1b2',
    previous_secret_set: false,
    previous_secret_hint: null,
    secrets_from_env: false,
    listen: '127.0.0.1:8787',
    webhook_path: '/webhooks/aftership',
    body_limit: 1048576,
    notify_tags: ['Delivered', 'Exception'],
    quiet_hours: null,
    notifications_paused: false,
    autostart: false,
    public_url: null,
    tunnel_command: null,
    previous_secret_from_env: false,
    forward_url: null,
    forward_failing: false,
    retention_days: null,
    retention_max_mb: null,
    stuck_after_days: 5,
    pickup_after_days: 3,
    archive_after_days: 3,
    alerts: ['late', 'stuck', 'estimate_later'],
    digest_at: null,
  };
  it('sends nothing when nothing changed', () => {
    expect(isEmptyUpdate(diffSettings(view, formFromView(view)))).toBe(true);
  });
  it('sends only what changed', () => {
    const f = formFromView(view);
    f.public_url = ' https://a.example ';
    f.notify_tags = ['Exception', 'Delivered', 'OutForDelivery'];
    f.body_limit_kib = '2048';
    f.quiet_enabled = true;
    expect(diffSettings(view, f)).toEqual({
      public_url: 'https://a.example',
      notify_tags: ['Exception', 'Delivered', 'OutForDelivery'],
      body_limit: 2 * 1048576,
      quiet_hours: { start: '22:00', end: '07:00' },
    });
  });
  it('clears with empty values and null', () => {
    const v = { ...view, public_url: 'https://a.example', quiet_hours: { start: '22:00', end: '07:00' }, tunnel_command: 'x' };
    const f = formFromView(v);
    f.public_url = '';
    f.tunnel_command = '';
    f.quiet_enabled = false;
    f.body_limit_kib = '';
    expect(diffSettings(v, f)).toEqual({ public_url: '', tunnel_command: '', quiet_hours: null, body_limit: null });
  });
  it('treats reordered tags as unchanged', () => {
    const f = formFromView(view);
    f.notify_tags = ['Exception', 'Delivered'];
    expect(isEmptyUpdate(diffSettings(view, f))).toBe(true);
  });
  it('validates fields', () => {
    const f = formFromView(view);
    expect(validateForm(f)).toEqual({});
    expect(Object.keys(validateForm({ ...f, listen: 'localhost' }))).toEqual(['listen']);
    expect(Object.keys(validateForm({ ...f, listen: '[::1]:8787' }))).toEqual([]);
    expect(Object.keys(validateForm({ ...f, listen: '127.0.0.1:70000' }))).toEqual(['listen']);
    expect(Object.keys(validateForm({ ...f, webhook_path: 'hooks' }))).toEqual(['webhook_path']);
    expect(Object.keys(validateForm({ ...f, body_limit_kib: '1.5' }))).toEqual(['body_limit_kib']);
    expect(Object.keys(validateForm({ ...f, quiet_enabled: true, quiet_start: '25:00' }))).toEqual(['quiet_start']);
  });
});
