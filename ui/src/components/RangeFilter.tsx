import { localDay, RANGE_PRESETS, rangeMode } from '../lib/range';
import type { FeedFilters } from '../lib/query';

/**
 * The feed's received-time range: presets (last hour, today, last 7 days) or two local dates.
 * Kept in the URL hash like the other filters (`range=today`, `since=2026-12-01&until=2026-12-07`).
 */
export function RangeFilter({ filters, apply }: { filters: FeedFilters; apply: (patch: Partial<FeedFilters>) => void }) {
  const mode = rangeMode(filters);
  return (
    <span class="range-filter" data-testid="filter-range-wrap">
      <select
        data-testid="filter-range"
        aria-label="Received"
        title="When the deliveries were received"
        value={mode}
        onChange={(e) => {
          const v = (e.currentTarget as HTMLSelectElement).value;
          if (v === 'custom') {
            const today = localDay(new Date());
            apply({ range: 'custom', since: filters.since || today, until: filters.until || today });
          } else apply({ range: v, since: '', until: '' });
        }}
      >
        {RANGE_PRESETS.map((p) => (
          <option value={p.value}>{p.label}</option>
        ))}
      </select>
      {mode === 'custom' && (
        <>
          <input
            type="date"
            data-testid="filter-since"
            aria-label="Received from (first day)"
            value={filters.since}
            max={filters.until || undefined}
            onChange={(e) => apply({ range: 'custom', since: (e.currentTarget as HTMLInputElement).value })}
          />
          <span class="muted small" aria-hidden="true">
            –
          </span>
          <input
            type="date"
            data-testid="filter-until"
            aria-label="Received until (last day, included)"
            value={filters.until}
            min={filters.since || undefined}
            onChange={(e) => apply({ range: 'custom', until: (e.currentTarget as HTMLInputElement).value })}
          />
        </>
      )}
    </span>
  );
}
