import { useEffect, useState } from 'preact/hooks';
import { errorMessage, type NotificationLogEntry } from '../backend';
import { ErrorBox, Loading } from '../components/common';
import type { SettingsUpdate } from '../generated/SettingsUpdate';
import type { SettingsView } from '../generated/SettingsView';
import { formatBytes, formatListTime, KNOWN_TAGS, tagLabel } from '../lib/format';
import { shipmentHref } from '../lib/router';
import { diffSettings, formFromView, isEmptyUpdate, validateForm, type SettingsForm } from '../lib/settings';
import { validatePublicUrl } from '../lib/setup';
import { api, refreshStatus, showToast } from '../state/app';

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
        {fromEnv && <span class="pill">from the environment</span>}
      </div>
      {fromEnv ? (
        field === 'secret' && (
          <p class="muted small">Secrets come from the environment (SHIPWATCH_SECRET…), which overrides what is saved here. Change them there.</p>
        )
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
  const urlCheck = validatePublicUrl(form.public_url);
  const invalid = Object.keys(errors).length > 0 || !urlCheck.ok;

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
          fromEnv={view.secrets_from_env}
          help="While you rotate the secret in AfterShip, keep the old one here: deliveries signed with it still pass (and say so). Remove it once the new one is in use."
          onSaved={onSecretSaved}
        />
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
            <input {...text('tunnel_command', { placeholder: 'cloudflared tunnel run shipwatch', spellcheck: false })} />
            <span class="muted small">Started and stopped with Shipwatch (desktop app). Empty = you run the tunnel yourself.</span>
          </label>
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
