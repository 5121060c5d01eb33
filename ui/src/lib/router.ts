// Hash routing: #/ (home: what needs attention), #/feed, #/delivery/12, #/shipments, #/shipment/3, #/setup, #/settings.
// Filters live in the hash too (#/feed?verdict=failed&q=9361), so Back and reload keep them.
import { emptyFilters, type FeedFilters } from './query';

export type Route =
  | { name: 'home' }
  | { name: 'feed'; filters: FeedFilters }
  | { name: 'delivery'; id: number }
  | { name: 'shipments'; tag: string; q: string }
  | { name: 'shipment'; id: number }
  | { name: 'setup' }
  | { name: 'settings' }
  | { name: 'notfound'; path: string };

function positiveInt(s: string | undefined): number | null {
  if (!s || !/^\d{1,15}$/.test(s)) return null;
  const n = Number(s);
  return n > 0 ? n : null;
}

export function parseHash(hash: string): Route {
  let h = hash.startsWith('#') ? hash.slice(1) : hash;
  if (h === '' || h === '/') return { name: 'home' };
  if (!h.startsWith('/')) h = '/' + h;
  const qi = h.indexOf('?');
  const path = qi >= 0 ? h.slice(0, qi) : h;
  const params = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : '');
  const parts = path.split('/').filter(Boolean);
  const get = (k: string) => (params.get(k) ?? '').trim();
  switch (parts[0]) {
    case 'feed':
      if (parts.length === 1)
        return {
          name: 'feed',
          filters: { verdict: get('verdict'), tag: get('tag'), slug: get('slug'), q: get('q'), range: get('range'), since: get('since'), until: get('until'), diagnosis: get('diagnosis') },
        };
      break;
    case 'delivery': {
      const id = positiveInt(parts[1]);
      if (id !== null && parts.length === 2) return { name: 'delivery', id };
      break;
    }
    case 'shipments':
      if (parts.length === 1) return { name: 'shipments', tag: get('tag'), q: get('q') };
      break;
    case 'shipment': {
      const id = positiveInt(parts[1]);
      if (id !== null && parts.length === 2) return { name: 'shipment', id };
      break;
    }
    case 'setup':
      if (parts.length === 1) return { name: 'setup' };
      break;
    case 'settings':
      if (parts.length === 1) return { name: 'settings' };
      break;
  }
  return { name: 'notfound', path };
}

function withParams(path: string, params: Record<string, string>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) sp.set(k, v);
  const s = sp.toString();
  return s ? `${path}?${s}` : path;
}

export function formatRoute(route: Route): string {
  switch (route.name) {
    case 'home':
      return '#/';
    case 'feed':
      return '#' + withParams('/feed', { ...route.filters });
    case 'delivery':
      return `#/delivery/${route.id}`;
    case 'shipments':
      return '#' + withParams('/shipments', { tag: route.tag, q: route.q });
    case 'shipment':
      return `#/shipment/${route.id}`;
    case 'setup':
      return '#/setup';
    case 'settings':
      return '#/settings';
    case 'notfound':
      return '#' + route.path;
  }
}

export const feedHref = (filters: Partial<FeedFilters> = {}) =>
  formatRoute({ name: 'feed', filters: { ...emptyFilters(), ...filters } });
export const deliveryHref = (id: number) => formatRoute({ name: 'delivery', id });
export const shipmentHref = (id: number) => formatRoute({ name: 'shipment', id });
export const homeHref = () => formatRoute({ name: 'home' });
export const shipmentsHref = (tag = '', q = '') => formatRoute({ name: 'shipments', tag, q });

/** Which top-level tab a route belongs to (for the nav highlight). */
export function section(route: Route): 'home' | 'feed' | 'shipments' | 'setup' | 'settings' | null {
  switch (route.name) {
    case 'home':
      return 'home';
    case 'feed':
    case 'delivery':
      return 'feed';
    case 'shipments':
    case 'shipment':
      return 'shipments';
    case 'setup':
      return 'setup';
    case 'settings':
      return 'settings';
    default:
      return null;
  }
}
