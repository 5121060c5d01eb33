import { EditorState } from '@codemirror/state';
import { describe, expect, it } from 'vitest';
import { editorExtensions } from '../src/lib/codemirror';
import { bodyModel, bodyToSend, curlUrl, editorNormalize, isEdited, replayRequest, signingNote, signWithAfterEdit, type ReplayChoice, type SecretsSet } from '../src/lib/replay';

const enc = (s: string) => new TextEncoder().encode(s);

/** What the editor gives back for the model's text before any edit (the real CodeMirror state). */
function editorText(model: ReturnType<typeof bodyModel>): string {
  const state = EditorState.create({ doc: model.display!, extensions: editorExtensions({ json: model.kind === 'json', lineSeparator: model.lineSeparator }) });
  return state.sliceDoc();
}

/** Types `insert` at `at` the way the editor would, and gives back its text. */
function editorEdit(model: ReturnType<typeof bodyModel>, at: number, insert: string): string {
  const state = EditorState.create({ doc: model.display!, extensions: editorExtensions({ json: model.kind === 'json', lineSeparator: model.lineSeparator }) });
  return state.update({ changes: { from: at, insert } }).state.sliceDoc();
}

// Spacing, escapes, key order and a number form no serialiser would write back.
const ODD = '{ "msg":{"title" : "caf\\u00e9 \\/ \\"q\\"","tag":"InTransit"},"event":"tracking_update",\r\n\t"n": 1.50e+2, "big": 12345678901234567890 }';

describe('body model: shown pretty, sent as stored unless edited', () => {
  it('shows JSON 2-space indented, every token as sent', () => {
    const m = bodyModel(enc(ODD), false);
    expect(m.kind).toBe('json');
    expect(m.display).toBe(
      '{\n  "msg": {\n    "title": "caf\\u00e9 \\/ \\"q\\"",\n    "tag": "InTransit"\n  },\n  "event": "tracking_update",\n  "n": 1.50e+2,\n  "big": 12345678901234567890\n}',
    );
    expect(m.size).toBe(enc(ODD).length);
  });

  it('unedited, no body goes to the engine (it sends the stored bytes); the real editor agrees it is unedited', () => {
    const m = bodyModel(enc(ODD), false);
    const text = editorText(m);
    expect(isEdited(m, text)).toBe(false);
    expect(bodyToSend(m, text)).toBeUndefined();
  });

  it('edited, the text is sent as typed; put back, the stored bytes again', () => {
    const m = bodyModel(enc(ODD), false);
    const text = editorEdit(m, m.display!.indexOf('InTransit'), 'X');
    expect(isEdited(m, text)).toBe(true);
    expect(bodyToSend(m, text)).toContain('"XInTransit"');
    expect(bodyToSend(m, m.unedited)).toBeUndefined();
  });

  it('text bodies are shown as they are; CRLF kept by the editor; mixed breaks said', () => {
    const crlf = bodyModel(enc('a=1\r\nb=2\r\n'), false);
    expect([crlf.kind, crlf.lineSeparator, crlf.mixedLineBreaks]).toEqual(['text', '\r\n', false]);
    expect(editorText(crlf)).toBe('a=1\r\nb=2\r\n');
    expect(isEdited(crlf, editorText(crlf))).toBe(false);
    expect(editorEdit(crlf, 0, 'x')).toBe('xa=1\r\nb=2\r\n');

    const mixed = bodyModel(enc('a\r\nb\nc\rd'), false);
    expect([mixed.lineSeparator, mixed.mixedLineBreaks]).toEqual([null, true]);
    expect(editorText(mixed)).toBe('a\nb\nc\nd');
    expect(isEdited(mixed, editorText(mixed))).toBe(false);
    expect(editorNormalize('a\r\nb', null)).toBe('a\nb');

    const plain = bodyModel(enc('not json {'), false);
    expect([plain.kind, plain.display, plain.mixedLineBreaks]).toEqual(['text', 'not json {', false]);
  });

  it('binary bodies are not editable', () => {
    for (const b of [new Uint8Array([0x1f, 0x8b, 0x08, 0xff]), enc('a\u0000b')]) {
      const m = bodyModel(b, false);
      expect([m.kind, m.display, m.unedited]).toEqual(['binary', null, null]);
      expect(isEdited(m, 'anything')).toBe(false);
      expect(bodyToSend(m, 'anything')).toBeUndefined();
    }
  });

  it('a truncated body is shown as text and must be edited to be replayed', () => {
    const m = bodyModel(enc('{"event":"tracking_update","msg":{"tit'), true);
    expect(m.kind).toBe('text');
    const c: ReplayChoice = { target: 'shipwatch', url: '', signWith: 'current', typedSecret: '', model: m, text: m.unedited };
    expect(replayRequest(c, null).error).toMatch(/over the size limit/);
    expect(replayRequest({ ...c, text: '{}' }, null)).toEqual({ request: { sign_with: 'current', body: '{}' }, error: null });
  });
});

