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

/** Checks a public tunnel base URL as typed (empty is fine: nothing to save). */
export function validatePublicUrl(raw: string): UrlCheck {
  const s = raw.trim();
  if (!s) return { ok: true, message: null };
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return { ok: false, message: 'That is not a URL: it should look like https://name.trycloudflare.com' };
  }
  if (u.protocol !== 'https:')
    return { ok: false, message: 'Use the https:// address your tunnel printed.' };
  if (['localhost', '127.0.0.1', '[::1]', '0.0.0.0'].includes(u.hostname))
    return { ok: false, message: 'That is this machine: AfterShip cannot reach it. Use the public URL your tunnel printed.' };
  if (u.search || u.hash) return { ok: false, message: 'Leave out the ?query and #fragment.' };
  const port = u.port ? Number(u.port) : 443;
  if (![80, 443, 8080].includes(port))
    return { ok: true, message: `AfterShip only calls ports 80, 443 and 8080: port ${port} will not be reached.` };
  if (u.pathname !== '/' && u.pathname !== '')
    return { ok: true, message: `The webhook path is added for you: enter only the base (${u.origin}) unless your tunnel needs ${u.pathname}.` };
  return { ok: true, message: null };
}
