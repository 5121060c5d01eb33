import { useEffect, useMemo, useState } from 'preact/hooks';
import { errorMessage } from '../backend';
import type { DeliveryDetail } from '../generated/DeliveryDetail';
import type { ForwardAttempt } from '../generated/ForwardAttempt';
import type { ReplayResult } from '../generated/ReplayResult';
import { base64ToBytes, decodeUtf8Strict } from '../lib/bytes';
import { bodyEdited, buildReplayRequest, isNewerAttempt, loadLastReplayUrl, saveLastReplayUrl, type ReplayForm } from '../lib/devtools';
import { formatBytes, statusKind } from '../lib/format';
import { deliveryHref } from '../lib/router';
import { api } from '../state/app';
import { noteForwards, onForward } from '../state/forwards';
import { ErrorBox } from './common';
import { ForwardList } from './Forward';

function ReplayResultView({ r }: { r: ReplayResult }) {
  const [showHeaders, setShowHeaders] = useState(false);
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
            <table class="headers" data-testid="replay-headers">
              <tbody>
                {r.headers.map(([n, v]) => (
                  <tr>
                    <th>{n}</th>
                    <td class="mono">{v}</td>
                  </tr>
                ))}
              </tbody>
            </table>
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

/** Send this delivery again: into Shipwatch's own pipeline, or to any URL (optionally re-signed / edited). */
export function ReplayPanel({ d }: { d: DeliveryDetail }) {
  const original = useMemo(() => decodeUtf8Strict(base64ToBytes(d.body_base64)), [d.body_base64]);
  const [form, setForm] = useState<ReplayForm>(() => ({
    target: 'shipwatch',
    url: loadLastReplayUrl(),
    resign: false,
    editing: false,
    body: original ?? '',
    original,
  }));
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ReplayResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [autoResigned, setAutoResigned] = useState(false);
  const set = (patch: Partial<ReplayForm>) => setForm({ ...form, ...patch });
  const edited = bodyEdited(form);
  const built = buildReplayRequest(form);
  const canEdit = original !== null && !d.body_truncated;

  const send = async () => {
    if (built.error) return;
    setBusy(true);
    setError(null);
    setResult(null);
    if (form.target === 'url') saveLastReplayUrl(form.url);
    try {
      setResult(await api().replayDelivery(d.id, built.request));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" data-testid="replay-panel">
      <div class="card-head">
        <h2>Replay</h2>
        <span class="muted small">
          {form.target === 'shipwatch'
            ? 'Through the whole pipeline again: verified with the secrets set now, stored as a new delivery.'
            : 'Byte-exact, with the original headers (minus host, content-length and hop-by-hop headers).'}
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
            <button
              type="button"
              role="radio"
              aria-checked={form.target === 'shipwatch'}
              class={form.target === 'shipwatch' ? 'active' : ''}
              data-testid="replay-target-shipwatch"
              onClick={() => set({ target: 'shipwatch' })}
            >
              Into Shipwatch
            </button>
            <button
              type="button"
              role="radio"
              aria-checked={form.target === 'url'}
              class={form.target === 'url' ? 'active' : ''}
              data-testid="replay-target-url"
              onClick={() => set({ target: 'url' })}
            >
              To a URL
            </button>
          </div>
          {form.target === 'url' && (
            <input
              data-testid="replay-url"
              class="grow"
              type="url"
              spellcheck={false}
              aria-label="URL to replay to"
              placeholder="http://127.0.0.1:3000/webhooks/aftership"
              value={form.url}
              onInput={(e) => set({ url: (e.currentTarget as HTMLInputElement).value })}
            />
          )}
        </div>
        <div class="inline replay-options">
          <label class="check">
            <input type="checkbox" data-testid="replay-resign" checked={form.resign} onChange={(e) => set({ resign: (e.currentTarget as HTMLInputElement).checked })} />{' '}
            Re-sign with the current secret
          </label>
          <label class="check" title={canEdit ? undefined : 'Only a complete UTF-8 body can be edited'}>
            <input
              type="checkbox"
              data-testid="replay-edit"
              disabled={!canEdit}
              checked={form.editing}
              onChange={(e) => set({ editing: (e.currentTarget as HTMLInputElement).checked, body: form.body || (original ?? '') })}
            />{' '}
            Edit body
          </label>
        </div>
        {form.editing && (
          <>
            <textarea
              data-testid="replay-body"
              class="code replay-editor"
              spellcheck={false}
              rows={Math.min(18, Math.max(6, form.body.split('\n').length + 1))}
              value={form.body}
              onInput={(e) => {
                const body = (e.currentTarget as HTMLTextAreaElement).value;
                // An edited body no longer matches its signature: re-sign unless the user said otherwise.
                const first = !edited && body !== (original ?? '') && !form.resign && !autoResigned;
                if (first) setAutoResigned(true);
                setForm({ ...form, body, resign: first ? true : form.resign });
              }}
            />
            <div class="inline small">
              <span class="muted">
                {edited ? `Edited · ${formatBytes(new TextEncoder().encode(form.body).length)}` : 'Unchanged: the stored bytes are sent'}
              </span>
              {edited && (
                <button type="button" class="btn btn-tiny btn-ghost" onClick={() => set({ body: original ?? '' })}>
                  Undo edits
                </button>
              )}
            </div>
            {edited && (
              <p class={`note${form.resign ? '' : ' warn'}`} data-testid="replay-resign-note">
                {form.resign
                  ? 'An edited body needs a new signature: it will be re-signed with the current secret.'
                  : 'An edited body needs a new signature: sent with the original one, it will fail verification.'}
              </p>
            )}
          </>
        )}
        {built.error && form.target === 'url' && form.url.trim() !== '' && <p class="field-error">{built.error}</p>}
        <div class="inline">
          <button type="submit" class="btn btn-primary" data-testid="replay-send" disabled={busy || !!built.error}>
            {busy ? 'Sending…' : form.target === 'shipwatch' ? 'Replay into Shipwatch' : 'Replay to URL'}
          </button>
          {form.resign && <span class="pill">re-signed</span>}
          {edited && <span class="pill">edited body</span>}
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
