import { describe, expect, it } from 'vitest';
import type { Desk } from '../src/generated/Desk';
import type { ShipmentItem } from '../src/generated/ShipmentItem';
import {
  ageWords,
  attentionSummary,
  courierName,
  deskIsEmpty,
  dueInfo,
  estimateMove,
  heldWords,
  kindInfo,
  lastScanLine,
  proofOfDelivery,
  safeHttpUrl,
  scanAge,
  shipmentHeadline,
  withoutShipment,
  webhookVersionLabel,
} from '../src/lib/desk';

// Local times, so the tests hold in any time zone.
const NOW = new Date(2026, 11, 7, 12, 0, 0);
const at = (days: number, h = 12, m = 0) => new Date(2026, 11, 7 + days, h, m).toISOString();

const ship = (over: Partial<ShipmentItem> = {}): ShipmentItem => ({
  id: 1,
  tracking_id: null,
  tracking_number: '1Z999',
  slug: 'ups',
  title: null,
  order_id: null,
  tag: 'InTransit',
  subtag: null,
  subtag_message: null,
  expected_delivery: null,
  last_location: null,
  updated_at: NOW.toISOString(),
  unverified: false,
  courier: 'UPS',
  order_number: null,
  last_scan_at: null,
  delivered_at: null,
  due: null,
  archived: false,
  test: false,
  ...over,
});

describe('ages count from the courier scan', () => {
  it('says how long ago in words', () => {
    expect(ageWords(null, NOW)).toBe('');
    expect(ageWords('not a date', NOW)).toBe('');
    expect(ageWords(new Date(NOW.getTime() - 20_000).toISOString(), NOW)).toBe('just now');
    expect(ageWords(new Date(NOW.getTime() - 12 * 60_000).toISOString(), NOW)).toBe('12 min ago');
    expect(ageWords(new Date(NOW.getTime() - 5 * 3600_000).toISOString(), NOW)).toBe('5 h ago');
    expect(ageWords(at(-1), NOW)).toBe('1 day ago');
    expect(ageWords(at(-3, 11), NOW)).toBe('3 days ago');
    expect(ageWords(at(2), NOW)).toBe('in the future');
  });
  it('a list row and the shipment page', () => {
    expect(scanAge(at(-3, 11), NOW)).toBe('last scan 3 days ago');
    expect(scanAge(null, NOW)).toBe('no courier scan yet');
    expect(lastScanLine(at(-2, 14, 2), NOW)).toBe('Last courier scan 1 day ago (Dec 5, 14:02)');
    expect(lastScanLine(at(-2, 9, 5), NOW)).toBe('Last courier scan 2 days ago (Dec 5, 09:05)');
    expect(lastScanLine(new Date(2025, 0, 3, 8, 0).toISOString(), NOW)).toMatch(/\(Jan 3 2025, 08:00\)$/);
    expect(lastScanLine(null, NOW)).toBe('No courier scan yet');
  });
});

describe('due date and lateness', () => {
  it('counts calendar days past a date-only due date', () => {
    expect(dueInfo('2026-12-05', NOW)).toEqual({ date: 'Dec 5', daysLate: 2, late: true, words: '2 days late (due Dec 5)' });
    expect(dueInfo('2026-12-06', NOW)?.words).toBe('1 day late (due Dec 6)');
    expect(dueInfo('2026-12-07', NOW)?.words).toBe('due today');
    expect(dueInfo('2026-12-08', NOW)?.words).toBe('due tomorrow');
    expect(dueInfo('2026-12-12', NOW)?.words).toBe('due Dec 12');
    expect(dueInfo('2027-01-02', NOW)?.words).toBe('due Jan 2, 2027');
    expect(dueInfo(null, NOW)).toBeNull();
    expect(dueInfo('soon', NOW)).toBeNull();
  });
  it('reads a local date-time as that day, and a timestamp in local time', () => {
    expect(dueInfo('2026-12-05T18:00:00', NOW)?.daysLate).toBe(2);
    expect(dueInfo(at(-2, 23, 30), NOW)?.daysLate).toBe(2);
  });
  it('once delivered: on time or how late', () => {
    expect(dueInfo('2026-12-05', NOW, at(-3))?.words).toBe('delivered on time (due Dec 5)');
    expect(dueInfo('2026-12-05', NOW, at(-1))?.words).toBe('delivered 1 day late (due Dec 5)');
  });
});

