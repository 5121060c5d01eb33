import type { ForwardAttempt } from '../generated/ForwardAttempt';
import { forwardMarker } from '../lib/devtools';
import { formatListTime } from '../lib/format';

/** ✓ / ↻ / ✗ beside a feed row: what forward mode's target made of this delivery. */
export function ForwardMark({ attempt }: { attempt: ForwardAttempt | undefined }) {
  if (!attempt) return null;
  const m = forwardMarker(attempt);
  return (
    <span class={`fwd fwd-${m.kind}`} data-testid="forward-mark" data-state={m.kind} title={m.title} aria-label={m.title}>
      {m.icon}
    </span>
  );
}

/** The forward attempts of one delivery, newest first. */
export function ForwardList({ attempts }: { attempts: ForwardAttempt[] }) {
  return (
    <table class="headers fwd-table" data-testid="forward-list">
      <tbody>
        {attempts.map((a) => {
          const m = forwardMarker(a);
          return (
            <tr data-testid="forward-attempt" data-state={m.kind}>
              <th class="small">
                <span class={`fwd fwd-${m.kind}`}>{m.icon}</span> {a.state.replace('_', ' ')}
              </th>
              <td class="small">
                <span class="mono">{a.target}</span>
                {a.status !== null && <> · HTTP {a.status}</>}
                {a.round_trip_ms !== null && <> · {a.round_trip_ms} ms</>} · {a.attempts === 1 ? '1 attempt' : `${a.attempts} attempts`}
                {a.last_attempt_at && <span class="muted"> · last {formatListTime(a.last_attempt_at)}</span>}
                {a.next_attempt_at && <span class="muted"> · next {formatListTime(a.next_attempt_at)}</span>}
                {a.error && <div class="bad">{a.error}</div>}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
