import type { ComponentChildren } from 'preact';
import { webhookVersionLabel } from '../lib/desk';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../backend';
import { CopyButton, DuplicateMark, ErrorBox, HeaderTable, HttpStatus, Loading, TagBadge, VerdictBadge } from '../components/common';
import { ForwardsPanel, ReplayPanel } from '../components/Replay';
import type { DeliveryDetail } from '../generated/DeliveryDetail';
import type { DiagnosisCode } from '../generated/DiagnosisCode';
import type { SignatureReport } from '../generated/SignatureReport';
import { base64ToBytes, decodeUtf8Strict, hasControlChars, hexDump } from '../lib/bytes';
import { buildCurl } from '../lib/curl';
import { diagnosisLabel, eventLabel, formatBytes, formatFullTime, relativeTime, verdictInfo } from '../lib/format';
import { prettyJsonTokens, type JsonToken } from '../lib/json';
import { deliveryHref, feedHref, shipmentHref } from '../lib/router';
import { api, goBack, onLive, status } from '../state/app';

type BodyMode = 'pretty' | 'raw' | 'hex';

const HIGHLIGHT_LIMIT = 256 * 1024;
const HEX_LINES = 512;

function JsonView({ tokens }: { tokens: JsonToken[] }) {
  return (
    <pre class="code json" data-testid="body-pretty">
      {tokens.map((t) => (t.t === 'ws' || t.t === 'punct' ? t.s : <span class={`j-${t.t}`}>{t.s}</span>))}
    </pre>
  );
}

