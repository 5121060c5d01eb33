import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToBase64 } from '../src/lib/bytes';
import { buildCurl, buildReplayCurl, replayHeaders, shellQuote } from '../src/lib/curl';

const headers: [string, string][] = [
  ['host', 'abc.trycloudflare.com'],
  ['user-agent', 'AfterShipTrackingWebhook/4.0.0'],
  ['content-length', '27'],
  ['Content-Type', 'application/json'],
  ['accept-encoding', 'gzip'],
  ['x-forwarded-for', '34.70.29.163'],
  ['cf-connecting-ip', '34.70.29.163'],
  ['aftership-hmac-sha256', 'c2lnbmF0dXJlPT0rLw=='],
  ['as-webhook-version', '2024-04'],
  ['content-encoding', 'identity'],
];

/** Runs the command through sh with `curl` replaced by a function that prints its argv NUL-separated and the stdin. */
function runFake(cmd: string): { args: string[]; stdin: string } {
  const script = `curl() { for a in "$@"; do printf '%s\\0' "$a"; done; printf 'STDIN:'; if [ "$last" = "@-" ]; then cat; fi; }\n` +
    `last=''; ` +
    cmd.replace(/(^|\| )curl /, (m) => m) +
    '\n';
  // The function needs to know whether to read stdin: detect "@-" in the command itself.
  const withStdin = script.replace("last='';", cmd.includes("--data-binary @-") ? "last='@-';" : "last='';");
  const out = execFileSync('sh', ['-c', withStdin], { encoding: 'latin1' });
  const idx = out.lastIndexOf('STDIN:');
  return { args: out.slice(0, idx).split('\0').slice(0, -1), stdin: out.slice(idx + 6) };
}

describe('shellQuote', () => {
  it('leaves plain words alone and quotes the rest', () => {
    expect(shellQuote('http://127.0.0.1:8787/webhooks/aftership')).toBe('http://127.0.0.1:8787/webhooks/aftership');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
  });
});

describe('copy as curl', () => {
  it('keeps content and signature headers, drops hop headers', () => {
    const kept = replayHeaders(headers).map(([n]) => n);
    expect(kept).toEqual(['user-agent', 'Content-Type', 'aftership-hmac-sha256', 'as-webhook-version', 'content-encoding']);
  });

  it('replays the exact body bytes with the received signature', () => {
    const body = '{"event":"tracking_update","msg":{"title":"it\'s $HOME `x` \\"q\\" ✓"}}\n';
    const bytes = new TextEncoder().encode(body);
    const cmd = buildCurl({ url: 'http://127.0.0.1:8787/webhooks/aftership', headers, body: bytes, bodyText: body, bodyBase64: bytesToBase64(bytes) });
    expect(cmd.startsWith('curl ')).toBe(true);
    expect(cmd).toContain("-H 'aftership-hmac-sha256: c2lnbmF0dXJlPT0rLw=='");
    expect(cmd).not.toContain('content-length');
    expect(cmd).not.toContain('cf-connecting-ip');
    const { args } = runFake(cmd);
    expect(args).toContain('http://127.0.0.1:8787/webhooks/aftership');
    expect(args).toContain('Content-Type: application/json');
    const data = args[args.indexOf('--data-binary') + 1];
    expect(Buffer.from(data, 'latin1').toString('utf8')).toBe(body);
  });

  it('pipes non-UTF-8 bodies through base64 so no byte changes', () => {
    const bytes = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x27, 0x0a]);
    const cmd = buildCurl({ url: 'http://127.0.0.1:8787/w', headers, body: bytes, bodyText: null, bodyBase64: bytesToBase64(bytes) });
    expect(cmd).toMatch(/^printf %s '?[A-Za-z0-9+/=]+'? \| base64 -d \| curl /);
    const { stdin, args } = runFake(cmd);
    expect(args[args.indexOf('--data-binary') + 1]).toBe('@-');
    expect(Buffer.from(stdin, 'latin1')).toEqual(Buffer.from(bytes));
  });

  it('pipes bodies with NUL through base64', () => {
    const text = 'a\u0000b';
    const bytes = new TextEncoder().encode(text);
    expect(buildCurl({ url: 'http://x/w', headers: [], body: bytes, bodyText: text, bodyBase64: bytesToBase64(bytes) })).toContain('base64 -d');
  });
});

