import { connection, status, statusError } from '../state/app';
import { formatCount, formatFullTime, plural, relativeTime } from '../lib/format';
import { feedHref, homeHref } from '../lib/router';
import { heldWords } from '../lib/desk';
import { Icon } from '../components/Icon';

export function StatusBar() {
  const s = status.value;
  const conn = connection.value;
  const warnings = s?.warnings ?? [];
  return (
    <footer class="statusbar" data-testid="status-bar">
      {s && statusError.value && (
        <span class="sb-item bad" data-testid="sb-unreachable" title={statusError.value}>
          <span class="led" aria-hidden="true" style={{ background: 'var(--bad)' }} />
          Shipwatch is not answering
        </span>
      )}
      {s ? (
        <>
          {!statusError.value && <span
            class={`sb-item receiver receiver-${s.receiver.state}`}
            data-testid="sb-receiver"
            data-state={s.receiver.state}
            title={s.receiver.state === 'failed' ? s.receiver.message : s.local_webhook_url ?? undefined}
          >
            <span class="led" aria-hidden="true" />
            {s.receiver.state === 'listening'
              ? `Receiving on ${s.receiver.addr}`
              : s.receiver.state === 'failed'
                ? `Receiver failed on ${s.receiver.addr}`
                : 'Receiver stopped'}
          </span>}
          <span class="sb-item sb-url" data-testid="sb-public-url" title={s.public_webhook_url ?? 'No public URL set'}>
            {s.public_url ? (
              s.public_url.replace(/^https?:\/\//, '')
            ) : (
              <a href="#/setup" class="warn-text">
                no public URL
              </a>
            )}
          </span>
          <span class="sb-item" data-testid="sb-today" title={s.last_delivery_at ? `Last delivery ${formatFullTime(s.last_delivery_at)}` : 'No delivery yet'}>
            Today: <strong data-testid="sb-deliveries">{formatCount(s.deliveries_today)}</strong>
            {s.last_delivery_at && <span class="muted sb-last"> · last {relativeTime(s.last_delivery_at)}</span>}
          </span>
          <a
            href={feedHref({ verdict: 'failed' })}
            class={`sb-item${s.failures_today ? ' bad' : ' muted'}`}
            data-testid="sb-failures"
            title="Deliveries whose signature failed today (answered 401). Click to see every refused delivery."
          >
            {plural(s.failures_today, 'failed signature', 'failed signatures')}
          </a>
          {s.attention_count > 0 && (
            <a href={homeHref()} class="sb-item sb-attention" data-testid="sb-attention" title="Shipments that need you: exceptions, failed attempts, late, stuck, waiting for pickup">
              {plural(s.attention_count, 'needs attention', 'need attention')}
            </a>
          )}
          {s.notifications_held && (
            <a href="#/settings" class="sb-item sb-held" data-testid="sb-held" title="Notifications are held and shown as one summary when this ends. Change it in Settings.">
              <Icon name="bellOff" size={14} />
              {heldWords(s.notifications_held)}
            </a>
          )}
          {!s.secret_configured && (
            <a href="#/setup" class="sb-item warn-text" data-testid="sb-no-secret">
              no secret: unverified
            </a>
          )}
          {warnings.length > 0 && (
            <span class="sb-item warn-text sb-warn" data-testid="sb-warnings" title={warnings.join('\n')}>
              ⚠ {warnings.length === 1 ? warnings[0] : `${warnings.length} warnings`}
            </span>
          )}
        </>
      ) : (
        <span class="sb-item bad">{statusError.value ?? 'Loading status…'}</span>
      )}
      <span class="spacer" />
      <span class={`sb-item conn conn-${conn}`} data-testid="sb-connection" data-state={conn} title="Live updates from Shipwatch">
        <span class="led" aria-hidden="true" />
        {conn === 'connected' ? 'live' : conn === 'connecting' ? 'connecting…' : 'disconnected — retrying'}
      </span>
      {s && <span class="sb-item muted sb-version">v{s.version}</span>}
    </footer>
  );
}
