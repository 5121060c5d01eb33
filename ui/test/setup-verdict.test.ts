import { describe, expect, it } from 'vitest';
import { cameThroughTunnel, isPublicHostName, setupVerdict, validatePublicUrl, type SetupFacts } from '../src/lib/setup';

const ready: SetupFacts = {
  receiverListening: true,
  secretConfigured: true,
  publicUrl: 'https://shop.trycloudflare.com',
  selfTest: null,
  tunnelDelivery: null,
};
const passed = { ok: true, hop: 'ok', title: 'Arrived byte-exact with a valid signature', publicUrl: 'https://shop.trycloudflare.com' };
const dnsFailed = { ok: false, hop: 'dns', title: 'DNS: the public hostname does not resolve', publicUrl: 'https://shop.trycloudflare.com' };

describe('"All set" only once the path is proven', () => {
  it('is not all set with a URL and a secret alone', () => {
    const v = setupVerdict(ready);
    expect(v.kind).toBe('untested');
    expect(v.headline).not.toMatch(/all set/i);
    expect(v.headline).toContain('step 3');
  });
  it('is all set after a passing self-test against the URL in effect', () => {
    expect(setupVerdict({ ...ready, selfTest: passed })).toMatchObject({ kind: 'all_set' });
    expect(setupVerdict({ ...ready, selfTest: passed }).headline).toMatch(/^All set/);
  });
  it('says what failed when the self-test failed, never all set', () => {
    const v = setupVerdict({ ...ready, selfTest: dnsFailed });
    expect(v.kind).toBe('failed');
    expect(v.headline).toContain('DNS: the public hostname does not resolve');
    expect(v.headline).not.toMatch(/all set/i);
  });
  it('forgets a self-test that ran against another URL', () => {
    const v = setupVerdict({ ...ready, publicUrl: 'https://new.trycloudflare.com', selfTest: passed });
    expect(v.kind).toBe('untested');
  });
  it('is all set after a valid delivery through the tunnel', () => {
    const v = setupVerdict({ ...ready, selfTest: null, tunnelDelivery: { id: 7, receivedAt: '2026-12-08T01:00:00.000Z' } });
    expect(v.kind).toBe('all_set');
    expect(v.headline).toContain('arrive through your tunnel');
  });
  it('needs the secret and a listening receiver too', () => {
    expect(setupVerdict({ ...ready, secretConfigured: false, selfTest: passed }).kind).toBe('incomplete');
    expect(setupVerdict({ ...ready, receiverListening: false, selfTest: passed }).kind).toBe('incomplete');
    expect(setupVerdict({ ...ready, publicUrl: null }).kind).toBe('incomplete');
  });
  it('tells a tunnel delivery by its forwarding headers', () => {
    expect(cameThroughTunnel({ forwarded_for: '203.0.113.9', cf_connecting_ip: null })).toBe(true);
    expect(cameThroughTunnel({ forwarded_for: null, cf_connecting_ip: '203.0.113.9' })).toBe(true);
    expect(cameThroughTunnel({ forwarded_for: null, cf_connecting_ip: null })).toBe(false);
  });
});

describe('public URL check (as the server does it)', () => {
  it('refuses bare names, IP addresses and localhost, saying what is expected', () => {
    for (const raw of ['https://shop-hoo', 'https://203.0.113.7', 'https://[::1]', 'https://localhost', 'https://shop.c', 'https://shop.co1', 'http://shop.example.com', 'https://shop.example.com/other']) {
      const c = validatePublicUrl(raw);
      expect(c.ok, raw).toBe(false);
      expect(c.message, raw).toContain('e.g. https://shop.trycloudflare.com');
    }
    expect(validatePublicUrl('shop.trycloudflare.com').message).toContain('Start it with https://');
  });
  it('accepts tunnel host names and the whole webhook URL', () => {
    expect(validatePublicUrl('https://shop.trycloudflare.com')).toEqual({ ok: true, message: null });
    expect(validatePublicUrl('https://1a2b-3c4d.ngrok-free.app/')).toEqual({ ok: true, message: null });
    expect(validatePublicUrl('https://shop-hoo.invalid').ok).toBe(true);
    expect(validatePublicUrl('https://a.trycloudflare.com/webhooks/aftership')).toMatchObject({ ok: true });
    expect(validatePublicUrl('https://a.trycloudflare.com/hooks/as', '/hooks/as').ok).toBe(true);
  });
  it('knows a public host name', () => {
    expect(isPublicHostName('shop.trycloudflare.com')).toBe(true);
    expect(isPublicHostName('xn--bcher-kva.example')).toBe(true);
    expect(isPublicHostName('shop-hoo')).toBe(false);
    expect(isPublicHostName('a..com')).toBe(false);
    expect(isPublicHostName('-a.com')).toBe(false);
  });
});