describe('copy as curl from the replay panel', () => {
  // As the engine prepares them for a dry run: received order and spelling, signature for the chosen secret.
  const sent: [string, string][] = [
    ['User-Agent', 'AfterShipTrackingWebhook/4.0.0'],
    ['as-webhook-version', '2026-07'],
    ['Aftership-Hmac-Sha256', 'cHJldmlvdXMtc2lnbmF0dXJlLWJhc2U2NC1oZXJlPT0='],
    ['Content-Type', 'application/json'],
    ['x-custom', 'a b'],
    ['x-empty', ''],
    ['cdn-loop', 'cloudflare'],
  ];

  it('keeps every prepared header in order, sends an empty one empty', () => {
    const body = '{"a":  1}';
    const cmd = buildReplayCurl({ url: 'https://staging.example.com/h', headers: sent, bodyText: body, bodyBase64: '' });
    const { args } = runFake(cmd);
    const hs = args.filter((_, i) => args[i - 1] === '-H');
    expect(hs).toEqual([
      'User-Agent: AfterShipTrackingWebhook/4.0.0',
      'as-webhook-version: 2026-07',
      'Aftership-Hmac-Sha256: cHJldmlvdXMtc2lnbmF0dXJlLWJhc2U2NC1oZXJlPT0=',
      'Content-Type: application/json',
      'x-custom: a b',
      'x-empty;',
      'cdn-loop: cloudflare',
      'Expect:',
    ]);
    expect(args).toContain('https://staging.example.com/h');
    expect(args[args.indexOf('--data-binary') + 1]).toBe(body);
  });

  it('tells curl not to add a Content-Type the delivery did not have; never carries a secret', () => {
    const cmd = buildReplayCurl({ url: 'http://x/h', headers: [['aftership-hmac-sha256', 'sig=']], bodyText: 'x', bodyBase64: '' });
    const { args } = runFake(cmd);
    expect(args.filter((_, i) => args[i - 1] === '-H')).toEqual(['aftership-hmac-sha256: sig=', 'Content-Type:', 'Expect:']);
    // Framing headers are curl's to write, even if handed over.
    const framed = buildReplayCurl({ url: 'http://x/h', headers: [['Content-Length', '1'], ['Host', 'a'], ['Content-Type', 'text/plain']], bodyText: 'x', bodyBase64: '' });
    expect(framed).not.toMatch(/Content-Length|Host:/);
  });

  it('real curl delivers the exact bytes and the headers in order to a server on loopback', async () => {
    if (!existsSync('/usr/bin/curl')) return;
    const { createServer } = await import('node:http');
    const got: { raw: string[]; body: Buffer }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        got.push({ raw: req.rawHeaders, body: Buffer.concat(chunks) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const body = '{ "title":"it\'s $HOME `x` \\"q\\" ✓",\r\n\t"n" : 1.50e+2 }\n' + ' '.repeat(3000);
      const cmd = buildReplayCurl({ url: `http://127.0.0.1:${port}/hook`, headers: sent, bodyText: body, bodyBase64: '' });
      await new Promise<void>((resolve, reject) => execFile('sh', ['-c', cmd], (e) => (e ? reject(e) : resolve())));
      const bin = new Uint8Array([0x1f, 0x8b, 0, 0xff, 0x27, 0x0a]);
      const cmd2 = buildReplayCurl({ url: `http://127.0.0.1:${port}/hook`, headers: [], bodyText: null, bodyBase64: bytesToBase64(bin) });
      await new Promise<void>((resolve, reject) => execFile('sh', ['-c', cmd2], (e) => (e ? reject(e) : resolve())));
      expect(got[0].body.toString('utf8')).toBe(body);
      const names = got[0].raw.filter((_, i) => i % 2 === 0);
      const ours = names.filter((n) => sent.some(([s]) => s === n));
      expect(ours).toEqual(sent.map(([n]) => n));
      expect(got[0].raw[got[0].raw.indexOf('x-empty') + 1]).toBe('');
      expect(Buffer.from(got[1].body)).toEqual(Buffer.from(bin));
      expect(got[1].raw.map((h) => h.toLowerCase())).not.toContain('content-type');
      expect(got[0].raw.map((h) => h.toLowerCase())).not.toContain('expect');
    } finally {
      server.close();
    }
  });
});
