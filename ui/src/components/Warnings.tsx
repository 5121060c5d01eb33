import { signal } from '@preact/signals';
import { loudWarningKind } from '../lib/devtools';
import { status } from '../state/app';

const KEY = 'shipwatch.dismissedWarnings';

function loadDismissed(): string[] {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Dismissed for this session only (sessionStorage): a new warning text shows again. */
const dismissed = signal<string[]>(loadDismissed());

function dismiss(w: string) {
  dismissed.value = [...dismissed.value, w];
  try {
    sessionStorage.setItem(KEY, JSON.stringify(dismissed.value));
  } catch {
    /* kept in memory */
  }
}

const EXPLAIN = {
  url_changed:
    'AfterShip keeps retrying failed deliveries to the URL it has, for about 68 hours: those retries to the old URL are lost. Update the webhook URL in AfterShip now.',
  offline:
    'AfterShip retries for about 68 hours, but only to an unchanged URL: deliveries from that time arrive late, or are lost if the URL changed.',
} as const;

/** The first sentence (or the part before the first colon) in bold, the rest plain. */
const cut = (w: string) => {
  const m = /^(.+?[:.])\s/.exec(w);
  return m ? m[1].length : w.length;
};
const headline = (w: string) => w.slice(0, cut(w));
const rest = (w: string) => w.slice(cut(w));

/** The warnings that mean deliveries may be lost, loud at the top of the feed. */
export function LoudWarnings() {
  const warnings = (status.value?.warnings ?? []).filter((w) => loudWarningKind(w) && !dismissed.value.includes(w));
  if (!warnings.length) return null;
  return (
    <div class="loud-warnings">
      {warnings.map((w) => {
        const kind = loudWarningKind(w)!;
        return (
          <div class="banner banner-loud" role="alert" data-testid="loud-warning" data-kind={kind}>
            <span class="loud-icon" aria-hidden="true">
              ⚠
            </span>
            <span class="loud-text">
              <strong>{headline(w)}</strong> {rest(w)} {!/68 h/.test(w) && <span class="small">{EXPLAIN[kind]}</span>}{' '}
              {kind === 'url_changed' && (
                <a href="#/setup" class="small">
                  Copy the new URL →
                </a>
              )}
            </span>
            <button type="button" class="btn btn-small btn-ghost" data-testid="loud-warning-dismiss" onClick={() => dismiss(w)} title="Hide until Shipwatch is opened again">
              Dismiss
            </button>
          </div>
        );
      })}
    </div>
  );
}
