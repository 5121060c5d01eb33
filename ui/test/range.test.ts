import { describe, expect, it } from 'vitest';
import { hasRange, inRange, localDay, localDayStart, rangeBounds, rangeMode } from '../src/lib/range';

const f = (range: string, since = '', until = '') => ({ range, since, until });

describe('received-time range', () => {
  const now = new Date(2026, 11, 8, 15, 30, 0); // local 2026-12-08 15:30

  it('resolves the presets at the time the list is asked for', () => {
    expect(rangeBounds(f(''), now)).toEqual({});
    expect(rangeBounds(f('hour'), now)).toEqual({ since: new Date(2026, 11, 8, 14, 30).toISOString() });
    expect(rangeBounds(f('today'), now)).toEqual({ since: new Date(2026, 11, 8).toISOString() });
    expect(rangeBounds(f('7d'), now)).toEqual({ since: new Date(now.getTime() - 7 * 86_400_000).toISOString() });
  });

  it('takes a custom range of local days, the last one whole', () => {
    expect(rangeBounds(f('custom', '2026-12-01', '2026-12-07'), now)).toEqual({
      since: new Date(2026, 11, 1).toISOString(),
      until: new Date(2026, 11, 8).toISOString(),
    });
    expect(rangeBounds(f('', '', '2026-12-31'), now)).toEqual({ until: new Date(2027, 0, 1).toISOString() });
    expect(rangeMode(f('hour', '2026-12-01'))).toBe('custom');
    expect(rangeMode(f('yesterday'))).toBe('');
  });

  it('ignores what is not a date', () => {
    expect(localDayStart('2026-02-30')).toBeNull();
    expect(localDayStart('soon')).toBeNull();
    expect(rangeBounds(f('custom', 'soon', ''), now)).toEqual({});
    expect(hasRange(f('custom'))).toBe(false);
    expect(hasRange(f('today'))).toBe(true);
  });

  it('tells whether a live row falls inside', () => {
    const r = f('custom', '2026-12-01', '2026-12-07');
    expect(inRange(new Date(2026, 11, 7, 23, 59).toISOString(), r, now)).toBe(true);
    expect(inRange(new Date(2026, 11, 8, 0, 0).toISOString(), r, now)).toBe(false);
    expect(inRange(new Date(2026, 10, 30, 23, 59).toISOString(), r, now)).toBe(false);
    expect(inRange(now.toISOString(), f('hour'), now)).toBe(true);
    expect(localDay(now)).toBe('2026-12-08');
  });
});
