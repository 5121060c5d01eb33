import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../backend';
import type { TestDeliveryResult } from '../generated/TestDeliveryResult';
import { buildTestRequest, defaultSubtag, subtagsFor, TEST_TAGS, type TestEventForm } from '../lib/devtools';
import { tagLabel } from '../lib/format';
import { deliveryHref } from '../lib/router';
import { api } from '../state/app';
import { useDeliveryArrival } from '../state/arrival';
import { ErrorBox, HttpStatus, TagBadge, VerdictBadge } from './common';

const FORM_KEY = 'shipwatch.testEvent';

function loadForm(): TestEventForm {
  const d: TestEventForm = { tag: 'InTransit', subtag: 'InTransit_001', shape: 'v4', target: 'receiver', url: '' };
  try {
    const saved = JSON.parse(sessionStorage.getItem(FORM_KEY) ?? 'null');
    if (saved && typeof saved === 'object') return { ...d, ...saved };
  } catch {
    /* defaults */
  }
  return d;
}

/**
 * An AfterShip-shaped test event for any tag and subtag, v4 or versioned, signed with the current
 * secret and posted to our receiver (it then shows up in the feed) or to any URL.
 */
export function TestEventPanel({ compact = false }: { compact?: boolean }) {
  const [form, setForm] = useState<TestEventForm>(loadForm);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<{ r: TestDeliveryResult; to: string | null } | null>(null);
  const { arrived, reset: resetArrival, expect } = useDeliveryArrival();
  const set = (patch: Partial<TestEventForm>) => {
    const next = { ...form, ...patch };
    setForm(next);
    try {
      sessionStorage.setItem(FORM_KEY, JSON.stringify(next));
    } catch {
      /* not remembered */
    }
  };
  const subtags = subtagsFor(form.tag);
  const built = buildTestRequest(form);

  const send = async () => {
    if (built.error) return;
    setBusy(true);
    setError(null);
    setResult(null);
    resetArrival();
    try {
      const r = await api().sendTestDelivery(built.request);
      setResult({ r, to: built.request.to ?? null });
      expect(r.delivery_id);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class={`test-event${compact ? ' compact' : ''}`} data-testid="test-event">
      <form
        class="test-event-form"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label class="field">
          <span class="field-label">Tag</span>
          <select
            data-testid="test-tag"
            value={form.tag}
            onChange={(e) => {
              const tag = (e.currentTarget as HTMLSelectElement).value;
              set({ tag, subtag: defaultSubtag(tag) });
            }}
          >
            {TEST_TAGS.map((t) => (
              <option value={t}>{tagLabel(t)}</option>
            ))}
          </select>
        </label>
        <label class="field">
          <span class="field-label">Subtag</span>
          <select data-testid="test-subtag" value={form.subtag} onChange={(e) => set({ subtag: (e.currentTarget as HTMLSelectElement).value })}>
            {subtags.map((s) => (
              <option value={s.value}>{s.label}</option>
            ))}
          </select>
        </label>
        <div class="field">
          <span class="field-label">Shape</span>
          <div class="seg" role="radiogroup" aria-label="Payload shape">
            {(['v4', 'versioned'] as const).map((shape) => (
              <button
                type="button"
                role="radio"
                aria-checked={form.shape === shape}
                class={form.shape === shape ? 'active' : ''}
                data-testid={`test-shape-${shape}`}
                title={shape === 'v4' ? 'Legacy v4 webhook' : 'Versioned (2025-07) shape, with the as-webhook-version header'}
                onClick={() => set({ shape })}
              >
                {shape === 'v4' ? 'Legacy v4' : 'Versioned'}
              </button>
            ))}
          </div>
        </div>
        <div class="field test-target">
          <span class="field-label">Send to</span>
          <div class="inline">
            <label class="check">
              <input type="radio" name={`test-target${compact ? '-c' : ''}`} data-testid="test-target-receiver" checked={form.target === 'receiver'} onChange={() => set({ target: 'receiver' })} /> our
              receiver
            </label>
            <label class="check">
              <input type="radio" name={`test-target${compact ? '-c' : ''}`} data-testid="test-target-url" checked={form.target === 'url'} onChange={() => set({ target: 'url' })} /> a URL
            </label>
            {form.target === 'url' && (
              <input
                data-testid="test-url"
                class="grow"
                type="url"
                spellcheck={false}
                aria-label="URL to send the test event to"
                placeholder="http://127.0.0.1:3000/webhooks/aftership"
                value={form.url}
                onInput={(e) => set({ url: (e.currentTarget as HTMLInputElement).value })}
              />
            )}
          </div>
        </div>
        <div class="field">
          <span class="field-label">&nbsp;</span>
          <button type="submit" class="btn btn-primary" data-testid="test-send" disabled={busy || !!built.error}>
            {busy ? 'Sending…' : 'Send test event'}
          </button>
        </div>
      </form>
      {built.error && form.target === 'url' && form.url.trim() !== '' && <p class="field-error">{built.error}</p>}
      {error && <ErrorBox message={error} />}
      {result && (
        <div class="test-result" data-testid="test-event-result" data-status={result.r.status}>
          <p>
            {result.to ? (
              <>
                <code>{result.to}</code> answered
              </>
            ) : (
              'Our receiver answered'
            )}{' '}
            <HttpStatus status={result.r.status} /> for <code>{result.r.tracking_number}</code> ({form.subtag}, {form.shape})
            {result.to ? '.' : result.r.delivery_id !== null ? <> — delivery #{result.r.delivery_id}.</> : ' but did not store it.'}
          </p>
          {arrived ? (
            <a href={deliveryHref(arrived.id)} class="row mini-row arrived" data-testid="test-event-arrived" data-verdict={arrived.verdict} data-tag={arrived.tag ?? ''}>
              <span>✓ In the feed</span>
              <TagBadge tag={arrived.tag} />
              <VerdictBadge verdict={arrived.verdict} />
              <span class="muted small">open it →</span>
            </a>
          ) : result.r.delivery_id !== null ? (
            <p class="muted small">Waiting for it on the live feed…</p>
          ) : null}
        </div>
      )}
    </div>
  );
}

/** The feed header's “Send test event” button: the same form in a dialog. */
export function TestEventDialogButton() {
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open]);
  return (
    <>
      <button type="button" class="btn btn-small" data-testid="feed-send-test-event" onClick={() => setOpen(!open)} aria-expanded={open}>
        Send test event
      </button>
      {open && (
        <div class="popover" role="dialog" aria-label="Send a test event" data-testid="test-event-dialog">
          <div class="card-head">
            <h2>Send a test event</h2>
            <span class="muted small">Signed with your secret, like AfterShip would.</span>
            <span class="spacer" />
            <button type="button" class="btn btn-tiny btn-ghost" aria-label="Close" data-testid="test-event-close" onClick={() => setOpen(false)}>
              ✕
            </button>
          </div>
          <TestEventPanel compact />
        </div>
      )}
    </>
  );
}
