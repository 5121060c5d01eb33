import { useEffect, useMemo, useState } from 'preact/hooks';
import { errorMessage } from '../backend';
import type { DeliveryDetail } from '../generated/DeliveryDetail';
import type { ForwardAttempt } from '../generated/ForwardAttempt';
import type { ReplayResult } from '../generated/ReplayResult';
import type { SignWith } from '../generated/SignWith';
import { base64ToBytes, decodeUtf8Strict } from '../lib/bytes';
import { buildReplayCurl } from '../lib/curl';
import { isNewerAttempt, loadLastReplayUrl, saveLastReplayUrl } from '../lib/devtools';
import { formatBytes, statusKind } from '../lib/format';
import { jsonError } from '../lib/json';
import {
  bodyModel,
  curlUrl,
  isEdited,
  replayRequest,
  signingLabel,
  signingNote,
  signWithAfterEdit,
  type CurlTarget,
  type ReplayChoice,
  type SecretsSet,
} from '../lib/replay';
import { deliveryHref } from '../lib/router';
import { api, showToast, status } from '../state/app';
import { noteForwards, onForward } from '../state/forwards';
import { BodyEditor } from './BodyEditor';
import { copyText, ErrorBox, HeaderTable } from './common';
import { ForwardList } from './Forward';
import './replay.css';

function ReplayResultView({ r }: { r: ReplayResult }) {
  const [showHeaders, setShowHeaders] = useState(false);
  const [showSent, setShowSent] = useState(false);
  const kind = r.error ? 'fail' : r.status !== null && statusKind(r.status) === 'ok' ? 'pass' : 'fail';
  return (
    <div class={`replay-result sig sig-${kind}`} data-testid="replay-result" data-status={r.status ?? ''} data-error={r.error ? 'true' : 'false'}>
      <div class="sig-head">
        {r.error ? (
          <strong class="bad">✗ Not sent</strong>
        ) : (
          <span class={`http http-${statusKind(r.status ?? 0)} http-large`} data-testid="replay-status">
            {r.status}
          </span>
        )}
        <span class="mono small">{r.target}</span>
        <span class="muted small" data-testid="replay-time">
          {r.round_trip_ms} ms
        </span>
      </div>
      <p class="small" data-testid="replay-sent" data-signed-with={r.signed_with} data-body-edited={r.body_edited ? 'true' : 'false'}>
        Sent {r.body_edited ? 'the edited body' : 'the stored bytes'}, {signingLabel(r.signed_with)}
        {r.signature_stale ? ' (it no longer matches the edited body)' : ''}.{' '}
        <button type="button" class="btn btn-tiny btn-ghost" onClick={() => setShowSent(!showSent)} aria-expanded={showSent}>
          {showSent ? '▾' : '▸'} {r.sent_headers.length} request headers
        </button>
      </p>
      {showSent && (
        <HeaderTable headers={r.sent_headers} testid="replay-sent-headers" />
      )}
      {r.error && (
        <p class="sig-diagnosis" data-testid="replay-error">
          {r.error}
        </p>
      )}
      {r.delivery_id !== null && (
        <p>
          Stored as{' '}
          <a href={deliveryHref(r.delivery_id)} data-testid="replay-delivery-link">
            delivery #{r.delivery_id} →
          </a>
        </p>
      )}
      {!r.error && (
        <>
          <button type="button" class="btn btn-tiny btn-ghost" onClick={() => setShowHeaders(!showHeaders)} aria-expanded={showHeaders}>
            {showHeaders ? '▾' : '▸'} {r.headers.length} response headers
          </button>
          {showHeaders && (
            <HeaderTable headers={r.headers} testid="replay-headers" />
          )}
          {r.body ? (
            <pre class="code raw replay-body" data-testid="replay-response-body">
              {r.body}
            </pre>
          ) : (
            <p class="muted small">Empty response body.</p>
          )}
        </>
      )}
    </div>
  );
}

const SIGN_OPTIONS: { value: SignWith; label: string }[] = [
  { value: 'original', label: 'As received' },
  { value: 'current', label: 'Current secret' },
  { value: 'previous', label: 'Previous secret' },
  { value: 'typed', label: 'Type a secret' },
];

/**
 * Send this delivery again: into Shipwatch's own pipeline, or to any URL. The body editor shows
 * JSON re-indented but the stored bytes are sent until it is edited; the signature is the one
 * received or re-computed with the current, the previous or a typed secret; "copy as curl" gives
 * the same request for any URL.
 */