describe('estimate history', () => {
  const change = (previous: string | null, estimate: string | null, later = false) => ({ at: NOW.toISOString(), delivery_id: 1, previous, estimate, reason: null, later });
  it('from → to, later or earlier, by how much', () => {
    expect(estimateMove(change('2026-12-03', '2026-12-05', true), NOW)).toEqual({ from: 'Dec 3', to: 'Dec 5', direction: 'later', words: '2 days later' });
    expect(estimateMove(change('2026-12-05', '2026-12-04'), NOW)).toMatchObject({ direction: 'earlier', words: '1 day earlier' });
    expect(estimateMove(change(null, '2026-12-04'), NOW)).toMatchObject({ from: '—', direction: 'first' });
    expect(estimateMove(change('2026-12-04', null), NOW)).toMatchObject({ direction: 'removed' });
    expect(estimateMove(change(at(0, 9), at(0, 17), true), NOW)).toMatchObject({ direction: 'later', words: 'later' });
  });
});

describe('urgency per kind: never colour alone', () => {
  it('exception and failed attempt are critical, late and stuck warnings, pickup info; each with a label and an icon', () => {
    expect(['exception', 'failed_attempt', 'late', 'stuck', 'waiting_for_pickup'].map((k) => kindInfo(k as never).urgency)).toEqual([
      'critical',
      'critical',
      'warning',
      'warning',
      'info',
    ]);
    for (const k of ['exception', 'failed_attempt', 'late', 'stuck', 'waiting_for_pickup'] as const) {
      expect(kindInfo(k).label.length).toBeGreaterThan(2);
      expect(kindInfo(k).icon).toBeTruthy();
    }
    expect(new Set(['exception', 'failed_attempt', 'late', 'stuck', 'waiting_for_pickup'].map((k) => kindInfo(k as never).icon)).size).toBe(5);
  });
  it('summarises the list by kind, most urgent first', () => {
    expect(attentionSummary(['late', 'exception', 'stuck', 'exception', 'waiting_for_pickup'])).toBe('2 exceptions · 1 late · 1 with no scan · 1 at a pickup point');
    expect(attentionSummary([])).toBe('');
  });
});

describe('names', () => {
  it('courier display name, never the slug when a name is known', () => {
    expect(courierName({ courier: 'DHL Express', slug: 'dhl-express' })).toBe('DHL Express');
    expect(courierName({ courier: null, slug: 'dhl' })).toBe('dhl');
    expect(courierName({})).toBe('—');
  });
  it('a shipment headline: title, else order, else tracking number', () => {
    expect(shipmentHeadline(ship({ title: 'Blue sofa' }))).toBe('Blue sofa');
    expect(shipmentHeadline(ship({ title: '1Z999', order_number: '#1001' }))).toBe('Order #1001');
    expect(shipmentHeadline(ship({ order_id: 'A-7' }))).toBe('Order A-7');
    expect(shipmentHeadline(ship())).toBe('1Z999');
  });
  it('webhook version and held notifications', () => {
    expect(webhookVersionLabel('2026-07')).toBe('2026-07');
    expect(webhookVersionLabel(null)).toBe('legacy v4');
    expect(heldWords(null)).toBeNull();
    expect(heldWords('paused')).toBe('Notifications paused');
    expect(heldWords('quiet hours until 07:00')).toBe('Notifications held: quiet hours until 07:00');
  });
});

