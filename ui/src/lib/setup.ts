// First-run helpers: the tunnel commands and the URL to paste into AfterShip.

/** `https://x.example` + `/webhooks/aftership`, without doubled or missing slashes. */
export function joinUrl(base: string, path: string): string {
  const b = base.trim().replace(/\/+$/, '');
  const p = path.startsWith('/') ? path : '/' + path;
  return b + p;
}

/** Tunnel commands for the receiver at `localUrl` (any URL or `host:port` on it). */
export function tunnelCommands(localUrl: string | null): string[] {
  if (!localUrl) return [];
  let origin: string;
  try {
    const u = new URL(/^[a-z]+:\/\//i.test(localUrl) ? localUrl : `http://${localUrl}`);
    let host = u.hostname;
    if (host === '0.0.0.0' || host === '[::]' || host === '::') host = '127.0.0.1';
    origin = `${u.protocol}//${host}${u.port ? ':' + u.port : ''}`;
  } catch {
    return [];
  }
  const hostPort = origin.replace(/^https?:\/\//, '');
  return [`cloudflared tunnel --url ${origin}`, `ngrok http ${hostPort}`];
}

export interface UrlCheck {
  ok: boolean;
  message: string | null;
}

/** Said at the end of every refusal (the server says the same). */
export const EXPECTED_PUBLIC_URL = "Expected https://<your tunnel's host name>, e.g. https://shop.trycloudflare.com.";

/** A public host name: a dot, labels of letters, digits and hyphens, and an ending of letters (≥2). */
export function isPublicHostName(host: string): boolean {
  const name = host.replace(/\.$/, '');
  const labels = name.split('.');
  if (labels.length < 2) return false;
  const tld = labels[labels.length - 1];
  const tldOk = /^[a-z]{2,}$/i.test(tld) || /^xn--[a-z0-9-]+$/i.test(tld);
  return tldOk && labels.every((l) => l.length > 0 && l.length <= 63 && /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/i.test(l));
}

/**
 * Checks a public tunnel base URL as typed (empty is fine: nothing to save), as the server does:
 * https, a real host name (no IP address, no localhost), port 443, 80 or 8080, no path (except the
 * webhook path itself, which is dropped), no query or fragment.
 */
export function validatePublicUrl(raw: string, webhookPath = '/webhooks/aftership'): UrlCheck {
  const s = raw.trim();
  if (!s) return { ok: true, message: null };
  const no = (why: string): UrlCheck => ({ ok: false, message: `${why} ${EXPECTED_PUBLIC_URL}` });
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return no(/^[a-z0-9.-]+\.[a-z]{2,}(\/.*)?$/i.test(s) ? 'Start it with https://.' : 'That is not a URL.');
  }
  if (u.protocol !== 'https:') return no(`AfterShip only delivers webhooks to https:// addresses, not ${u.protocol}//.`);
  if (u.username || u.password) return no('Leave out the user name and password.');
  const host = u.hostname.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return no('That is this machine: AfterShip cannot reach it.');
  if (host.startsWith('[') || /^[0-9.]+$/.test(host)) return no(`${host} is an IP address: AfterShip needs the host name your tunnel printed.`);
  if (!isPublicHostName(host)) return no(`"${host}" is not a public host name (it needs a dot and a domain ending such as .com).`);
  if (u.port && !['80', '443', '8080'].includes(u.port)) return no(`AfterShip only calls ports 80, 443 and 8080, not ${u.port}.`);
  if (u.search || u.hash || s.endsWith('?') || s.endsWith('#')) return no('Leave out the ?query and #fragment.');
  const path = u.pathname.replace(/\/+$/, '');
  if (path && path !== webhookPath.replace(/\/+$/, '')) return no(`Enter only the tunnel's address, without the path ${u.pathname}: Shipwatch adds ${webhookPath} itself.`);
  if (path) return { ok: true, message: `The webhook path is added for you: ${u.origin} is saved.` };
  return { ok: true, message: null };
}

/** What the Setup page knows when it decides whether everything works. */
export interface SetupFacts {
  receiverListening: boolean;
  secretConfigured: boolean;
  /** The public URL in effect (typed, or printed by the supervised tunnel). */
  publicUrl: string | null;
  /** The last self-test of this session, with the public URL it ran against. */
  selfTest: { ok: boolean; hop: string; title: string; publicUrl: string | null } | null;
  /** A validly signed delivery that came through a tunnel (not one of Shipwatch's own tests). */
  tunnelDelivery: { id: number; receivedAt: string } | null;
}

export type SetupVerdictKind = 'all_set' | 'failed' | 'untested' | 'incomplete';

export interface SetupVerdict {
  kind: SetupVerdictKind;
  /** One sentence for the top of the page. */
  headline: string;
}

/**
 * "All set" only once something proved the whole path works: a self-test that passed in this session
 * against the public URL in effect, or a validly signed delivery that came in through a tunnel. A
 * failed self-test says what failed; nothing proven yet says what to do next.
 */
export function setupVerdict(f: SetupFacts): SetupVerdict {
  if (!f.receiverListening) return { kind: 'incomplete', headline: 'The receiver is not listening: see step 1.' };
  const test = f.selfTest && f.selfTest.publicUrl === f.publicUrl ? f.selfTest : null;
  if (f.publicUrl && test && !test.ok)
    return { kind: 'failed', headline: `Not set up yet: the test through your tunnel failed (${test.title}). Step 3 says what to do.` };
  const proven = (!!f.publicUrl && !!test?.ok) || !!f.tunnelDelivery;
  if (proven && f.secretConfigured)
    return {
      kind: 'all_set',
      headline: test?.ok
        ? 'All set: a signed test went through your tunnel and arrived verified.'
        : 'All set: AfterShip\u2019s deliveries arrive through your tunnel and are verified.',
    };
  if (!f.publicUrl && !f.tunnelDelivery) return { kind: 'incomplete', headline: 'Five steps, about two minutes.' };
  if (!f.secretConfigured) return { kind: 'incomplete', headline: 'Almost there: paste your webhook secret (step 4).' };
  return { kind: 'untested', headline: 'Almost there: test the path through your tunnel (step 3) to make sure AfterShip can reach you.' };
}

/** Whether a stored delivery came through a tunnel: tunnel agents add these headers, a local post does not. */
export function cameThroughTunnel(d: { forwarded_for: string | null; cf_connecting_ip: string | null }): boolean {
  return !!(d.forwarded_for || d.cf_connecting_ip);
}
