import { describe, expect, it } from 'vitest';
import {
  eventLabel,
  formatBytes,
  formatListTime,
  formatSentDate,
  plural,
  relativeTime,
  sentDateValue,
  statusKind,
  tagClass,
  tagLabel,
  verdictInfo,
} from '../src/lib/format';

describe('formatListTime', () => {
  const now = new Date(2025, 4, 20, 15, 0, 0);
  it('shows only the time for today', () => {
    const d = new Date(2025, 4, 20, 9, 5, 7);
    expect(formatListTime(d.toISOString(), now)).toBe('09:05:07');
  });
  it('shows month and day this year', () => {
    const d = new Date(2025, 0, 3, 14, 3, 0);
    expect(formatListTime(d.toISOString(), now)).toBe('Jan 3 14:03');
  });
  it('shows the full date for other years', () => {
    const d = new Date(2023, 11, 31, 23, 59, 0);
    expect(formatListTime(d.toISOString(), now)).toBe('2023-12-31 23:59');
  });
  it('gives back what it cannot parse', () => {
    expect(formatListTime('nonsense', now)).toBe('nonsense');
  });
});

describe('relativeTime', () => {
  const now = new Date('2025-05-20T12:00:00Z');
  it.each([
    ['2025-05-20T12:00:00Z', 'just now'],
    ['2025-05-20T11:59:30Z', '30 s ago'],
    ['2025-05-20T11:55:00Z', '5 min ago'],
    ['2025-05-20T09:00:00Z', '3 h ago'],
    ['2025-05-15T12:00:00Z', '5 days ago'],
  ])('%s → %s', (iso, want) => expect(relativeTime(iso, now)).toBe(want));
});

describe('formatSentDate (dates as AfterShip sends them)', () => {
  it.each([
    [null, '—'],
    ['', '—'],
    ['2021-01-13', 'Jan 13, 2021'],
    ['2021-01-13T13:39:00', 'Jan 13, 2021 13:39'],
    ['2021-01-14T10:41:24+00:00', 'Jan 14, 2021 10:41 (UTC+00:00)'],
    ['2021-01-14T10:41:24-0500', 'Jan 14, 2021 10:41 (UTC-05:00)'],
    ['2021-01-14T10:41:24Z', 'Jan 14, 2021 10:41 UTC'],
    ['2021-01-14T10:41:24.123Z', 'Jan 14, 2021 10:41 UTC'],
    ['next tuesday', 'next tuesday'],
  ])('%s → %s', (raw, want) => expect(formatSentDate(raw)).toBe(want));
  it('never converts the courier local time to ours', () => {
    expect(formatSentDate('2021-01-13T23:30:00+09:00')).toContain('23:30');
  });
  it('gives sortable values leniently', () => {
    expect(sentDateValue('2021-01-13')).not.toBeNull();
    expect(sentDateValue('bad')).toBeNull();
    expect(sentDateValue(null)).toBeNull();
  });
});

describe('sizes, tags, verdicts', () => {
  it('formats bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1740)).toBe('1.7 KiB');
    expect(formatBytes(1024 * 1024)).toBe('1.0 MiB');
    expect(formatBytes(-1)).toBe('—');
  });
  it('labels known tags and keeps unknown ones', () => {
    expect(tagLabel('OutForDelivery')).toBe('Out for delivery');
    expect(tagLabel('AttemptFail')).toBe('Failed attempt');
    expect(tagLabel('Teleported')).toBe('Teleported');
    expect(tagLabel(null)).toBe('No tag');
    expect(tagClass('Delivered')).toBe('tag tc-delivered');
    expect(tagClass('Teleported')).toBe('tag tc-unknown');
    expect(tagClass(null)).toBe('tag tc-unknown');
  });
  it('maps verdicts to pass / fail / warn', () => {
    expect(verdictInfo('valid').kind).toBe('pass');
    expect(verdictInfo('unverified').kind).toBe('warn');
    for (const v of ['invalid', 'missing', 'malformed', 'too_large'] as const) expect(verdictInfo(v).kind).toBe('fail');
  });
  it('classifies HTTP statuses', () => {
    expect(statusKind(200)).toBe('ok');
    expect(statusKind(401)).toBe('client');
    expect(statusKind(413)).toBe('client');
    expect(statusKind(503)).toBe('server');
  });
  it('words events and counts', () => {
    expect(eventLabel('tracking_update')).toBe('tracking update');
    expect(eventLabel(null)).toBe('—');
    expect(plural(1, 'delivery', 'deliveries')).toBe('1 delivery');
    expect(plural(1200, 'delivery', 'deliveries')).toBe('1,200 deliveries');
  });
});
