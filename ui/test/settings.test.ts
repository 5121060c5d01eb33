import { describe, expect, it } from 'vitest';
import type { SettingsView } from '../src/generated/SettingsView';
import { diffSettings, formFromView, validateForm } from '../src/lib/settings';

const view: SettingsView = {
  secret_set: true, secret_hint: null, previous_secret_set: false, previous_secret_hint: null, secrets_from_env: false,
  previous_secret_from_env: false, listen: '127.0.0.1:8787', webhook_path: '/webhooks/aftership', body_limit: 1048576,
  notify_tags: [], quiet_hours: null, notifications_paused: false, autostart: false, public_url: null, tunnel_command: null,
  forward_url: null, forward_failing: false, retention_days: null, retention_max_mb: null,
  stuck_after_days: 5, pickup_after_days: 3, archive_after_days: 3, alerts: ['late', 'stuck', 'estimate_later'], digest_at: null,
};

describe('settings: the desk and its alerts', () => {
  it('loads the days, alerts and digest, and sends nothing when nothing changed', () => {
    const f = formFromView(view);
    expect([f.stuck_after_days, f.pickup_after_days, f.archive_after_days]).toEqual(['5', '3', '3']);
    expect(f.alerts).toEqual(['late', 'stuck', 'estimate_later']);
    expect(f.digest_enabled).toBe(false);
    expect(diffSettings(view, f)).toEqual({});
    expect(validateForm(f)).toEqual({});
  });
  it('sends only what changed: days as numbers, alerts in a stable order, the digest time or null', () => {
    const f = formFromView(view);
    f.stuck_after_days = ' 7 ';
    f.alerts = ['estimate_later', 'late'];
    f.digest_enabled = true;
    f.digest_at = '08:30';
    expect(diffSettings(view, f)).toEqual({ stuck_after_days: 7, alerts: ['late', 'estimate_later'], digest_at: '08:30' });
    const on = { ...view, digest_at: '08:30' };
    const g = formFromView(on);
    expect(g.digest_enabled).toBe(true);
    g.digest_enabled = false;
    expect(diffSettings(on, g)).toEqual({ digest_at: null });
    g.alerts = [];
    expect(diffSettings(on, g)).toEqual({ digest_at: null, alerts: [] });
  });
  it('refuses days outside 1 to 365 and a digest time that is not HH:MM', () => {
    for (const bad of ['0', '366', '', '2.5', '-1', 'five']) {
      const f = { ...formFromView(view), pickup_after_days: bad };
      expect(validateForm(f).pickup_after_days, bad).toMatch(/1 to 365/);
      expect(diffSettings(view, f).pickup_after_days).toBeUndefined();
    }
    expect(validateForm({ ...formFromView(view), archive_after_days: '365' })).toEqual({});
    expect(validateForm({ ...formFromView(view), digest_enabled: true, digest_at: '25:00' }).digest_at).toMatch(/HH:MM/);
    expect(validateForm({ ...formFromView(view), digest_enabled: false, digest_at: '' })).toEqual({});
  });
});
