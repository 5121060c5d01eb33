// Replay, the pure part: what the body editor shows and when the stored bytes are sent instead of
// its text, which signature is sent and what the panel says about it, the request to the engine,
// and where "copy as curl" points.
//
// The rule for bytes: the editor shows JSON re-indented (only whitespace changes, see json.ts), but
// as long as its text is what it started with, no body is sent: the engine replays the stored bytes,
// whatever their spacing, escapes or key order. Only an edited text is sent, as typed.
import type { ReplayRequest } from '../generated/ReplayRequest';
import type { SignWith } from '../generated/SignWith';
import { decodeUtf8Strict, hasControlChars } from './bytes';
import { checkTargetUrl } from './devtools';
import { formatBytes } from './format';
import { prettyJson } from './json';

export type BodyKind = 'json' | 'text' | 'binary';

export interface BodyModel {
  kind: BodyKind;
  /** What the editor is given: 2-space JSON, or the text as received; null for a binary body. */
  display: string | null;
  /**
   * '\r\n' when every line break of a text body is CRLF: the editor then keeps CRLF (it would
   * otherwise read any break and give them back as '\n').
   */
  lineSeparator: '\r\n' | null;
  /** The editor's text while nothing was edited (`display` as the editor gives it back). */
  unedited: string | null;
  /** A text body with a mix of line breaks: an edit turns them all into '\n'. */
  mixedLineBreaks: boolean;
  /** Only the first bytes were kept (the delivery was over the size limit). */
  truncated: boolean;
  /** Size of the stored bytes. */
  size: number;
}

/** Pretty-printing a very large body is not worth the wait: it is shown as text. */
export const PRETTY_LIMIT = 4 * 1024 * 1024;

/** How the editor joins lines when no separator is set (CodeMirror reads \r\n, \r and \n). */
export function editorNormalize(text: string, lineSeparator: string | null): string {
  return lineSeparator ? text : text.replace(/\r\n?/g, '\n');
}

export function bodyModel(bytes: Uint8Array, truncated: boolean): BodyModel {
  const size = bytes.length;
  const text = decodeUtf8Strict(bytes);
  const base = { truncated, size, lineSeparator: null, mixedLineBreaks: false };
  if (text === null || hasControlChars(text)) return { ...base, kind: 'binary', display: null, unedited: null };
  const pretty = !truncated && size <= PRETTY_LIMIT ? prettyJson(text, 2) : null;
  if (pretty !== null) return { ...base, kind: 'json', display: pretty, unedited: pretty };
  const crlf = (text.match(/\r\n/g) ?? []).length;
  const breaks = (text.match(/\r\n?|\n/g) ?? []).length;
  const lineSeparator = crlf > 0 && crlf === breaks ? '\r\n' : null;
  return {
    ...base,
    kind: 'text',
    display: text,
    lineSeparator,
    unedited: editorNormalize(text, lineSeparator),
    mixedLineBreaks: lineSeparator === null && /\r/.test(text),
  };
}

/** The editor's text differs from what it started with. */
export function isEdited(model: BodyModel, text: string | null): boolean {
  return model.unedited !== null && text !== null && text !== model.unedited;
}

/** The body to send: the edited text, or undefined for the stored bytes. */
export function bodyToSend(model: BodyModel, text: string | null): string | undefined {
  return isEdited(model, text) ? (text as string) : undefined;
}

/** Which secrets are set in Shipwatch, with their masked hints (from the settings). */
export interface SecretsSet {
  current: boolean;
  currentHint?: string | null;
  previous: boolean;
  previousHint?: string | null;
}

export interface ReplayChoice {
  target: 'shipwatch' | 'url';
  url: string;
  signWith: SignWith;
  /** The secret typed for `typed` (never stored). */
  typedSecret: string;
  model: BodyModel;
  /** The editor's text (null before the editor gave it). */
  text: string | null;
}

/** Why the chosen signature cannot be made, or null. */
export function signingError(signWith: SignWith, typedSecret: string, secrets: SecretsSet | null): string | null {
  if (signWith === 'typed' && typedSecret === '') return 'Type the secret to sign with.';
  if (secrets && signWith === 'current' && !secrets.current) return 'No current secret is set: set it in Settings, or type one.';
  if (secrets && signWith === 'previous' && !secrets.previous)
    return 'No previous secret is set: it is set in Settings while you rotate the secret. Type it instead.';
  return null;
}

