import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../backend';
import { CopyField, ErrorBox, HttpStatus, Loading, TagBadge, VerdictBadge } from '../components/common';
import { TestEventPanel } from '../components/TestEvent';
import { lastSelfTest, SelfTest, TunnelExamples, TunnelStatusCard } from '../components/Tunnel';
import type { SettingsView } from '../generated/SettingsView';
import type { TestDeliveryResult } from '../generated/TestDeliveryResult';
import { HOP_TITLE } from '../lib/devtools';
import { verdictInfo } from '../lib/format';
import { deliveryHref } from '../lib/router';
import { cameThroughTunnel, joinUrl, setupVerdict, tunnelCommands, validatePublicUrl } from '../lib/setup';
import { api, refreshStatus, showToast, status } from '../state/app';
import { useDeliveryArrival } from '../state/arrival';

function Step({ n, title, done, children, testid }: { n: number; title: string; done: boolean; children: ComponentChildren; testid?: string }) {
  return (
    <section class={`card step${done ? ' done' : ''}`} data-testid={testid}>
      <div class="step-head">
        <span class="step-n" aria-hidden="true">
          {done ? '✓' : n}
        </span>
        <h2>{title}</h2>
      </div>
      <div class="step-body">{children}</div>
    </section>
  );
}

export function Setup() {
  const s = status.value;
  const [settings, setSettings] = useState<SettingsView | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [publicUrl, setPublicUrl] = useState('');
  const [tunnelMode, setTunnelMode] = useState<'url' | 'command'>('url');
  const [command, setCommand] = useState('');
  const [savingCommand, setSavingCommand] = useState(false);
  const [commandError, setCommandError] = useState<string | null>(null);
  const [tunnelKey, setTunnelKey] = useState(0);
  const [secret, setSecret] = useState('');
  const [savingUrl, setSavingUrl] = useState(false);
  const [savingSecret, setSavingSecret] = useState(false);
  const [urlError, setUrlError] = useState<string | null>(null);
  const [secretError, setSecretError] = useState<string | null>(null);
  const [testError, setTestError] = useState<string | null>(null);
  const [testing, setTesting] = useState(false);
  const [result, setResult] = useState<TestDeliveryResult | null>(null);
  const { arrived, reset: resetArrival, expect } = useDeliveryArrival();
  // A validly signed delivery that came through a tunnel (AfterShip's, not one of our tests).
  const [tunnelDelivery, setTunnelDelivery] = useState<{ id: number; receivedAt: string } | null>(null);
  const lastDeliveryAt = s?.last_delivery_at ?? null;

  useEffect(() => {
    if (tunnelDelivery || !lastDeliveryAt) return;
    let stale = false;
    (async () => {
      const page = await api().listDeliveries({ verdict: 'valid', limit: 50 });
      for (const item of page.items.filter((d) => !d.test).slice(0, 5)) {
        const d = await api().getDelivery(item.id);
        if (cameThroughTunnel(d)) {
          if (!stale) setTunnelDelivery({ id: d.id, receivedAt: d.received_at });
          return;
        }
      }
    })().catch(() => {
      // Not knowing only means "All set" waits for the self-test.
    });
    return () => {
      stale = true;
    };
  }, [lastDeliveryAt, tunnelDelivery]);

  useEffect(() => {
    api()
      .getSettings()
      .then((v) => {
        setSettings(v);
        setPublicUrl(v.public_url ?? '');
        setCommand(v.tunnel_command ?? '');
        if (v.tunnel_command) setTunnelMode('command');
      })
      .catch((e) => setLoadError(errorMessage(e)));
    void refreshStatus();
  }, []);


  if (loadError) return <ErrorBox message={loadError} />;
  if (!settings || !s) return <Loading what="Loading setup" />;

  const urlCheck = validatePublicUrl(publicUrl, s.webhook_path);
  const fullUrl = tunnelMode === 'url' && publicUrl.trim() && urlCheck.ok ? joinUrl(publicUrl.trim(), s.webhook_path) : s.public_webhook_url;
  const commands = tunnelCommands(s.local_webhook_url ?? (s.receiver.state !== 'stopped' ? `http://${s.receiver.addr}` : null));
  const receiverOk = s.receiver.state === 'listening';
  const test = lastSelfTest.value;
  const verdict = setupVerdict({
    receiverListening: receiverOk,
    secretConfigured: s.secret_configured,
    publicUrl: s.public_url,
    selfTest: test && { ok: test.result.ok, hop: test.result.hop, title: HOP_TITLE[test.result.hop] ?? test.result.hop, publicUrl: test.publicUrl },
    tunnelDelivery,
  });
  const reached = (!!test?.result.ok && test.publicUrl === s.public_url && !!s.public_url) || !!tunnelDelivery;

  const saveUrl = async () => {
    setSavingUrl(true);
    setUrlError(null);
    try {
      // A public URL OR a tunnel command: the URL replaces a command that was running.
      const v = await api().updateSettings(settings?.tunnel_command ? { public_url: publicUrl.trim(), tunnel_command: '' } : { public_url: publicUrl.trim() });
      setCommand(v.tunnel_command ?? '');
      setSettings(v);
      setPublicUrl(v.public_url ?? '');
      await refreshStatus();
      showToast('Public URL saved');
    } catch (e) {
      setUrlError(errorMessage(e));
    } finally {
      setSavingUrl(false);
    }
  };
  const saveCommand = async () => {
    setSavingCommand(true);
    setCommandError(null);
    try {
      // The URL the command prints becomes the public URL (it wins over a typed one).
      const v = await api().updateSettings({ tunnel_command: command.trim() });
      setSettings(v);
      setCommand(v.tunnel_command ?? '');
      setPublicUrl(v.public_url ?? '');
      setTunnelKey((k) => k + 1);
      await refreshStatus();
      showToast(command.trim() ? 'Tunnel command saved: Shipwatch starts it now' : 'Tunnel command removed');
    } catch (e) {
      setCommandError(errorMessage(e));
    } finally {
      setSavingCommand(false);
    }
  };
  const saveSecret = async () => {
    setSavingSecret(true);
    setSecretError(null);
    try {
      const v = await api().updateSettings({ secret });
      setSettings(v);
      setSecret('');
      await refreshStatus();
      showToast('Secret saved');
    } catch (e) {
      setSecretError(errorMessage(e));
    } finally {
      setSavingSecret(false);
    }
  };
  const sendTest = async () => {
    setTesting(true);
    setTestError(null);
    setResult(null);
    resetArrival();
    try {
      const r = await api().sendTestDelivery({});
      setResult(r);
      expect(r.delivery_id);
    } catch (e) {
      setTestError(errorMessage(e));
    } finally {
      setTesting(false);
    }
  };

  return (
    <div class="view page setup" data-testid="setup-view">
      <div class="page-head">
        <h1>Set up Shipwatch</h1>
        <span
          class={verdict.kind === 'all_set' ? 'ok' : verdict.kind === 'failed' ? 'bad' : 'muted'}
          data-testid="setup-verdict"
          data-kind={verdict.kind}
        >
          {verdict.kind === 'all_set' ? '✓ ' : verdict.kind === 'failed' ? '✗ ' : ''}
          {verdict.headline}
        </span>
      </div>

      <Step n={1} title="Your receiver" done={receiverOk} testid="step-receiver">
        {s.receiver.state === 'listening' ? (
          <p>
            Shipwatch is listening for webhooks on <code>{s.receiver.addr}</code>. This is the local address your tunnel
            forwards to:
          </p>
        ) : s.receiver.state === 'failed' ? (
          <p class="bad">
            The receiver could not start on <code>{s.receiver.addr}</code>: {s.receiver.message.replace(/\.\s*$/, "")}. Pick another listen
            address in <a href="#/settings">Settings</a>.
          </p>
        ) : (
          <p class="bad">The receiver is stopped. Start it from the tray menu or restart Shipwatch.</p>
        )}
        {s.local_webhook_url && <CopyField value={s.local_webhook_url} testid="setup-local-url" />}
      </Step>

      <Step n={2} title="Put a tunnel in front of it" done={!!s.public_url && verdict.kind !== 'failed'} testid="step-tunnel">
        <p>
          AfterShip only calls public HTTPS addresses (ports 80, 443 or 8080), so a tunnel must forward to the receiver.
          Run it yourself and enter the URL it prints, or let Shipwatch run it and pick the URL up.
        </p>
        <div class="seg tunnel-mode" role="radiogroup" aria-label="Who runs the tunnel">
          <button type="button" role="radio" aria-checked={tunnelMode === 'url'} class={tunnelMode === 'url' ? 'active' : ''} data-testid="tunnel-mode-url" onClick={() => setTunnelMode('url')}>
            I run the tunnel
          </button>
          <button type="button" role="radio" aria-checked={tunnelMode === 'command'} class={tunnelMode === 'command' ? 'active' : ''} data-testid="tunnel-mode-command" onClick={() => setTunnelMode('command')}>
            Shipwatch runs it
          </button>
        </div>
        {tunnelMode === 'url' ? (
          <>
        <p class="small">For example:</p>
        {commands.map((c) => (
          <CopyField value={c} testid="tunnel-command" />
        ))}
        <label class="field">
          <span>Public URL of your tunnel</span>
          <div class="inline">
            <input
              data-testid="setup-public-url"
              type="url"
              aria-invalid={!urlCheck.ok}
              placeholder="https://your-tunnel.trycloudflare.com"
              value={publicUrl}
              onInput={(e) => setPublicUrl((e.currentTarget as HTMLInputElement).value)}
            />
            <button
              type="button"
              class="btn btn-primary"
              data-testid="save-public-url"
              disabled={savingUrl || !urlCheck.ok || publicUrl.trim() === (settings.public_url ?? '')}
              onClick={saveUrl}
            >
              {savingUrl ? 'Saving…' : 'Save'}
            </button>
          </div>
        </label>
        {urlCheck.message && (
          <p class={urlCheck.ok ? 'note' : 'note warn'} data-testid="public-url-check" data-ok={String(urlCheck.ok)}>
            {urlCheck.message}
          </p>
        )}
        {urlError && <ErrorBox message={urlError} />}
          </>
        ) : (
          <>
            <label class="field">
              <span>Tunnel command</span>
              <div class="inline">
                <input
                  data-testid="setup-tunnel-command"
                  class="mono"
                  spellcheck={false}
                  placeholder="cloudflared tunnel --url http://127.0.0.1:{port}"
                  value={command}
                  onInput={(e) => setCommand((e.currentTarget as HTMLInputElement).value)}
                  onKeyDown={(e) => e.key === 'Enter' && void saveCommand()}
                />
                <button
                  type="button"
                  class="btn btn-primary"
                  data-testid="save-tunnel-command"
                  disabled={savingCommand || command.trim() === (settings.tunnel_command ?? '')}
                  onClick={saveCommand}
                >
                  {savingCommand ? 'Saving…' : 'Save'}
                </button>
              </div>
            </label>
            <TunnelExamples onPick={setCommand} />
            <p class="muted small">
              Shipwatch runs it while it runs, takes the first public https:// URL it prints, and restarts it with backoff
              when it exits.
            </p>
            {commandError && <ErrorBox message={commandError} />}
            {settings.tunnel_command && <TunnelStatusCard refreshKey={tunnelKey} onRunItMyself={() => setTunnelMode('url')} />}
          </>
        )}
        <p class="muted small">
          AfterShip retries a failed delivery for about 68 hours, but only to the same URL: a quick tunnel that gets a
          new hostname each time it starts loses those retries. A named tunnel or a reserved domain keeps them.
        </p>
      </Step>

      <Step n={3} title="Add the URL in AfterShip" done={reached} testid="step-aftership">
        <p>
          In AfterShip open <strong>Settings → Notifications → Webhooks</strong>, add this URL and save:
        </p>
        {fullUrl ? (
          <CopyField value={fullUrl} testid="setup-aftership-url" />
        ) : (
          <p class="muted">Enter your tunnel's public URL above and the full webhook URL appears here.</p>
        )}
        <p class="muted small">
          The same page shows your <strong>webhook secret</strong>: copy it for the next step.
        </p>
        {s.public_url && (
          <div class="kv-block">
            <p class="small">Check the whole path — your tunnel, its URL and back — with a signed sample:</p>
            <SelfTest />
          </div>
        )}
        {tunnelDelivery && (
          <p class="small ok" data-testid="setup-tunnel-delivery">
            ✓ A validly signed delivery came in through your tunnel:{' '}
            <a href={deliveryHref(tunnelDelivery.id)}>delivery #{tunnelDelivery.id}</a>.
          </p>
        )}
      </Step>

      <Step n={4} title="Paste your webhook secret" done={s.secret_configured} testid="step-secret">
        {settings.secrets_from_env ? (
          <p>
            The secret comes from the environment (<code>SHIPWATCH_SECRET</code>){settings.secret_hint ? <> : {settings.secret_hint}</> : null}.
            Change it there.
          </p>
        ) : (
          <>
            <p>
              Every delivery is checked against it (HMAC-SHA256 of the raw body). Without it nothing can be verified,
              so deliveries are accepted as <em>unverified</em>.
              {settings.secret_set && (
                <>
                  {' '}
                  A secret is set: <code data-testid="secret-hint">{settings.secret_hint ?? '••••'}</code>. Typing a new one
                  replaces it.
                </>
              )}
            </p>
            <div class="inline">
              <input
                data-testid="setup-secret"
                type="password"
                autocomplete="off"
                spellcheck={false}
                placeholder={settings.secret_set ? 'New secret (replaces the current one)' : 'Webhook secret from AfterShip'}
                value={secret}
                onInput={(e) => setSecret((e.currentTarget as HTMLInputElement).value)}
                onKeyDown={(e) => e.key === 'Enter' && secret && void saveSecret()}
              />
              <button type="button" class="btn btn-primary" data-testid="save-secret" disabled={!secret || savingSecret} onClick={saveSecret}>
                {savingSecret ? 'Saving…' : 'Save secret'}
              </button>
            </div>
            {secretError && <ErrorBox message={secretError} />}
          </>
        )}
      </Step>

      <Step n={5} title="Send a signed test delivery" done={!!arrived && arrived.verdict === 'valid'} testid="step-test">
        <p>
          Shipwatch signs a sample delivery with your secret and posts it to its own receiver, exactly as AfterShip
          would. It should arrive in the feed with a passing signature.
          {!s.secret_configured && <strong> Save a secret first, or it arrives unverified.</strong>}
        </p>
        <button type="button" class="btn btn-primary" data-testid="setup-send-test" disabled={testing} onClick={sendTest}>
          {testing ? 'Sending…' : 'Send a signed test delivery'}
        </button>
        {testError && <ErrorBox message={testError} />}
        {result && (
          <div class="test-result" data-testid="test-result">
            <p>
              Our receiver answered <HttpStatus status={result.status} /> for tracking number{' '}
              <code>{result.tracking_number}</code>
              {result.delivery_id !== null ? <> (delivery #{result.delivery_id})</> : ' but did not store it'}.
            </p>
            {arrived ? (
              <a href={deliveryHref(arrived.id)} class="row mini-row arrived" data-testid="test-arrived" data-verdict={arrived.verdict}>
                <span>{verdictInfo(arrived.verdict).kind === 'pass' ? '✓ Arrived in the feed' : 'Arrived in the feed'}</span>
                <TagBadge tag={arrived.tag} />
                <VerdictBadge verdict={arrived.verdict} />
                <span class="muted small">open it →</span>
              </a>
            ) : result.delivery_id !== null ? (
              <p class="muted" data-testid="test-waiting">
                Waiting for it on the live feed…
              </p>
            ) : null}
          </div>
        )}
        <p class="muted small">
          AfterShip's own “Send test webhook” button (on the webhooks page) shows up in the <a href="#/feed">feed</a> the
          same way, through your tunnel.
        </p>
      </Step>

      <section class="card" data-testid="setup-test-events">
        <div class="card-head">
          <h2>Test events</h2>
          <span class="muted small">Any tag and subtag, legacy v4 or versioned, signed with your secret — to our receiver or any URL.</span>
        </div>
        <TestEventPanel />
      </section>
    </div>
  );
}
