import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bytesToBase64 } from '../src/lib/bytes';
import { buildCurl, replayHeaders, shellQuote } from '../src/lib/curl';

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