/**
 * The request for the engine. `dryRun` prepares only (for "copy as curl"): the target URL does not
 * matter then. `error` says why it cannot be sent as it is.
 */
export function replayRequest(c: ReplayChoice, secrets: SecretsSet | null, dryRun = false): { request: ReplayRequest; error: string | null } {
  const request: ReplayRequest = {};
  let error: string | null = null;
  if (!dryRun && c.target === 'url') {
    error = checkTargetUrl(c.url);
    if (!error) request.to = c.url.trim();
  }
  if (c.signWith !== 'original') request.sign_with = c.signWith;
  if (c.signWith === 'typed' && c.typedSecret !== '') request.secret = c.typedSecret;
  const body = bodyToSend(c.model, c.text);
  if (body !== undefined) request.body = body;
  else if (c.model.truncated)
    error ??= `Only the first ${formatBytes(c.model.size)} were kept (the delivery was over the size limit): edit the body to replay it.`;
  error ??= signingError(c.signWith, c.typedSecret, secrets);
  if (dryRun) request.dry_run = true;
  return { request, error };
}

/** After the first edit, an "as received" signature would no longer match: re-sign, unless the user chose. */
export function signWithAfterEdit(current: SignWith, userChose: boolean, secrets: SecretsSet | null): SignWith {
  if (userChose || current !== 'original' || !secrets) return current;
  if (secrets.current) return 'current';
  if (secrets.previous) return 'previous';
  return current;
}

export interface SigningNote {
  kind: 'ok' | 'warn';
  text: string;
}

/** What the panel says about the signature that will be sent. */
export function signingNote(signWith: SignWith, edited: boolean, hadSignature: boolean, secrets: SecretsSet | null): SigningNote {
  const hint = (h: string | null | undefined) => (h ? ` (${h})` : '');
  switch (signWith) {
    case 'original':
      if (!hadSignature) return { kind: edited ? 'warn' : 'ok', text: 'Sent without a signature header, as it was received: a verifying receiver answers 401.' };
      return edited
        ? {
            kind: 'warn',
            text: 'The signature header as received no longer matches the edited body: a verifying receiver will reject it (401). Keep it only to reproduce a failure.',
          }
        : { kind: 'ok', text: 'The aftership-hmac-sha256 header exactly as received: it still matches the unedited bytes.' };
    case 'current':
      return { kind: 'ok', text: `aftership-hmac-sha256 re-computed with the current secret${hint(secrets?.currentHint)} over the bytes sent.` };
    case 'previous':
      return { kind: 'ok', text: `aftership-hmac-sha256 re-computed with the previous secret${hint(secrets?.previousHint)}: a receiver still accepting it verifies it as the previous secret.` };
    case 'typed':
      return {
        kind: 'ok',
        text: 'aftership-hmac-sha256 re-computed with the secret you typed, as typed (spaces count). It goes only to Shipwatch on this computer, once: never stored or shown again.',
      };
  }
}

/** The summary beside the send button, e.g. "edited body · signed with the previous secret". */
export function signingLabel(signWith: SignWith): string {
  return signWith === 'original' ? 'signature as received' : signWith === 'typed' ? 'signed with the typed secret' : `signed with the ${signWith} secret`;
}

// ---- copy as curl ----------------------------------------------------------------------------

export type CurlTarget = 'local' | 'public' | 'url';

/** The URL "copy as curl" posts to, or why there is none. */
export function curlUrl(
  target: CurlTarget,
  urls: { local: string | null; public: string | null },
  typed: string,
): { url: string | null; error: string | null } {
  if (target === 'local') return urls.local ? { url: urls.local, error: null } : { url: null, error: 'The receiver is not listening: fix its address in Settings.' };
  if (target === 'public')
    return urls.public ? { url: urls.public, error: null } : { url: null, error: 'No public URL: set the URL your tunnel printed in Settings.' };
  const error = checkTargetUrl(typed);
  return error ? { url: null, error } : { url: typed.trim(), error: null };
}
