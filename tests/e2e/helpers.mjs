// Helpers for the browser end-to-end tests: start a real `shipwatch serve`, post AfterShip-shaped
// deliveries to its receiver, drive Debian's Chromium with playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.SHIPWATCH_BIN ?? join(ROOT, 'target/debug/shipwatch');
export const ARTIFACTS = join(ROOT, 'tests/artifacts');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FIXTURE = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/aftership-v4-tracking-update.json'), 'utf8'));

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const name of readdirSync(path)) m = Math.max(m, newestMtime(join(path, name)));
  return m;
}

function run(cmd, args, cwd, what) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} ${args.join(' ')} in ${cwd})`);
}

/**
 * Makes what the tests need: playwright-core in tests/e2e, the UI in ui/dist (rebuilt when its
 * sources are newer), and target/debug/shipwatch (built when missing).
 */
export function ensureBuilt() {
  const here = dirname(fileURLToPath(import.meta.url));
  if (!existsSync(join(here, 'node_modules/playwright-core'))) run('npm', ['ci'], here, 'installing the e2e dependencies');
  const ui = join(ROOT, 'ui');
  const dist = join(ui, 'dist/index.html');
  const sources = Math.max(newestMtime(join(ui, 'src')), newestMtime(join(ui, 'index.html')));
  if (!existsSync(dist) || statSync(dist).mtimeMs < sources) {
    if (!existsSync(join(ui, 'node_modules'))) run('npm', ['ci'], ui, 'installing the UI dependencies');
    run('npm', ['run', 'build'], ui, 'building the UI');
  }
  if (!process.env.SHIPWATCH_BIN && !existsSync(BIN)) run('cargo', ['build', '--bin', 'shipwatch'], ROOT, 'building shipwatch');
  mkdirSync(ARTIFACTS, { recursive: true });
}

/**
 * Starts `shipwatch serve` on free ports with a fresh data dir. Resolves once it printed the
 * receiver and inspector URLs.
 */
export async function startServe({ secret } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'shipwatch-e2e-'));
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' };
  delete env.SHIPWATCH_SECRET;
  if (secret !== undefined) env.SHIPWATCH_SECRET = secret;
  const child = spawn(BIN, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--inspector-listen', '127.0.0.1:0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const urls = await new Promise((resolveUrls, reject) => {
    const timer = setTimeout(() => reject(new Error(`shipwatch serve did not print its URLs in 20 s.\nstdout:\n${out}\nstderr:\n${err}`)), 20000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`shipwatch serve exited with ${code}.\nstdout:\n${out}\nstderr:\n${err}`));
    });
    child.stdout.on('data', (d) => {
      out += d;
      const receiver = /^receiver:\s*(\S+)/m.exec(out);
      const inspector = /^inspector:\s*(\S+)/m.exec(out);
      if (receiver && inspector) {
        clearTimeout(timer);
        resolveUrls({ receiver: receiver[1], inspector: inspector[1] });
      }
    });
  });
  child.removeAllListeners('exit');
  const inspectorUrl = new URL(urls.inspector);
  const token = inspectorUrl.searchParams.get('token');
  return {
    child,
    dataDir,
    receiverUrl: urls.receiver,
    inspectorUrl: urls.inspector,
    origin: inspectorUrl.origin,
    token,
    get stderr() {
      return err;
    },
    async api(path, init = {}) {
      const res = await fetch(inspectorUrl.origin + path, {
        ...init,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            r();
          }, 5000);
          child.once('exit', () => {
            clearTimeout(t);
            r();
          });
        });
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An AfterShip v4 tracking_update body like the fixture, with a fresh event_id. */
export function makeBody({ trackingNumber = FIXTURE.msg.tracking_number, tag = 'InTransit', slug = 'usps', orderId = null, title, ts, checkpoints, eventId } = {}) {
  const body = structuredClone(FIXTURE);
  body.event_id = eventId ?? randomUUID();
  body.ts = ts ?? Math.floor(Date.now() / 1000);
  const iso = new Date(body.ts * 1000).toISOString().replace(/\.\d+Z$/, '+00:00');
  body.msg.id = 'sw' + trackingNumber.toLowerCase();
  body.msg.tracking_number = trackingNumber;
  body.msg.title = title ?? trackingNumber;
  body.msg.slug = slug;
  body.msg.order_id = orderId;
  body.msg.tag = tag;
  body.msg.subtag = `${tag}_001`;
  body.msg.subtag_message = tag.replace(/([a-z])([A-Z])/g, '$1 $2');
  body.msg.updated_at = iso;
  body.msg.last_updated_at = iso;
  for (const c of body.msg.checkpoints) c.slug = slug;
  if (checkpoints) body.msg.checkpoints = checkpoints;
  return body;
}

export const sign = (secret, raw) => createHmac('sha256', secret).update(raw).digest('base64');

/** POSTs a body to the receiver; signs it with `secret` unless `signature` is given (null = no header). */
export async function postDelivery(receiverUrl, body, { secret, signature, tamper = false } = {}) {
  const raw = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const headers = { 'Content-Type': 'application/json', 'User-Agent': 'AfterShipTrackingWebhook/4.0.0 (e2e)' };
  const sig = signature !== undefined ? signature : secret !== undefined ? sign(secret, raw) : null;
  if (sig !== null) headers['aftership-hmac-sha256'] = sig;
  // Tampering after signing: the signature is for the original bytes.
  const sent = tamper ? String(raw).replace('"InTransit"', '"Delivered"').replace('}', ' }') : raw;
  const res = await fetch(receiverUrl, { method: 'POST', headers, body: sent });
  return { status: res.status, text: await res.text(), raw: sent };
}

export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'shipwatch-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1100, height: 760 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