export function ReplayPanel({ d }: { d: DeliveryDetail }) {
  const bytes = useMemo(() => base64ToBytes(d.body_base64), [d.body_base64]);
  const model = useMemo(() => bodyModel(bytes, d.body_truncated), [bytes, d.body_truncated]);
  const storedText = useMemo(() => decodeUtf8Strict(bytes), [bytes]);
  const hadSignature = useMemo(() => d.headers.some(([n]) => n.trim().toLowerCase() === 'aftership-hmac-sha256'), [d.headers]);
  const [target, setTarget] = useState<'shipwatch' | 'url'>('shipwatch');
  const [url, setUrl] = useState(loadLastReplayUrl);
  const [text, setText] = useState<string | null>(model.unedited);
  const [resetSeq, setResetSeq] = useState(0);
  const [signWith, setSignWith] = useState<SignWith>('original');
  const [userChose, setUserChose] = useState(false);
  const [typedSecret, setTypedSecret] = useState('');
  const [showSecret, setShowSecret] = useState(false);
  const [secrets, setSecrets] = useState<SecretsSet | null>(null);
  const [curlTarget, setCurlTarget] = useState<CurlTarget>('local');
  const [curlOther, setCurlOther] = useState('');
  const [curlBusy, setCurlBusy] = useState(false);
  const [curlError, setCurlError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ReplayResult | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setText(model.unedited);
    setResult(null);
    setError(null);
  }, [model]);
  useEffect(() => {
    api()
      .getSettings()
      .then((s) => setSecrets({ current: s.secret_set, currentHint: s.secret_hint, previous: s.previous_secret_set, previousHint: s.previous_secret_hint }))
      .catch(() => setSecrets(null));
  }, [d.id]);

  const edited = isEdited(model, text);
  const choice: ReplayChoice = { target, url, signWith, typedSecret, model, text };
  const built = replayRequest(choice, secrets);
  const note = signingNote(signWith, edited, hadSignature, secrets);
  const invalidJson = edited && model.kind === 'json' && text !== null ? jsonError(text) : null;
  const st = status.value;
  const curl = curlUrl(curlTarget, { local: st?.local_webhook_url ?? null, public: st?.public_webhook_url ?? null }, curlOther);

  const onEdit = (t: string) => {
    // The first edit: a signature as received no longer matches, so re-sign unless the user chose.
    if (!isEdited(model, text) && isEdited(model, t)) setSignWith(signWithAfterEdit(signWith, userChose, secrets));
    setText(t);
  };
  const reset = () => {
    setResetSeq(resetSeq + 1);
    setText(model.unedited);
    if (!userChose) setSignWith('original');
  };
  const choose = (w: SignWith) => {
    setSignWith(w);
    setUserChose(true);
  };

  const send = async () => {
    if (built.error) return;
    setBusy(true);
    setError(null);
    setResult(null);
    if (target === 'url') saveLastReplayUrl(url);
    try {
      setResult(await api().replayDelivery(d.id, built.request));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  const copyCurl = async () => {
    const dry = replayRequest(choice, secrets, true);
    if (dry.error || !curl.url) return;
    setCurlBusy(true);
    setCurlError(null);
    try {
      // The engine prepares the headers (received order, signature for the chosen secret): the
      // secret itself never goes into the command.
      const prepared = await api().replayDelivery(d.id, dry.request);
      const cmd = buildReplayCurl({ url: curl.url, headers: prepared.sent_headers, bodyText: edited ? text : storedText, bodyBase64: d.body_base64 });
      (window as unknown as { __lastCopied?: string }).__lastCopied = cmd;
      if (await copyText(cmd)) showToast(`curl copied: posts to ${curl.url}`);
      else showToast('Could not reach the clipboard: select the text and copy it by hand.', 'error');
    } catch (e) {
      setCurlError(errorMessage(e));
    } finally {
      setCurlBusy(false);
    }
  };

  const optionDisabled = (w: SignWith): string | null =>
    w === 'current' && secrets && !secrets.current
      ? 'No current secret is set (Settings)'
      : w === 'previous' && secrets && !secrets.previous
        ? 'No previous secret is set (Settings, while rotating)'
        : null;

  return (
    <section class="card replay" data-testid="replay-panel" data-delivery-id={d.id} data-edited={edited ? 'true' : 'false'} data-sign-with={signWith}>
      <div class="card-head">
        <h2>Replay</h2>
        <span class="muted small">
          {target === 'shipwatch'
            ? 'Through the whole pipeline again: verified with the secrets set now, stored as a new delivery.'
            : 'With the original headers in their order (minus host, content-length and hop-by-hop headers).'}
        </span>
      </div>
      <form
        class="replay-form"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <div class="inline">
          <div class="seg" role="radiogroup" aria-label="Replay to">
            <button type="button" role="radio" aria-checked={target === 'shipwatch'} class={target === 'shipwatch' ? 'active' : ''} data-testid="replay-target-shipwatch" onClick={() => setTarget('shipwatch')}>
              Into Shipwatch
            </button>
            <button type="button" role="radio" aria-checked={target === 'url'} class={target === 'url' ? 'active' : ''} data-testid="replay-target-url" onClick={() => setTarget('url')}>
              To a URL
            </button>
          </div>
          {target === 'url' && (
            <input
              data-testid="replay-url"
              class="grow"
              type="url"
              spellcheck={false}
              aria-label="URL to replay to"
              placeholder="http://127.0.0.1:3000/webhooks/aftership"
              value={url}
              onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </div>

        <div class="replay-section">
          <div class="replay-section-head">
            <h3>Body</h3>
            <span class={`replay-state${edited ? ' edited' : ''}`} data-testid="replay-body-state" data-edited={edited ? 'true' : 'false'}>
              {model.kind === 'binary'
                ? `${formatBytes(model.size)} · binary`
                : edited
                  ? `Edited · your text is sent (${formatBytes(new TextEncoder().encode(text ?? '').length)})`
                  : `Unchanged · the ${formatBytes(model.size)} received are sent byte for byte${model.kind === 'json' ? ' (shown re-indented)' : ''}`}
            </span>
            <span class="spacer" />
            {model.kind !== 'binary' && (
              <button type="button" class="btn btn-tiny btn-ghost" data-testid="replay-reset" disabled={!edited} onClick={reset} title="Put the body back as received: the stored bytes are sent again">
                ↺ Reset to original
              </button>
            )}
          </div>
          {model.kind === 'binary' || model.display === null ? (
            <p class="note" data-testid="replay-binary">
              Binary body (not UTF-8 text): replayed as received, not editable.
            </p>
          ) : (
            <>
              <BodyEditor
                doc={model.display}
                json={model.kind === 'json'}
                lineSeparator={model.lineSeparator}
                label="Body to replay"
                resetSeq={resetSeq}
                onChange={onEdit}
                testid="replay-editor"
              />
              {model.truncated && (
                <p class="note warn" data-testid="replay-truncated">
                  Only the first {formatBytes(model.size)} were kept (the delivery was over the size limit): complete or shorten the body to replay it.
                </p>
              )}
              {invalidJson && (
                <p class="note warn" data-testid="replay-invalid-json">
                  No longer valid JSON ({invalidJson}): it is sent as typed.
                </p>
              )}
              {edited && model.mixedLineBreaks && <p class="muted small">Its mixed line breaks are sent as \n now that it is edited.</p>}
            </>
          )}
        </div>

        <div class="replay-section">
          <div class="replay-section-head">
            <h3 id={`replay-sign-${d.id}`}>Signature</h3>
            <div class="seg" role="radiogroup" aria-labelledby={`replay-sign-${d.id}`}>
              {SIGN_OPTIONS.map((o) => {
                const why = optionDisabled(o.value);
                return (
                  <button
                    type="button"
                    role="radio"
                    aria-checked={signWith === o.value}
                    class={signWith === o.value ? 'active' : ''}
                    data-testid={`replay-sign-${o.value}`}
                    disabled={why !== null}
                    title={why ?? undefined}
                    onClick={() => choose(o.value)}
                  >
                    {o.label}
                  </button>
                );
              })}
            </div>
          </div>
          {signWith === 'typed' && (
            <div class="inline replay-secret">
              <input
                data-testid="replay-secret"
                class="grow"
                type={(showSecret ? 'text' : 'password') as 'text'}
                autocomplete="off"
                spellcheck={false}
                aria-label="Secret to sign with"
                placeholder="The webhook secret to sign with: used once, never stored"
                value={typedSecret}
                onInput={(e) => setTypedSecret((e.currentTarget as HTMLInputElement).value)}
              />
              <button type="button" class="btn btn-small btn-ghost" onClick={() => setShowSecret(!showSecret)} aria-pressed={showSecret}>
                {showSecret ? 'Hide' : 'Show'}
              </button>
            </div>
          )}
          {signWith === 'typed' && typedSecret !== typedSecret.trim() && (
            <p class="note warn small">The secret you typed starts or ends with a space: it is signed with it as typed.</p>
          )}
          <p class={`note${note.kind === 'warn' ? ' warn' : ''}`} data-testid="replay-sign-note" data-kind={note.kind}>
            {note.text}
          </p>
        </div>

        {built.error && (target === 'url' ? url.trim() !== '' || !built.request.to : true) && (
          <p class="field-error" data-testid="replay-problem">
            {built.error}
          </p>
        )}
        <div class="inline">
          <button type="submit" class="btn btn-primary" data-testid="replay-send" disabled={busy || !!built.error}>
            {busy ? 'Sending…' : target === 'shipwatch' ? 'Replay into Shipwatch' : 'Replay to URL'}
          </button>
          <span class="pill" data-testid="replay-summary">
            {edited ? 'edited body' : 'stored bytes'} · {signingLabel(signWith)}
          </span>
        </div>

        <div class="replay-section replay-curl">
          <div class="replay-section-head">
            <h3 id={`replay-curl-${d.id}`}>Copy as curl</h3>
            <div class="seg" role="radiogroup" aria-labelledby={`replay-curl-${d.id}`}>
              {(
                [
                  ['local', 'Local receiver'],
                  ['public', 'Public URL'],
                  ['url', 'Another URL'],
                ] as [CurlTarget, string][]
              ).map(([v, label]) => (
                <button type="button" role="radio" aria-checked={curlTarget === v} class={curlTarget === v ? 'active' : ''} data-testid={`replay-curl-target-${v}`} onClick={() => setCurlTarget(v)}>
                  {label}
                </button>
              ))}
            </div>
          </div>
          <div class="inline">
            {curlTarget === 'url' ? (
              <input
                data-testid="replay-curl-url"
                class="grow"
                type="url"
                spellcheck={false}
                aria-label="URL the curl command posts to"
                placeholder="https://staging.example.com/webhooks/aftership"
                value={curlOther}
                onInput={(e) => setCurlOther((e.currentTarget as HTMLInputElement).value)}
              />
            ) : (
              <code class="grow replay-curl-url" data-testid="replay-curl-shown-url">
                {curl.url ?? '—'}
              </code>
            )}
            <button
              type="button"
              class="btn btn-small"
              data-testid="replay-copy-curl"
              disabled={curlBusy || !curl.url || !!replayRequest(choice, secrets, true).error}
              onClick={() => void copyCurl()}
            >
              {curlBusy ? 'Preparing…' : 'Copy as curl'}
            </button>
          </div>
          {curl.error && (curlTarget !== 'url' || curlOther.trim() !== '') && <p class="field-error small">{curl.error}</p>}
          <p class="muted small">
            The same request as the replay ({edited ? 'your edited body' : 'the stored bytes'}, {signingLabel(signWith)}), headers in the order received. It carries the
            signature computed here, never a secret.
          </p>
          {curlError && <ErrorBox message={curlError} />}
        </div>
      </form>
      {error && <ErrorBox message={error} />}
      {result && <ReplayResultView r={result} />}
    </section>
  );
}

/** What forward mode did with this delivery (shown when forward mode is on, or when there were attempts). */
export function ForwardsPanel({ id }: { id: number }) {
  const [forwardUrl, setForwardUrl] = useState<string | null>(null);
  const [list, setList] = useState<ForwardAttempt[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      const l = await api().deliveryForwards(id);
      setList(l);
      noteForwards(l);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  useEffect(() => {
    setList(null);
    api()
      .getSettings()
      .then((s) => {
        setForwardUrl(s.forward_url);
        if (s.forward_url) void load();
      })
      .catch(() => {});
  }, [id]);
  useEffect(() => onForward((a) => a.delivery_id === id && void load()), [id]);
  if (!forwardUrl && !(list && list.length)) return null;
  const sorted = list ? [...list].sort((a, b) => (isNewerAttempt(a, b) ? 1 : -1)) : null;
  return (
    <section class="card" data-testid="forwards-panel">
      <div class="card-head">
        <h2>Forwarded</h2>
        {forwardUrl && (
          <span class="muted small">
            Forward mode sends it on to <code>{forwardUrl}</code>
          </span>
        )}
      </div>
      {error && <ErrorBox message={error} onRetry={() => void load()} />}
      {sorted === null ? (
        !error && <p class="muted small">Loading…</p>
      ) : sorted.length === 0 ? (
        <p class="muted small" data-testid="forward-none">
          Not forwarded (forward mode sends valid deliveries{' '}
          {forwardUrl ? 'from when it was turned on' : ''}; failing ones only with “also forward failing deliveries”).
        </p>
      ) : (
        <ForwardList attempts={sorted} />
      )}
    </section>
  );
}
