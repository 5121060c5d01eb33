// "Copy as curl": replay a stored delivery to the local receiver, byte for byte, with its signature.

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
  const parts: string[] = ['curl', '-sS', '-i', '-X', 'POST', shellQuote(input.url)];
  for (const [name, value] of replayHeaders(input.headers)) {
    parts.push('-H', shellQuote(`${name}: ${value}`));
  }
  const inline = input.bodyText !== null && !input.bodyText.includes('\u0000');
  if (inline) {
    parts.push('--data-binary', shellQuote(input.bodyText!));
    return parts.join(' ');
  }
  parts.push('--data-binary', '@-');
  return `printf %s ${shellQuote(input.bodyBase64)} | base64 -d | ${parts.join(' ')}`;
}