function Meta({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="meta">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

/** The received vs expected comparison and the diagnosis, for the stored check or a re-verify. */
function SignatureReportView({
  report,
  testid,
  secretLabel,
  code,
}: {
  report: SignatureReport;
  testid: string;
  secretLabel: string;
  /** The diagnosis code stored with the delivery (when it arrived or was last re-verified). */
  code?: DiagnosisCode | null;
}) {
  const v = verdictInfo(report.verdict);
  const same = report.received !== null && report.expected !== null && report.received.trim() === report.expected;
  return (
    <div class={`sig sig-${v.kind}`} data-testid={testid} data-verdict={report.verdict}>
      <div class="sig-head">
        <VerdictBadge verdict={report.verdict} large />
        <strong class="sig-title">{v.long}</strong>
        {report.secret && (
          <span class="pill" data-testid="sig-secret">
            matched the {report.secret} secret
          </span>
        )}
      </div>
      <p class="sig-diagnosis" data-testid="sig-diagnosis">
        {report.diagnosis}
      </p>
      {code && (
        <p class="sig-code muted small" data-testid="sig-code" data-diagnosis={code}>
          Reason <code>{code}</code> ({diagnosisLabel(code)}) ·{' '}
          <a href={feedHref({ diagnosis: code })} data-testid="sig-code-feed">
            every delivery with this reason →
          </a>
        </p>
      )}
      {report.advice && (
        <p class="sig-advice" data-testid="sig-advice">
          <strong>What to do:</strong> {report.advice}
        </p>
      )}
      <dl class="sig-values">
        <div>
          <dt>Received</dt>
          <dd>
            {report.received !== null ? (
              <code class="sig-value" data-testid="sig-received">
                {report.received === '' ? '(empty header)' : report.received}
              </code>
            ) : (
              <span class="muted">no aftership-hmac-sha256 header</span>
            )}
            {report.received !== null && report.received.length > 0 && (
              <span class="muted small">
                {' '}
                {report.received.length} chars
                {/^[0-9a-fA-F]{64}$/.test(report.received.trim()) ? ' — looks like hex, AfterShip sends base64' : ''}
              </span>
            )}
          </dd>
        </div>
        <div>
          <dt>Expected ({secretLabel})</dt>
          <dd>
            {report.expected !== null ? (
              <code class="sig-value" data-testid="sig-expected">
                {report.expected}
              </code>
            ) : (
              <span class="muted">no secret to compute it with</span>
            )}
            {report.received !== null && report.expected !== null && (
              <span class={same ? 'ok small' : 'bad small'}> {same ? '= identical' : '≠ different'}</span>
            )}
          </dd>
        </div>
      </dl>
    </div>
  );
}

function Reverify({ id }: { id: number }) {
  const [secret, setSecret] = useState('');
  const [show, setShow] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<SignatureReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  return (
    <div class="reverify">
      <form
        class="reverify-form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!secret) return;
          setBusy(true);
          setError(null);
          try {
            setResult(await api().reverifyDelivery(id, { secret }));
          } catch (err) {
            setResult(null);
            setError(errorMessage(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="reverify-secret">Try another secret</label>
        <input
          id="reverify-secret"
          data-testid="reverify-secret"
          type={(show ? 'text' : 'password') as 'text'}
          autocomplete="off"
          spellcheck={false}
          placeholder="Paste a secret: it is checked once, never stored"
          value={secret}
          onInput={(e) => setSecret((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="button" class="btn btn-small btn-ghost" onClick={() => setShow(!show)} aria-pressed={show}>
          {show ? 'Hide' : 'Show'}
        </button>
        <button type="submit" class="btn btn-small" data-testid="reverify-button" disabled={!secret || busy}>
          {busy ? 'Checking…' : 'Re-verify'}
        </button>
      </form>
      {error && <ErrorBox message={error} />}
      {result && (
        <>
          <p class="reverify-label">With the secret you typed:</p>
          <SignatureReportView report={result} testid="reverify-result" secretLabel="with the secret you typed" />
        </>
      )}
    </div>
  );
}

function Body({ d }: { d: DeliveryDetail }) {
  const bytes = useMemo(() => base64ToBytes(d.body_base64), [d.body_base64]);
  const text = useMemo(() => decodeUtf8Strict(bytes), [bytes]);
  const tokens = useMemo(() => (text !== null && bytes.length <= HIGHLIGHT_LIMIT ? prettyJsonTokens(text) : null), [text]);
  const binary = text === null || hasControlChars(text);
  const [mode, setMode] = useState<BodyMode>(binary ? 'hex' : tokens ? 'pretty' : 'raw');
  const [allHex, setAllHex] = useState(false);
  const hex = useMemo(() => (mode === 'hex' ? hexDump(bytes, allHex ? Infinity : HEX_LINES) : null), [mode, bytes, allHex]);
  const localUrl = status.value?.local_webhook_url ?? `http://127.0.0.1:8787${d.path}`;
  const curl = () => buildCurl({ url: localUrl, headers: d.headers, body: bytes, bodyText: text, bodyBase64: d.body_base64 });

  return (
    <section class="card" data-testid="body-section">
      <div class="card-head">
        <h2>Body</h2>
        <span class="muted small">
          {formatBytes(bytes.length)}
          {text === null ? ' · not valid UTF-8' : tokens ? ' · JSON' : ' · text'}
        </span>
        <div class="seg" role="tablist" aria-label="Body view">
          {(['pretty', 'raw', 'hex'] as BodyMode[]).map((m) => (
            <button
              type="button"
              role="tab"
              aria-selected={mode === m}
              class={mode === m ? 'active' : ''}
              data-testid={`body-mode-${m}`}
              disabled={(m === 'pretty' && !tokens) || (m === 'raw' && text === null)}
              title={m === 'pretty' && !tokens ? 'The body is not valid JSON' : m === 'raw' && text === null ? 'Not valid UTF-8: see hex' : undefined}
              onClick={() => setMode(m)}
            >
              {m === 'pretty' ? 'Pretty' : m === 'raw' ? 'Raw' : 'Hex'}
            </button>
          ))}
        </div>
        <span class="spacer" />
        <CopyButton
          text={() => text ?? d.body_base64}
          label={text === null ? 'Copy body (base64)' : 'Copy body'}
          testid="copy-body"
        />
        <CopyButton
          text={curl}
          label="Copy as curl"
          done="curl copied"
          testid="copy-curl"
          title={`Replays these exact bytes, signed as received, to ${localUrl}`}
        />
      </div>
      {d.body_truncated && (
        <p class="note warn" data-testid="body-truncated">
          Only the first {formatBytes(bytes.length)} of {formatBytes(d.size)} were kept (the body was over the size
          limit). A replay of it will not carry a valid signature.
        </p>
      )}
      {d.parse_error && (
        <p class="note warn" data-testid="parse-error">
          Not read as an AfterShip delivery: {d.parse_error}
        </p>
      )}
      {bytes.length === 0 ? (
        <p class="muted">The body was empty.</p>
      ) : mode === 'pretty' && tokens ? (
        <>
          <JsonView tokens={tokens} />
          <p class="muted small">Re-indented for reading; every value is shown exactly as sent. The signature covers the raw bytes.</p>
        </>
      ) : mode === 'raw' && text !== null ? (
        <pre class="code raw" data-testid="body-raw">
          {text}
        </pre>
      ) : (
        <>
          <pre class="code hex" data-testid="body-hex">
            {hex?.lines.join('\n')}
          </pre>
          {hex?.truncated && (
            <button type="button" class="btn btn-small" onClick={() => setAllHex(true)}>
              Show all {formatBytes(bytes.length)}
            </button>
          )}
        </>
      )}
    </section>
  );
}

export function Delivery({ id }: { id: number }) {
  const [d, setD] = useState<DeliveryDetail | null>(null);
  const [error, setError] = useState<{ msg: string; notFound: boolean } | null>(null);
  // The view stays mounted from one delivery to the next: a late answer for the previous id is dropped.
  const current = useRef(id);
  current.current = id;
  const load = async () => {
    setError(null);
    try {
      const detail = await api().getDelivery(id);
      if (current.current === id) setD(detail);
    } catch (e) {
      if (current.current === id) setError({ msg: errorMessage(e), notFound: e instanceof ApiError && e.notFound });
    }
  };
  useEffect(() => {
    setD(null);
    void load();
    document.querySelector('.main')?.scrollTo(0, 0);
  }, [id]);
  // The shipment a delivery belongs to can be filled in later (projection): refresh on its own event.
  useEffect(() => onLive((e) => e.type === 'lagged' && void load()), [id]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key === 'Escape' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(t?.tagName)) goBack(feedHref());
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  if (error)
    return (
      <div class="view page" data-testid="delivery-view">
        <a href={feedHref()} class="back">
          ← Feed
        </a>
        {error.notFound ? (
          <ErrorBox message={`Delivery #${id} does not exist (it may be from another data directory).`} />
        ) : (
          <ErrorBox message={error.msg} onRetry={() => void load()} />
        )}
      </div>
    );
  if (!d) return <Loading what={`Loading delivery #${id}`} />;

  const s = d.signature;
  const headerSig = d.headers.filter(([n]) => n.toLowerCase() === 'aftership-hmac-sha256').length;
  return (
    <div class="view page" data-testid="delivery-view" data-id={d.id}>
      <div class="page-head">
        <a
          href={feedHref()}
          class="back"
          onClick={(e) => {
            e.preventDefault();
            goBack(feedHref());
          }}
        >
          ← Feed
        </a>
        <h1>
          Delivery #{d.id} <VerdictBadge verdict={d.verdict} /> <HttpStatus status={d.status} /> <DuplicateMark duplicate={d.duplicate} />
          {d.test && (
            <span class="test-mark" data-testid="test-mark" title="Sent by Shipwatch's test tools (x-shipwatch-test)">
              test
            </span>
          )}
        </h1>
        <span class="muted small" title={d.received_at}>
          {formatFullTime(d.received_at)} · {relativeTime(d.received_at)}
        </span>
      </div>

      <dl class="meta-grid">
        <Meta label="Event">{eventLabel(d.event)}</Meta>
        <Meta label="Tracking number">
          {d.tracking_number ? (
            d.shipment_id !== null ? (
              <a href={shipmentHref(d.shipment_id)} data-testid="shipment-link" class="mono">
                {d.tracking_number}
              </a>
            ) : (
              <span class="mono">{d.tracking_number}</span>
            )
          ) : (
            '—'
          )}
        </Meta>
        <Meta label="Courier">
          <span data-testid="delivery-courier" title={d.slug ? `AfterShip slug: ${d.slug}` : undefined}>
            {d.courier || d.slug || '—'}
          </span>
        </Meta>
        {d.title && <Meta label="Order title">{d.title}</Meta>}
        <Meta label="Webhook version">
          <span data-testid="webhook-version" title="The as-webhook-version header AfterShip sent (absent on legacy v4 URLs)">
            {webhookVersionLabel(d.webhook_version)}
          </span>
        </Meta>
        <Meta label="Tag">
          <TagBadge tag={d.tag} />
        </Meta>
        <Meta label="Order id">{d.order_id ?? '—'}</Meta>
        <Meta label="Event id">
          <span class="mono small">{d.event_id ?? '—'}</span>
        </Meta>
        <Meta label="Answered">
          HTTP {d.status}
          {d.status === 401 ? ' (AfterShip will retry)' : d.status >= 500 ? ' (AfterShip will retry)' : ''}
        </Meta>
        <Meta label="Size">{formatBytes(d.size)}</Meta>
        <Meta label="Request">
          <span class="mono small">
            {d.method} {d.path}
          </span>
        </Meta>
        <Meta label="From">
          <span class="small">
            {d.cf_connecting_ip ?? d.forwarded_for ?? d.peer}
            {(d.cf_connecting_ip || d.forwarded_for) && <span class="muted"> via {d.peer}</span>}
          </span>
        </Meta>
        {d.projection && <Meta label="Shipment">{d.projection}</Meta>}
        {d.duplicate_of !== null && (
          <Meta label="Duplicate of">
            <a href={deliveryHref(d.duplicate_of)}>delivery #{d.duplicate_of}</a>
          </Meta>
        )}
      </dl>

      <section class="card" data-testid="signature-panel">
        <div class="card-head">
          <h2>Signature</h2>
          <span class="muted small">HMAC-SHA256 of the raw body with your secret, base64</span>
        </div>
        <SignatureReportView report={s} testid="sig-stored" secretLabel="current secret" code={d.diagnosis} />
        {headerSig > 1 && <p class="note warn">The request carried {headerSig} aftership-hmac-sha256 headers.</p>}
        <p class="muted small">
          “Expected” is computed here from your secret and never leaves this machine: the receiver's answer to the
          sender only ever says “signature verification failed”.
        </p>
        <Reverify id={d.id} key={d.id} />
      </section>

      <section class="card" data-testid="headers-section">
        <div class="card-head">
          <h2>Headers</h2>
          <span class="muted small">{d.headers.length} in the order received</span>
        </div>
        <HeaderTable headers={d.headers} testid="headers-table" highlight={/hmac|signature/i} />
      </section>

      <Body d={d} key={d.id} />

      <ReplayPanel d={d} key={`replay-${d.id}`} />
      <ForwardsPanel id={d.id} />
    </div>
  );
}
