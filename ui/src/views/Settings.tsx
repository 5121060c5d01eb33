import { useEffect, useState } from 'preact/hooks';
import { errorMessage, type NotificationLogEntry } from '../backend';
import { ErrorBox, Loading } from '../components/common';
import type { SettingsUpdate } from '../generated/SettingsUpdate';
import type { SettingsView } from '../generated/SettingsView';
import { formatBytes, formatListTime, KNOWN_TAGS, tagLabel } from '../lib/format';
import { feedHref, shipmentHref } from '../lib/router';
import { ALERTS, diffSettings, formFromView, isEmptyUpdate, validateForm, type SettingsForm } from '../lib/settings';
import { validatePublicUrl } from '../lib/setup';
import { api, refreshStatus, showToast, status } from '../state/app';
import { reloadFeed } from '../state/feed';
import { AfterShipUrl, SelfTest, TunnelExamples, TunnelStatusCard } from '../components/Tunnel';
import type { ReverifyFailedResult } from '../generated/ReverifyFailedResult';

function SecretRow({
  label,
  set,
  hint,
  fromEnv,
  field,
  help,
  onSaved,
}: {
  label: string;
  set: boolean;
  hint: string | null;
  fromEnv: boolean;
  field: 'secret' | 'previous_secret';
  help: string;
  onSaved: (v: SettingsView) => void;
}) {
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const save = async (v: string) => {
    setBusy(true);
    setError(null);
    try {
      const update: SettingsUpdate = field === 'secret' ? { secret: v } : { previous_secret: v };
      onSaved(await api().updateSettings(update));
      setValue('');
      showToast(v ? `${label} replaced` : `${label} removed`);
      void refreshStatus();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="field secret-row" data-testid={`settings-${field}`}>
      <span class="field-label">{label}</span>
      <div class="secret-state">
        {set ? (
          <code data-testid={`${field}-hint`}>{hint ?? '••••'}</code>
        ) : (
          <span class="muted" data-testid={`${field}-hint`}>
            not set
          </span>
        )}
        {fromEnv && (
          <span class="pill pill-env" data-testid={`${field}-from-env`}>
            from the environment: {field === 'secret' ? 'SHIPWATCH_SECRET' : 'SHIPWATCH_PREVIOUS_SECRET'}
          </span>
        )}
      </div>
      {fromEnv ? (
        <p class="muted small">
          {field === 'secret' ? 'SHIPWATCH_SECRET' : 'SHIPWATCH_PREVIOUS_SECRET'} is set in Shipwatch's environment and overrides what
          is saved here. Change it there.
        </p>
      ) : (
        <>
          <div class="inline">
            <input
              type="password"
              autocomplete="off"
              spellcheck={false}
              data-testid={`${field}-input`}
              placeholder={set ? 'Type a new value to replace it' : 'Paste the secret'}
              value={value}
              onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
            />
            <button type="button" class="btn" disabled={!value || busy} onClick={() => void save(value)} data-testid={`${field}-save`}>
              {set ? 'Replace' : 'Save'}
            </button>
            {set && (
              <button
                type="button"
                class="btn btn-ghost"
                disabled={busy}
                onClick={() => {
                  if (confirm(`Remove the ${label.toLowerCase()}?`)) void save('');
                }}
              >
                Remove
              </button>
            )}
          </div>
          <p class="muted small">{help}</p>
        </>
      )}
      {error && <ErrorBox message={error} />}
    </div>
  );
}

function NotificationLog() {
  const b = api();
  const [entries, setEntries] = useState<NotificationLogEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      setEntries(((await b.notificationLog?.()) ?? []).slice().reverse());
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  if (!b.notificationLog) return null;
  return (
    <section class="card" data-testid="notification-log">
      <div class="card-head">
        <h2>Notification log</h2>
        <span class="muted small">every decision, newest first: shown, held by quiet hours or pause, skipped, failed</span>
        <span class="spacer" />
        <button type="button" class="btn btn-small" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      {error && <ErrorBox message={error} />}
      {entries && entries.length === 0 && <p class="muted">No notification yet: one is shown when a shipment reaches a tag ticked above.</p>}
      {entries && entries.length > 0 && (
        <table class="headers">
          <tbody>
            {entries.slice(0, 100).map((e) => (
              <tr>
                <th class="small" title={e.at}>
                  {formatListTime(e.at)} · <span class={e.outcome === 'sent' ? 'ok' : e.outcome === 'failed' ? 'bad' : 'warn-text'}>{e.outcome}</span>
                </th>
                <td class="small">
                  {e.summary && <strong>{e.summary} </strong>}
                  <span class="muted">{e.reason}</span>
                  {e.shipment_id !== null && (
                    <>
                      {' '}
                      <a href={shipmentHref(e.shipment_id)}>shipment →</a>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Check every failed delivery again with the secrets set now (after fixing or rotating the secret). */
function ReverifyFailed() {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ReverifyFailedResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  return (
    <div class="field reverify-failed" data-testid="reverify-failed">
      <div class="inline">
        <button
          type="button"
          class="btn"
          data-testid="reverify-failed-run"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              const r = await api().reverifyFailed();
              setResult(r);
              void refreshStatus();
              if (r.now_valid) void reloadFeed();
            } catch (e) {
              setResult(null);
              setError(errorMessage(e));
            } finally {
              setBusy(false);
            }
          }}
        >
          {busy ? 'Re-verifying…' : 'Re-verify failed deliveries'}
        </button>
        <span class="muted small">After fixing or rotating the secret: those now valid update their shipments.</span>
      </div>
      {result && (
        <p class={`note${result.now_valid ? '' : ' warn'}`} data-testid="reverify-failed-result">
          Checked <strong data-testid="rf-checked">{result.checked}</strong> · now valid <strong data-testid="rf-now-valid">{result.now_valid}</strong> ·
          shipments updated <strong data-testid="rf-shipments">{result.shipments_updated}</strong>
          {result.checked > 0 && result.now_valid === 0 && ' — none pass with the secrets set now.'}
          {result.now_valid > 0 && (
            <>
              {' '}
              <a href={feedHref({ verdict: 'valid' })}>See them in the feed →</a>
            </>
          )}
        </p>
      )}
      {error && <ErrorBox message={error} />}
    </div>
  );
}

export function Settings() {
  const [view, setView] = useState<SettingsView | null>(null);
  const [form, setForm] = useState<SettingsForm | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const load = async () => {
    setLoadError(null);
    try {
      const v = await api().getSettings();
      setView(v);
      setForm(formFromView(v));
    } catch (e) {
      setLoadError(errorMessage(e));
    }
  };
  useEffect(() => void load(), []);

  if (loadError) return <ErrorBox message={loadError} onRetry={() => void load()} />;
  if (!view || !form) return <Loading what="Loading settings" />;

  const set = <K extends keyof SettingsForm>(k: K, v: SettingsForm[K]) => setForm({ ...form, [k]: v });
  const errors = validateForm(form);
  const update = diffSettings(view, form);
  const dirty = !isEmptyUpdate(update);
  const urlCheck = validatePublicUrl(form.public_url, view.webhook_path);
  // A saved URL the form would not accept (e.g. http:// set through the API) must not block saving the rest.
  const invalid = Object.keys(errors).length > 0 || (update.public_url !== undefined && !urlCheck.ok);

  const onSecretSaved = (v: SettingsView) => {
    // Keep unsaved edits in the rest of the form.
    setView(v);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    if (!dirty || invalid) return;
    setSaving(true);
    setSaveError(null);
    try {
      const v = await api().updateSettings(update);
      setView(v);
      setForm(formFromView(v));
      showToast('Settings saved');
      void refreshStatus();
    } catch (err) {
      setSaveError(errorMessage(err));
    } finally {
      setSaving(false);
    }
  };

  const text = (k: keyof SettingsForm, extra: Record<string, unknown> = {}) => ({
    value: form[k] as string,
    onInput: (e: Event) => set(k, (e.currentTarget as HTMLInputElement).value as never),
    'data-testid': `settings-${k}`,
    'aria-invalid': errors[k] ? true : undefined,
    ...extra,
  });

  return (
    <div class="view page settings" data-testid="settings-view">
      <div class="page-head">
        <h1>Settings</h1>
      </div>

      <section class="card">
        <div class="card-head">
          <h2>Webhook secrets</h2>
        </div>
        <p class="muted small">Secrets are never shown again once saved: only their last four characters.</p>
        <SecretRow
          label="Webhook secret"
          field="secret"
          set={view.secret_set}
          hint={view.secret_hint}
          fromEnv={view.secrets_from_env}
          help="The secret on AfterShip's webhooks page (Settings → Notifications → Webhooks)."
          onSaved={onSecretSaved}
        />
        <SecretRow
          label="Previous secret"
          field="previous_secret"
          set={view.previous_secret_set}
          hint={view.previous_secret_hint}
          fromEnv={view.previous_secret_from_env}
          help="While you rotate the secret in AfterShip, keep the old one here: deliveries signed with it still pass (and say so). Remove it once the new one is in use."
          onSaved={onSecretSaved}
        />
        <ReverifyFailed />
      </section>

      <form onSubmit={save}>
        <section class="card">
          <div class="card-head">
            <h2>Receiver</h2>
          </div>
          <label class="field">
            <span class="field-label">Listen address</span>
            <input {...text('listen', { placeholder: '127.0.0.1:8787', spellcheck: false })} />
            {errors.listen ? <span class="field-error">{errors.listen}</span> : <span class="muted small">Where your tunnel forwards to. Changing it restarts the receiver.</span>}
          </label>
          <label class="field">
            <span class="field-label">Webhook path</span>
            <input {...text('webhook_path', { placeholder: '/webhooks/aftership', spellcheck: false })} />
            {errors.webhook_path ? <span class="field-error">{errors.webhook_path}</span> : <span class="muted small">The path AfterShip posts to. If you change it, change the URL in AfterShip too.</span>}
          </label>
          <label class="field">
            <span class="field-label">Body size limit (KiB)</span>
            <input {...text('body_limit_kib', { inputMode: 'numeric', class: 'short' })} />
            {errors.body_limit_kib ? (
              <span class="field-error">{errors.body_limit_kib}</span>
            ) : (
              <span class="muted small">
                Now {formatBytes(view.body_limit)}. Bigger deliveries are answered 413 and kept as a 64 KiB sample. Empty = default.
              </span>
            )}
          </label>
        </section>

        <section class="card">
          <div class="card-head">
            <h2>Tunnel</h2>
          </div>
          <label class="field">
            <span class="field-label">Public URL</span>
            <input {...text('public_url', { placeholder: 'https://your-tunnel.trycloudflare.com', type: 'url' })} />
            {urlCheck.message ? <span class={urlCheck.ok ? 'muted small' : 'field-error'}>{urlCheck.message}</span> : <span class="muted small">The base URL your tunnel prints. Shipwatch adds the webhook path.</span>}
          </label>
          <label class="field">
            <span class="field-label">Tunnel command</span>
            <input {...text('tunnel_command', { placeholder: 'cloudflared tunnel --url http://127.0.0.1:{port}', spellcheck: false, class: 'mono' })} />
            <span class="muted small">
              Shipwatch runs it, takes the first public https:// URL it prints as the public URL, and restarts it when it exits. Use a
              public URL <em>or</em> a command. Empty = you run the tunnel yourself.
            </span>
          </label>
          <TunnelExamples onPick={(c) => set('tunnel_command', c)} />
          {view.tunnel_command && <TunnelStatusCard />}
          <AfterShipUrl testid="settings-aftership-url" />
          {status.value?.public_url && <SelfTest />}
        </section>

        <section class="card" data-testid="settings-forward">
          <div class="card-head">
            <h2>Forward mode</h2>
            <span class="muted small">Send every valid delivery on to your app as it arrives, byte-exact with its original headers.</span>
          </div>
          <label class="field">
            <span class="field-label">Forward to</span>
            <input {...text('forward_url', { placeholder: 'http://127.0.0.1:3000/webhooks/aftership', type: 'url', spellcheck: false })} />
            {errors.forward_url ? (
              <span class="field-error">{errors.forward_url}</span>
            ) : (
              <span class="muted small">
                Empty = off. A target that is down is retried with backoff (up to 68 h) and nothing is lost across restarts; each attempt
                shows as ✓ / ↻ / ✗ in the feed.
              </span>
            )}
          </label>
          <label class="check">
            <input
              type="checkbox"
              data-testid="settings-forward_failing"
              checked={form.forward_failing}
              disabled={!form.forward_url.trim()}
              onChange={(e) => set('forward_failing', (e.currentTarget as HTMLInputElement).checked)}
            />{' '}
            Also forward failing deliveries (signature invalid, missing or malformed)
          </label>
        </section>

        <section class="card" data-testid="settings-retention">
          <div class="card-head">
            <h2>Retention</h2>
            <span class="muted small">Empty = keep everything.</span>
          </div>
          <div class="inline retention">
            <label class="field">
              <span class="field-label">Keep deliveries for (days)</span>
              <input {...text('retention_days', { inputMode: 'numeric', class: 'short', placeholder: 'forever' })} />
            </label>
            <label class="field">
              <span class="field-label">Keep the database under (MB)</span>
              <input {...text('retention_max_mb', { inputMode: 'numeric', class: 'short', placeholder: 'no limit' })} />
            </label>
          </div>
          {(errors.retention_days || errors.retention_max_mb) && <span class="field-error">{errors.retention_days ?? errors.retention_max_mb}</span>}
          <p class="muted small">
            The oldest deliveries beyond these are deleted hourly, but never one that set a shipment's current state, and never
            checkpoints: timelines stay whole.
          </p>
        </section>

        <section class="card" data-testid="settings-desk">
          <div class="card-head">
            <h2>Home page and alerts</h2>
            <span class="muted small">When a parcel needs you, counted from the courier's scans, not from when Shipwatch heard of it.</span>
          </div>
          <div class="inline days">
            <label class="field">
              <span class="field-label">Stuck after (days without a courier scan)</span>
              <input {...text('stuck_after_days', { inputMode: 'numeric', class: 'short' })} />
            </label>
            <label class="field">
              <span class="field-label">Pickup reminder after (days at the pickup point)</span>
              <input {...text('pickup_after_days', { inputMode: 'numeric', class: 'short' })} />
            </label>
            <label class="field">
              <span class="field-label">Archive delivered after (days)</span>
              <input {...text('archive_after_days', { inputMode: 'numeric', class: 'short' })} />
            </label>
          </div>
          {(errors.stuck_after_days || errors.pickup_after_days || errors.archive_after_days) && (
            <span class="field-error" data-testid="settings-days-error">
              {errors.stuck_after_days ?? errors.pickup_after_days ?? errors.archive_after_days}
            </span>
          )}
          <p class="muted small">
            Archived shipments leave the home page only: they stay in Shipments and search, and you can archive or bring one back by hand.
          </p>
          <fieldset class="field">
            <legend class="field-label">Tell me (a desktop notification) when</legend>
            <div class="alert-checks">
              {ALERTS.map((a) => (
                <label class="check">
                  <input
                    type="checkbox"
                    data-testid="settings-alert"
                    value={a.value}
                    checked={form.alerts.includes(a.value)}
                    onChange={(e) => {
                      const on = (e.currentTarget as HTMLInputElement).checked;
                      set('alerts', on ? [...form.alerts, a.value] : form.alerts.filter((x) => x !== a.value));
                    }}
                  />{' '}
                  {a.label} <span class="muted small">— {a.help}</span>
                </label>
              ))}
            </div>
            <span class="muted small">Each parcel is alerted once per reason. Exceptions and failed attempts follow the tags ticked under Notifications.</span>
          </fieldset>
          <div class="field">
            <div class="inline digest">
              <label class="check">
                <input
                  type="checkbox"
                  data-testid="settings-digest-enabled"
                  checked={form.digest_enabled}
                  onChange={(e) => set('digest_enabled', (e.currentTarget as HTMLInputElement).checked)}
                />{' '}
                A daily digest (“3 need attention, 12 delivered yesterday”) at
              </label>
              <input
                type="time"
                class="time"
                aria-label="Daily digest time"
                data-testid="settings-digest_at"
                value={form.digest_at}
                disabled={!form.digest_enabled}
                aria-invalid={errors.digest_at ? true : undefined}
                onInput={(e) => set('digest_at', (e.currentTarget as HTMLInputElement).value)}
              />
            </div>
            {errors.digest_at ? <span class="field-error">{errors.digest_at}</span> : <span class="muted small">Local time. Off: no digest.</span>}
          </div>
        </section>

        <section class="card">
          <div class="card-head">
            <h2>Notifications</h2>
          </div>
          <fieldset class="field">
            <legend class="field-label">Notify me when a shipment becomes</legend>
            <div class="checks">
              {[...KNOWN_TAGS, ...form.notify_tags.filter((t) => !(KNOWN_TAGS as readonly string[]).includes(t))].map((t) => (
                <label class="check">
                  <input
                    type="checkbox"
                    data-testid="notify-tag"
                    value={t}
                    checked={form.notify_tags.includes(t)}
                    onChange={(e) => {
                      const on = (e.currentTarget as HTMLInputElement).checked;
                      set('notify_tags', on ? [...form.notify_tags, t] : form.notify_tags.filter((x) => x !== t));
                    }}
                  />{' '}
                  {tagLabel(t)}
                </label>
              ))}
            </div>
          </fieldset>
          <div class="field">
            <label class="check">
              <input type="checkbox" checked={form.quiet_enabled} onChange={(e) => set('quiet_enabled', (e.currentTarget as HTMLInputElement).checked)} /> Quiet hours
            </label>
            <div class="inline">
              <input type="time" class="time" aria-label="Quiet hours start" value={form.quiet_start} disabled={!form.quiet_enabled} onInput={(e) => set('quiet_start', (e.currentTarget as HTMLInputElement).value)} />
              <span>to</span>
              <input type="time" class="time" aria-label="Quiet hours end" value={form.quiet_end} disabled={!form.quiet_enabled} onInput={(e) => set('quiet_end', (e.currentTarget as HTMLInputElement).value)} />
            </div>
            {errors.quiet_start ? <span class="field-error">{errors.quiet_start}</span> : <span class="muted small">Local time; 22:00 to 07:00 wraps midnight.</span>}
          </div>
          <label class="check">
            <input type="checkbox" checked={form.notifications_paused} onChange={(e) => set('notifications_paused', (e.currentTarget as HTMLInputElement).checked)} /> Pause all notifications
          </label>
          <label class="check">
            <input type="checkbox" checked={form.autostart} onChange={(e) => set('autostart', (e.currentTarget as HTMLInputElement).checked)} /> Start Shipwatch when I log in (desktop app)
          </label>
        </section>

        <NotificationLog />

        <div class="save-bar">
          {saveError && <ErrorBox message={saveError} />}
          <button type="submit" class="btn btn-primary" data-testid="settings-save" disabled={!dirty || invalid || saving}>
            {saving ? 'Saving…' : dirty ? 'Save changes' : 'No changes'}
          </button>
          {dirty && (
            <button type="button" class="btn btn-ghost" onClick={() => setForm(formFromView(view))}>
              Discard
            </button>
          )}
        </div>
      </form>
    </div>
  );
}