describe('proof of delivery', () => {
  it('only http(s) links are links', () => {
    expect(safeHttpUrl('https://pod.example.com/a.jpg')).toBe('https://pod.example.com/a.jpg');
    expect(safeHttpUrl(' http://x.example/p ')).toBe('http://x.example/p');
    expect(safeHttpUrl('javascript:alert(1)')).toBeNull();
    expect(safeHttpUrl('data:image/png;base64,AAAA')).toBeNull();
    expect(safeHttpUrl('ftp://x.example/p')).toBeNull();
    expect(safeHttpUrl(42)).toBeNull();
  });
  it('flattens what was sent: signed by, photo links, the rest', () => {
    const pod = proofOfDelivery(
      {
        signed_by: 'J. SMITH',
        photo_urls: ['https://pod.example.com/1.jpg', 'javascript:alert(1)'],
        signature_image: { url: 'data:image/png;base64,AAAA' },
        delivered_to: 'front door',
      },
      null,
    );
    expect(pod).toEqual({
      signedBy: 'J. SMITH',
      links: [
        { label: 'photo 1', text: 'https://pod.example.com/1.jpg', url: 'https://pod.example.com/1.jpg' },
        { label: 'photo 2', text: 'javascript:alert(1)', url: null },
        { label: 'signature image', text: 'data:image/png;base64,AAAA', url: null },
      ],
      other: [['delivered to', 'front door']],
    });
    // 2026-07: a list of typed proofs.
    expect(
      proofOfDelivery(
        [
          { type: 'signature', url: 'https://pod.example.com/s.png', signed_by: 'J. NEIGHBOUR', captured_at: '2026-12-03T14:58:00-05:00' },
          { type: 'photo', url: 'javascript:alert(1)' },
        ],
        null,
      ),
    ).toEqual({
      signedBy: 'J. NEIGHBOUR',
      links: [
        { label: 'signature', text: 'https://pod.example.com/s.png', url: 'https://pod.example.com/s.png' },
        { label: 'photo', text: 'javascript:alert(1)', url: null },
      ],
      other: [['signature captured at', '2026-12-03T14:58:00-05:00']],
    });
    expect(proofOfDelivery(null, 'ANN')).toEqual({ signedBy: 'ANN', links: [], other: [] });
    expect(proofOfDelivery(null, null)).toBeNull();
    expect(proofOfDelivery({}, '  ')).toBeNull();
  });
});

describe('grouping', () => {
  const group = (items: ShipmentItem[], total = items.length) => ({ items, total });
  const desk = (): Desk => ({
    attention: [{ attention: { kind: 'late', reason: '2 days late (due Dec 5)', days: 2, since: null }, shipment: ship({ id: 1 }) }],
    attention_total: 1,
    arriving_today: group([ship({ id: 2 })]),
    in_transit: group([ship({ id: 3 }), ship({ id: 4 })], 9),
    delivered_recently: group([ship({ id: 5, tag: 'Delivered' })], 1),
    test_shipments: 0,
    now: NOW.toISOString(),
  });
  it('an archived shipment leaves every group and its total', () => {
    const d = withoutShipment(desk(), 3);
    expect(d.in_transit).toEqual({ items: [ship({ id: 4 })], total: 8 });
    expect(withoutShipment(desk(), 1).attention).toEqual([]);
    expect(withoutShipment(desk(), 1).attention_total).toBe(0);
    expect(withoutShipment(desk(), 5).delivered_recently).toEqual({ items: [], total: 0 });
    expect(withoutShipment(desk(), 99)).toEqual(desk());
  });
  it('an empty desk: no real shipment (hidden test ones do not count)', () => {
    const empty: Desk = { attention: [], attention_total: 0, arriving_today: group([]), in_transit: group([]), delivered_recently: group([]), test_shipments: 0, now: '' };
    expect(deskIsEmpty(empty)).toBe(true);
    expect(deskIsEmpty({ ...empty, test_shipments: 2 })).toBe(true);
    expect(deskIsEmpty({ ...empty, delivered_recently: group([], 1) })).toBe(false);
    expect(deskIsEmpty(desk())).toBe(false);
    // More need attention than are listed: not empty even with none listed.
    expect(deskIsEmpty({ ...empty, attention_total: 3 })).toBe(false);
  });
});
