// "Copy as curl": replay a stored delivery, byte for byte, with its signature: the quick one from the
// body's header (the local receiver, the signature as received) and the replay panel's (any URL, the
// headers the engine prepared in the order they were received, the signature for the chosen secret).
// A secret never goes into a command: only the signature the engine computed with it.

/** Headers worth replaying: the body's own headers, AfterShip's signature and version headers. */
const KEEP = new Set([
  'content-type',
  'content-encoding',
  'content-language',
  'aftership-hmac-sha256',
  'as-signature-hmac-sha256',
  'am-webhook-signature',
  'as-webhook-version',
  'user-agent',
]);

/** Headers a replay must not copy: curl sets them, or they describe the original hop. */
const DROP = new Set(['content-length', 'host', 'transfer-encoding', 'connection', 'expect']);

export function replayHeaders(headers: [string, string][]): [string, string][] {
  return headers.filter(([name]) => {
    const n = name.toLowerCase();
    if (DROP.has(n)) return false;
    return KEEP.has(n) || n.startsWith('content-');
  });
}

/** POSIX shell single-quoting: safe for any text without NUL. */
export function shellQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_\-.,:/=@%+]+$/.test(s)) return s;
  return "'" + s.replace(/'/g, `'\\''`) + "'";
}

export interface CurlInput {
  url: string;
  headers: [string, string][];
  /** The body bytes as received. */
  body: Uint8Array;
  /** The body as UTF-8 text, when it is valid UTF-8. */
  bodyText: string | null;
  /** Base64 of the body (used when it is not text). */
  bodyBase64: string;
}

/**
 * A curl command that POSTs the exact bytes with the original content and signature headers.
 * Text bodies go inline in single quotes (bytes preserved, newlines too); anything else (invalid
 * UTF-8, NUL) is piped through `base64 -d` so not a byte changes.
 */
export function buildCurl(input: CurlInput): string {
  return curlCommand(input.url, replayHeaders(input.headers), input.bodyText, input.bodyBase64);
}

export interface ReplayCurlInput {
  url: string;
  /** The headers the engine would send (`ReplayResult.sent_headers` of a dry run), in their order. */
  headers: [string, string][];
  /** The body as text (an edited body, or the stored one when it is UTF-8), else null. */
  bodyText: string | null;
  /** Base64 of the stored body (used when it is not text). */
  bodyBase64: string;
}

/**
 * The replay panel's command: every header the engine prepared, in order (curl's own `host`,
 * `content-length` and framing are left to curl), and no header curl would add on its own: no
 * `Content-Type` when the delivery had none (curl adds a form type for `--data-binary`), no `Expect`.
 */
export function buildReplayCurl(input: ReplayCurlInput): string {
  const headers = input.headers.filter(([name]) => !DROP.has(name.trim().toLowerCase()));
  const hasType = headers.some(([name]) => name.trim().toLowerCase() === 'content-type');
  // Nor an `Expect: 100-continue` of its own for a larger body (AfterShip sends none).
  return curlCommand(input.url, headers, input.bodyText, input.bodyBase64, hasType ? ['Expect'] : ['Content-Type', 'Expect']);
}

function curlCommand(url: string, headers: [string, string][], bodyText: string | null, bodyBase64: string, suppress: string[] = []): string {
  const parts: string[] = ['curl', '-sS', '-i', '-X', 'POST', shellQuote(url)];
  for (const [name, value] of headers) {
    // For curl, `Name:` with nothing after it removes a header; `Name;` sends it empty.
    parts.push('-H', shellQuote(value.trim() === '' ? `${name};` : `${name}: ${value}`));
  }
  for (const name of suppress) parts.push('-H', shellQuote(`${name}:`));
  const inline = bodyText !== null && !bodyText.includes('\u0000');
  if (inline) {
    parts.push('--data-binary', shellQuote(bodyText!));
    return parts.join(' ');
  }
  parts.push('--data-binary', '@-');
  return `printf %s ${shellQuote(bodyBase64)} | base64 -d | ${parts.join(' ')}`;
}