const BOTH: SecretsSet = { current: true, currentHint: '••••a1b2', previous: true, previousHint: '••••9f00' };
const CURRENT_ONLY: SecretsSet = { current: true, previous: false };

describe('the replay request', () => {
  const m = bodyModel(enc(ODD), false);
  const base: ReplayChoice = { target: 'shipwatch', url: '', signWith: 'original', typedSecret: '', model: m, text: m.unedited };

  it('plain: nothing but what differs from a byte-exact replay', () => {
    expect(replayRequest(base, BOTH)).toEqual({ request: {}, error: null });
    expect(replayRequest({ ...base, target: 'url', url: ' http://127.0.0.1:9/h ' }, BOTH)).toEqual({ request: { to: 'http://127.0.0.1:9/h' }, error: null });
    expect(replayRequest({ ...base, target: 'url', url: 'ftp://x' }, BOTH).error).toMatch(/http/);
  });

  it('each signature choice; the typed secret only with typed', () => {
    expect(replayRequest({ ...base, signWith: 'current' }, BOTH).request).toEqual({ sign_with: 'current' });
    expect(replayRequest({ ...base, signWith: 'previous' }, BOTH).request).toEqual({ sign_with: 'previous' });
    expect(replayRequest({ ...base, signWith: 'typed', typedSecret: ' s3 ' }, BOTH).request).toEqual({ sign_with: 'typed', secret: ' s3 ' });
    // A secret typed, then another choice made: it is not sent.
    expect(replayRequest({ ...base, signWith: 'current', typedSecret: 's3' }, BOTH).request).toEqual({ sign_with: 'current' });
    expect(replayRequest({ ...base, signWith: 'typed' }, BOTH).error).toMatch(/Type the secret/);
    expect(replayRequest({ ...base, signWith: 'previous' }, CURRENT_ONLY).error).toMatch(/No previous secret/);
    expect(replayRequest({ ...base, signWith: 'current' }, { current: false, previous: true }).error).toMatch(/No current secret/);
    // Settings not known: the engine decides.
    expect(replayRequest({ ...base, signWith: 'previous' }, null).error).toBeNull();
  });

  it('a dry run for copy as curl: no target needed, the edited body and the choice go along', () => {
    const edited = { ...base, target: 'url' as const, url: '', signWith: 'previous' as const, text: m.unedited!.replace('InTransit', 'Delivered') };
    const r = replayRequest(edited, BOTH, true);
    expect(r.error).toBeNull();
    expect(r.request).toEqual({ sign_with: 'previous', body: edited.text, dry_run: true });
  });

  it('the first edit re-signs with the current secret (else the previous), unless the user chose', () => {
    expect(signWithAfterEdit('original', false, BOTH)).toBe('current');
    expect(signWithAfterEdit('original', false, { current: false, previous: true })).toBe('previous');
    expect(signWithAfterEdit('original', false, { current: false, previous: false })).toBe('original');
    expect(signWithAfterEdit('original', true, BOTH)).toBe('original');
    expect(signWithAfterEdit('typed', false, BOTH)).toBe('typed');
  });
});

describe('what the panel says about the signature', () => {
  it('as received: fine unedited, a warning once edited', () => {
    expect(signingNote('original', false, true, BOTH)).toEqual({ kind: 'ok', text: expect.stringMatching(/exactly as received/) });
    const stale = signingNote('original', true, true, BOTH);
    expect(stale.kind).toBe('warn');
    expect(stale.text).toMatch(/no longer matches the edited body/);
    expect(signingNote('original', false, false, BOTH).text).toMatch(/without a signature header/);
  });
  it('names the secret, with its masked hint, never more', () => {
    expect(signingNote('current', true, true, BOTH).text).toMatch(/current secret \(••••a1b2\)/);
    expect(signingNote('previous', true, true, BOTH).text).toMatch(/previous secret \(••••9f00\).*verifies it as the previous/);
    expect(signingNote('typed', false, true, BOTH).text).toMatch(/secret you typed.*never stored/);
  });
});

describe('where copy as curl posts', () => {
  const urls = { local: 'http://127.0.0.1:8787/webhooks/aftership', public: 'https://hooks.example.com/webhooks/aftership' };
  it('the local receiver by default, the public URL, or a URL typed', () => {
    expect(curlUrl('local', urls, '')).toEqual({ url: urls.local, error: null });
    expect(curlUrl('public', urls, '')).toEqual({ url: urls.public, error: null });
    expect(curlUrl('url', urls, ' https://staging.example.com/h ')).toEqual({ url: 'https://staging.example.com/h', error: null });
    expect(curlUrl('url', urls, 'nope').error).toMatch(/not a URL/);
    expect(curlUrl('public', { ...urls, public: null }, '').error).toMatch(/No public URL/);
    expect(curlUrl('local', { ...urls, local: null }, '').error).toMatch(/not listening/);
  });
});
