import { describe, expect, it } from 'vitest';
import type { DeliveryItem } from '../src/generated/DeliveryItem';
import type { ShipmentItem } from '../src/generated/ShipmentItem';
import {
  emptyFilters,
  hasFilters,
  matchesDelivery,
  matchesShipment,
  toDeliveryQuery,
  toSearch,
  toShipmentQuery,
} from '../src/lib/query';

const item = (over: Partial<DeliveryItem> = {}): DeliveryItem => ({
  id: 1,
  received_at: '2025-05-20T12:00:00.000Z',
  event_id: '3f645f5e-530b-4062-8695-db6a64420af8',
  event: 'tracking_update',
  verdict: 'valid',
  status: 200,
  duplicate: false,
  tracking_number: '9361289676091361892011',
  slug: 'usps',
  tag: 'InTransit',
  order_id: 'ORD-1001',
  shipment_id: 1,
  size: 1700,
  title: null,
  courier: 'USPS',
  webhook_version: null,
  test: false,
  diagnosis: 'valid_current',
  ...over,
}) as DeliveryItem;

describe('filters → query', () => {
  it('leaves out empty filters', () => {
    expect(toDeliveryQuery(emptyFilters())).toEqual({});
    expect(toSearch(toDeliveryQuery(emptyFilters(), 100))).toBe('?limit=100');
  });
  it('passes every filter, trimmed, with the cursor', () => {
    const q = toDeliveryQuery({ ...emptyFilters(), verdict: 'failed', tag: 'Delivered', slug: ' USPS ', q: ' 9361 ' }, 50, 'abc');
    expect(q).toEqual({ verdict: 'failed', tag: 'Delivered', slug: 'usps', q: '9361', limit: 50, before: 'abc' });
    expect(toSearch(q)).toBe('?verdict=failed&tag=Delivered&slug=usps&q=9361&limit=50&before=abc');
  });
  it('passes the diagnosis code', () => {
    const q = toDeliveryQuery({ ...emptyFilters(), diagnosis: 'wrong_secret' });
    expect(q).toEqual({ diagnosis: 'wrong_secret' });
    expect(toSearch(q)).toBe('?diagnosis=wrong_secret');
    expect(hasFilters({ ...emptyFilters(), diagnosis: 'hex_signature' })).toBe(true);
  });
  it('encodes query values', () => {
    expect(toSearch({ q: 'a b&c=d', before: null, x: undefined })).toBe('?q=a+b%26c%3Dd');
  });
  it('builds shipment queries', () => {
    expect(toShipmentQuery('', '')).toEqual({});
    expect(toShipmentQuery('Exception', ' x ', 100, null)).toEqual({ tag: 'Exception', q: 'x', limit: 100 });
  });
  it('knows when filters are set', () => {
    expect(hasFilters(emptyFilters())).toBe(false);
    expect(hasFilters({ ...emptyFilters(), q: '  ' })).toBe(false);
    expect(hasFilters({ ...emptyFilters(), tag: 'Delivered' })).toBe(true);
  });
});

describe('live rows against the filters', () => {
  const f = emptyFilters();
  it('matches everything without filters', () => expect(matchesDelivery(item(), f)).toBe(true));
  it('"failed" covers invalid, missing, malformed, too large', () => {
    const failed = { ...f, verdict: 'failed' };
    expect(matchesDelivery(item({ verdict: 'invalid', status: 401 }), failed)).toBe(true);
    expect(matchesDelivery(item({ verdict: 'missing', status: 401 }), failed)).toBe(true);
    expect(matchesDelivery(item({ verdict: 'malformed', status: 401 }), failed)).toBe(true);
    expect(matchesDelivery(item({ verdict: 'too_large', status: 413 }), failed)).toBe(true);
    expect(matchesDelivery(item({ verdict: 'valid' }), failed)).toBe(false);
    expect(matchesDelivery(item({ verdict: 'unverified' }), failed)).toBe(false);
  });
  it('matches a diagnosis code exactly', () => {
    const wrong = { ...f, diagnosis: 'wrong_secret' };
    expect(matchesDelivery(item({ verdict: 'invalid', status: 401, diagnosis: 'wrong_secret' }), wrong)).toBe(true);
    expect(matchesDelivery(item({ verdict: 'invalid', status: 401, diagnosis: 'reserialised_body' }), wrong)).toBe(false);
    expect(matchesDelivery(item({ diagnosis: null }), wrong)).toBe(false);
  });
  it('matches one verdict exactly', () => {
    expect(matchesDelivery(item({ verdict: 'invalid' }), { ...f, verdict: 'invalid' })).toBe(true);
    expect(matchesDelivery(item({ verdict: 'missing' }), { ...f, verdict: 'invalid' })).toBe(false);
  });
  it('matches tag and courier', () => {
    expect(matchesDelivery(item(), { ...f, tag: 'InTransit' })).toBe(true);
    expect(matchesDelivery(item(), { ...f, tag: 'Delivered' })).toBe(false);
    expect(matchesDelivery(item(), { ...f, slug: 'USPS' })).toBe(true);
    expect(matchesDelivery(item(), { ...f, slug: 'fedex' })).toBe(false);
    expect(matchesDelivery(item({ slug: null }), { ...f, slug: 'usps' })).toBe(false);
  });
  it('searches tracking number, order id and event id, case-insensitively', () => {
    expect(matchesDelivery(item(), { ...f, q: '1892011' })).toBe(true);
    expect(matchesDelivery(item(), { ...f, q: 'ord-10' })).toBe(true);
    expect(matchesDelivery(item(), { ...f, q: '3F645F5E' })).toBe(true);
    expect(matchesDelivery(item(), { ...f, q: 'usps' })).toBe(false);
    expect(matchesDelivery(item({ tracking_number: null, order_id: null, event_id: null }), { ...f, q: 'x' })).toBe(false);
  });
  it('matches shipments by tag and text', () => {
    const s: ShipmentItem = {
      id: 3,
      tracking_id: null,
      tracking_number: '1Z999',
      slug: 'ups',
      title: 'Blue sofa',
      order_id: '#77',
      tag: 'Delivered',
      subtag: null,
      subtag_message: null,
      expected_delivery: null,
      last_location: null,
      updated_at: '2025-05-20T12:00:00Z',
      unverified: false,
      courier: 'UPS',
      order_number: null,
      last_scan_at: null,
      delivered_at: null,
      due: null,
      archived: false,
      test: false,
    };
    expect(matchesShipment(s, '', '')).toBe(true);
    expect(matchesShipment(s, 'Delivered', 'sofa')).toBe(true);
    expect(matchesShipment(s, 'InTransit', '')).toBe(false);
    expect(matchesShipment(s, '', '#77')).toBe(true);
    expect(matchesShipment(s, '', 'nope')).toBe(false);
  });
});
