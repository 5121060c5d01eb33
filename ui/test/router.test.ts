import { describe, expect, it } from 'vitest';
import { deliveryHref, feedHref, formatRoute, parseHash, section, shipmentHref, shipmentsHref } from '../src/lib/router';

describe('hash routes', () => {
  it('parses every page', () => {
    expect(parseHash('')).toEqual({ name: 'home' });
    expect(parseHash('#/')).toEqual({ name: 'home' });
    expect(parseHash('#/feed')).toEqual({ name: 'feed', filters: { verdict: '', tag: '', slug: '', q: '', diagnosis: '', range: '', since: '', until: '' } });
    expect(parseHash('#/delivery/12')).toEqual({ name: 'delivery', id: 12 });
    expect(parseHash('#/shipments')).toEqual({ name: 'shipments', tag: '', q: '' });
    expect(parseHash('#/shipment/3')).toEqual({ name: 'shipment', id: 3 });
    expect(parseHash('#/setup')).toEqual({ name: 'setup' });
    expect(parseHash('#/settings')).toEqual({ name: 'settings' });
  });
  it('reads filters from the hash', () => {
    expect(parseHash('#/feed?verdict=failed&tag=Delivered&slug=usps&q=93%2061')).toEqual({
      name: 'feed',
      filters: { verdict: 'failed', tag: 'Delivered', slug: 'usps', q: '93 61', diagnosis: '', range: '', since: '', until: '' },
    });
    expect(parseHash('#/feed?verdict=failed&diagnosis=wrong_secret')).toMatchObject({
      name: 'feed',
      filters: { verdict: 'failed', diagnosis: 'wrong_secret' },
    });
    expect(parseHash('#/feed?range=today')).toMatchObject({ filters: { range: 'today', since: '', until: '' } });
    expect(parseHash('#/feed?since=2026-12-01&until=2026-12-07')).toMatchObject({
      filters: { range: '', since: '2026-12-01', until: '2026-12-07' },
    });
    expect(parseHash('#/shipments?tag=Exception&q=sofa')).toEqual({ name: 'shipments', tag: 'Exception', q: 'sofa' });
  });
  it('accepts a missing leading slash and trailing slash', () => {
    expect(parseHash('#feed')).toMatchObject({ name: 'feed' });
    expect(parseHash('#/delivery/7/')).toEqual({ name: 'delivery', id: 7 });
  });
  it('refuses bad ids and unknown pages', () => {
    expect(parseHash('#/delivery/abc')).toEqual({ name: 'notfound', path: '/delivery/abc' });
    expect(parseHash('#/delivery/0')).toMatchObject({ name: 'notfound' });
    expect(parseHash('#/delivery/-1')).toMatchObject({ name: 'notfound' });
    expect(parseHash('#/delivery/1/2')).toMatchObject({ name: 'notfound' });
    expect(parseHash('#/nope')).toMatchObject({ name: 'notfound' });
  });
  it('round-trips', () => {
    for (const h of ['#/feed', '#/feed?verdict=failed&q=x+y', '#/feed?diagnosis=hex_signature', '#/feed?range=7d', '#/feed?q=ada&since=2026-12-01&until=2026-12-07', '#/delivery/12', '#/shipments?tag=Delivered', '#/shipment/3', '#/setup', '#/settings'])
      expect(formatRoute(parseHash(h))).toBe(h);
  });
  it('builds links', () => {
    expect(feedHref()).toBe('#/feed');
    expect(feedHref({ verdict: 'failed' })).toBe('#/feed?verdict=failed');
    expect(deliveryHref(5)).toBe('#/delivery/5');
    expect(shipmentHref(9)).toBe('#/shipment/9');
    expect(shipmentsHref('Delivered')).toBe('#/shipments?tag=Delivered');
  });
  it('knows the section of each page', () => {
    expect(section(parseHash('#/'))).toBe('home');
    expect(section(parseHash(''))).toBe('home');
    expect(section(parseHash('#/delivery/1'))).toBe('feed');
    expect(section(parseHash('#/shipment/1'))).toBe('shipments');
    expect(section(parseHash('#/settings'))).toBe('settings');
    expect(section(parseHash('#/x'))).toBeNull();
  });
});
