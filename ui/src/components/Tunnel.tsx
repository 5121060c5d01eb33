import { signal } from '@preact/signals';
import { Fragment } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../backend';
import type { SelfTestResult } from '../generated/SelfTestResult';
import type { TunnelStatus } from '../generated/TunnelStatus';
import { HOP_TITLE, hopDiagram, tunnelStateKind, TUNNEL_COMMAND_EXAMPLES } from '../lib/devtools';
import { deliveryHref } from '../lib/router';
import { api, refreshStatus, status } from '../state/app';
import { CopyField, ErrorBox } from './common';

/** The last self-test of this session and the public URL it ran against: Setup says "All set" only after one passed. */
export const lastSelfTest = signal<{ result: SelfTestResult; publicUrl: string | null } | null>(null);

const STATE_LABEL: Record<string, string> = {
  off: 'No tunnel command',
  starting: 'Starting',
  running: 'Running',
  restarting: 'Restarting',
  stopped: 'Stopped',
};

/** Example commands as buttons that fill the command field. */
export function TunnelExamples({ onPick }: { onPick: (cmd: string) => void }) {
  return (
    <div class="examples" data-testid="tunnel-examples">
      <span class="muted small">Examples ({'{port}'} is the receiver's port):</span>
      {TUNNEL_COMMAND_EXAMPLES.map((c) => (
        <button type="button" class="btn btn-tiny mono" data-testid="tunnel-example" onClick={() => onPick(c)} title="Use this command">
          {c}
        </button>
      ))}
    </div>
  );
}

/**
 * The supervised tunnel: state, captured URL, restarts, last exit, last log lines, Restart. Polls while
 * shown. When Shipwatch stopped retrying (not installed, keeps exiting) it says why and what to do;
 * `onRunItMyself` adds a button to switch to a tunnel the user runs.
 */
export function TunnelStatusCard({ refreshKey = 0, onRunItMyself }: { refreshKey?: number; onRunItMyself?: () => void }) {
  const [t, setT] = useState<TunnelStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [restarting, setRestarting] = useState(false);
  const logRef = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const lastUrl = useRef<string | null>(null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = async () => {
      let next = 4000;
      try {
        const v = await api().tunnelStatus();
        if (stopped) return;
        setT(v);
        setError(null);
        if (v.state === 'starting' || v.state === 'restarting' || (v.state === 'running' && !v.public_url)) next = 1000;
        // A newly captured URL changes the public URL: refresh the status bar and what to paste into AfterShip.
        if (v.public_url !== lastUrl.current) {
          lastUrl.current = v.public_url;
          void refreshStatus();
        }
      } catch (e) {
        if (stopped) return;
        setError(errorMessage(e));
        next = 10000;
      }
      timer = setTimeout(poll, next);
    };
    void poll();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [refreshKey]);

  useLayoutEffect(() => {
    const el = logRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [t?.log.length, t?.log[t.log.length - 1]]);

  if (error && !t)
    return (
      <div class="tunnel-card" data-testid="tunnel-status" data-state="unknown">
        <ErrorBox message={`The tunnel's status is not available: ${error}`} />
      </div>
    );
  if (!t) return <div class="tunnel-card muted small">Loading the tunnel's status…</div>;
  const kind = tunnelStateKind(t.state);
  const stop = t.stopped_reason;
  const label = stop ? (stop.code === 'program_not_found' ? 'Not installed' : 'Stopped retrying') : (STATE_LABEL[t.state] ?? t.state);
  return (
    <div class={`tunnel-card tunnel-${kind}`} data-testid="tunnel-status" data-state={t.state}>
      <div class="tunnel-head">
        <span class={`led led-${kind}`} aria-hidden="true" />
        <strong data-testid="tunnel-state">{label}</strong>
        {t.pid !== null && <span class="muted small">pid {t.pid}</span>}
        <span class="muted small" data-testid="tunnel-restarts">
          {t.restarts === 1 ? '1 restart' : `${t.restarts} restarts`}
        </span>
        <span class="spacer" />
        {t.command && (
          <button
            type="button"
            class="btn btn-small"
            data-testid="tunnel-restart"
            disabled={restarting}
            onClick={async () => {
              setRestarting(true);
              try {
                setT(await api().restartTunnel());
                setError(null);
              } catch (e) {
                setError(errorMessage(e));
              } finally {
                setRestarting(false);
              }
            }}
          >
            {restarting ? 'Restarting…' : stop ? 'Try again' : 'Restart'}
          </button>
        )}
      </div>
      {stop && (
        <div class="sig sig-fail tunnel-stopped" data-testid="tunnel-stopped" data-code={stop.code}>
          <div class="sig-head">
            <strong class="bad" data-testid="tunnel-stopped-title">
              ✗ {stop.code === 'program_not_found' ? `${stop.program ?? 'Its program'} is not installed` : 'The tunnel command keeps exiting'}
            </strong>
          </div>
          <p class="sig-diagnosis" data-testid="tunnel-stopped-message">
            {stop.message} Shipwatch no longer retries it: save a new command or press Try again.
          </p>
          <p class="sig-advice" data-testid="tunnel-stopped-advice">
            <strong>What to do:</strong> {stop.advice}
          </p>
          {onRunItMyself && (
            <button type="button" class="btn btn-small" data-testid="tunnel-run-it-myself" onClick={onRunItMyself}>
              I run the tunnel myself
            </button>
          )}
        </div>
      )}
      {t.command && (
        <div class="small">
          <span class="muted">Command:</span> <code>{t.command}</code>
        </div>
      )}
      <div class="small">
        <span class="muted">Captured URL:</span>{' '}
        {t.public_url ? (
          <code data-testid="tunnel-url">{t.public_url}</code>
        ) : (
          <span class="muted" data-testid="tunnel-url-none">
            {t.state === 'off' ? '—' : 'none yet (waiting for the command to print an https:// URL)'}
          </span>
        )}
      </div>
      {t.last_exit && (
        <div class="small">
          <span class="muted">Last exit:</span> <span data-testid="tunnel-last-exit">{t.last_exit}</span>
        </div>
      )}
      {error && <p class="field-error">{error}</p>}
      {t.state !== 'off' && (
        <pre
          class="code tunnel-log"
          data-testid="tunnel-log"
          ref={logRef}
          onScroll={(e) => {
            const el = e.currentTarget as HTMLPreElement;
            stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
          }}
        >
          {t.log.length ? t.log.join('\n') : '(no output yet)'}
        </pre>
      )}
    </div>
  );
}

/** Shipwatch → public URL → tunnel → back to Shipwatch, with the failed hop highlighted. */
export function HopDiagram({ result }: { result: SelfTestResult | null }) {
  const nodes = hopDiagram(result);
  return (
    <ol class="hops" data-testid="hop-diagram" aria-label="The path of the self-test">
      {nodes.map((n, i) => (
        <Fragment key={n.id}>
          {i > 0 && (
            <li class={`hop-arrow hop-${nodes[i].state === 'skipped' ? 'skipped' : nodes[i - 1].state === 'ok' ? 'ok' : 'idle'}`} aria-hidden="true">
              →
            </li>
          )}
          <li class={`hop hop-${n.state}`} data-testid="hop-node" data-node={n.id} data-state={n.state}>
            <span class="hop-icon" aria-hidden="true">
              {n.state === 'ok' ? '✓' : n.state === 'fail' ? '✗' : '○'}
            </span>
            <span class="hop-label">{n.label}</span>
            <span class="hop-detail">{n.detail}</span>
          </li>
        </Fragment>
      ))}
    </ol>
  );
}

/** “Test through the tunnel”: a signed sample posted to the public URL and looked for on arrival. */
export function SelfTest() {
  const s = status.value;
  const [busy, setBusy] = useState(false);
  // The last run of this session stays shown while the public URL it ran against is still in effect.
  const [result, setResult] = useState<SelfTestResult | null>(() => {
    const last = lastSelfTest.value;
    return last && last.publicUrl === (s?.public_url ?? null) ? last.result : null;
  });
  const [error, setError] = useState<string | null>(null);
  return (
    <div class="self-test" data-testid="self-test">
      <div class="inline">
        <button
          type="button"
          class="btn btn-primary"
          data-testid="self-test-run"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            setResult(null);
            try {
              const publicUrl = status.value?.public_url ?? null;
              const r = await api().selfTest();
              lastSelfTest.value = { result: r, publicUrl };
              setResult(r);
            } catch (e) {
              setError(errorMessage(e));
            } finally {
              setBusy(false);
            }
          }}
        >
          {busy ? 'Testing…' : 'Test through the tunnel'}
        </button>
        <span class="muted small">
          Signs a sample with your secret, posts it to {s?.public_webhook_url ? <code>{s.public_webhook_url}</code> : 'your public URL'} and
          checks it arrives byte-exact.
        </span>
      </div>
      <HopDiagram result={result} />
      {error && <ErrorBox message={error} />}
      {result && (
        <div class={`self-test-result sig sig-${result.ok ? 'pass' : 'fail'}`} data-testid="self-test-result" data-hop={result.hop} data-ok={String(result.ok)}>
          <div class="sig-head">
            <strong class={result.ok ? 'ok' : 'bad'} data-testid="self-test-headline">
              {result.ok ? '✓ ' : '✗ '}
              {HOP_TITLE[result.hop] ?? result.hop}
              {result.ok && result.round_trip_ms !== null && <> — round trip {result.round_trip_ms} ms</>}
            </strong>
            {result.status !== null && <span class="pill">HTTP {result.status}</span>}
          </div>
          <p class="sig-diagnosis" data-testid="self-test-message">
            {result.message}
          </p>
          {result.advice && (
            <p class="sig-advice" data-testid="self-test-advice">
              <strong>What to do:</strong> {result.advice}
            </p>
          )}
          <p class="muted small">
            {result.url && (
              <>
                Posted to <code>{result.url}</code>
                {!result.ok && result.round_trip_ms !== null && <> · {result.round_trip_ms} ms</>}.{' '}
              </>
            )}
            {result.delivery_id !== null && (
              <a href={deliveryHref(result.delivery_id)} data-testid="self-test-delivery">
                Open the delivery as received →
              </a>
            )}
          </p>
        </div>
      )}
    </div>
  );
}

/** The exact URL to paste into AfterShip, with a copy button. */
export function AfterShipUrl({ testid = 'aftership-url' }: { testid?: string }) {
  const s = status.value;
  if (!s) return null;
  return s.public_webhook_url ? (
    <div class="kv-block">
      <div class="muted small">Paste this into AfterShip (Settings → Notifications → Webhooks):</div>
      <CopyField value={s.public_webhook_url} testid={testid} />
    </div>
  ) : (
    <p class="muted small" data-testid={`${testid}-none`}>
      No public URL yet: set one, or a tunnel command that prints it.
    </p>
  );
}
