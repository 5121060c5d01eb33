import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../backend';
import { Empty, ErrorBox, Loading, TagBadge } from '../components/common';
import { VirtualList } from '../components/VirtualList';
import type { ShipmentItem } from '../generated/ShipmentItem';
import type { TagCount } from '../generated/TagCount';
import { throttle } from '../lib/batch';
import { subtagWording } from '../lib/devtools';
import { formatCount, formatFullTime, formatListTime, formatSentDate, KNOWN_TAGS, tagColor, tagLabel } from '../lib/format';
import { matchesShipment, toShipmentQuery } from '../lib/query';
import { ageWords, courierName, shipmentHeadline } from '../lib/desk';
import { shipmentHref, shipmentsHref } from '../lib/router';
import { moveSelection, scrollToReveal } from '../lib/virtual';
import { api, navigate, onLive } from '../state/app';
import { TestDeliveryButton } from './Feed';

const ROW = 52;
const PAGE = 100;

function TagChips({ counts, active }: { counts: TagCount[]; active: string }) {
  const map = new Map(counts.map((c) => [c.tag, c.count]));
  const total = counts.reduce((a, c) => a + c.count, 0);
  const tags = [...KNOWN_TAGS, ...counts.map((c) => c.tag).filter((t) => !(KNOWN_TAGS as readonly string[]).includes(t))];
  return (
    <div class="chips" role="tablist" aria-label="Filter by tag" data-testid="tag-chips">
      <a href={shipmentsHref('', '')} class={`chip${active === '' ? ' active' : ''}`} role="tab" aria-selected={active === ''} data-testid="chip-all">
        All <span class="count">{formatCount(total)}</span>
      </a>
      {tags.map((t) => {
        const n = map.get(t) ?? 0;
        return (
          <a
            href={shipmentsHref(active === t ? '' : t, '')}
            class={`chip ${tagColor(t)}${active === t ? ' active' : ''}${n === 0 ? ' zero' : ''}`}
            role="tab"
            aria-selected={active === t}
            data-testid="tag-chip"
            data-tag={t}
          >
            <span class={`dot ${tagColor(t)}`} aria-hidden="true" />
            {tagLabel(t)} <span class="count">{formatCount(n)}</span>
          </a>
        );
      })}
    </div>
  );
}

function ShipmentRow({ s, selected }: { s: ShipmentItem; selected: boolean }) {
  const main = shipmentHeadline(s);
  const order = s.order_number || s.order_id;
  const wording = subtagWording(s.subtag, s.subtag_message);
  return (
    <a href={shipmentHref(s.id)} class={`row ship-row${selected ? ' selected' : ''}`} data-testid="shipment-row" data-id={s.id}>
      <span class="s-tag">
        <TagBadge tag={s.tag} title={wording ?? undefined} />
      </span>
      <span class="s-main">
        <span class="s-title">
          {main}
          {s.test && (
            <>
              {' '}
              <span class="test-mark" data-testid="row-test" title="Made by a Shipwatch test delivery: left out of the home page and the counts">
                test
              </span>
            </>
          )}
          {s.archived && (
            <>
              {' '}
              <span class="test-mark archived-mark" title="Off the home page">
                archived
              </span>
            </>
          )}
        </span>
        <span class="s-sub muted small">
          <span data-testid="row-courier" title={s.slug ? `AfterShip slug: ${s.slug}` : undefined}>
            {courierName(s)}
          </span>
          {main !== s.tracking_number && s.tracking_number && <span class="mono"> · {s.tracking_number}</span>}
          {order && !main.toLowerCase().startsWith('order') && <> · order {order}</>}
          {wording && <> · {wording}</>}
        </span>
      </span>
      <span class="s-loc small">{s.last_location ?? <span class="muted">—</span>}</span>
      <span class="s-eta small" title="Expected delivery">
        {s.expected_delivery ? <>ETA {formatSentDate(s.expected_delivery)}</> : <span class="muted">no ETA</span>}
      </span>
      <span
        class="s-upd small muted"
        title={`${s.last_scan_at ? `Courier's last scan ${formatFullTime(s.last_scan_at)}` : 'No courier scan yet'} · last delivery received ${formatFullTime(s.updated_at)}`}
      >
        {s.last_scan_at ? ageWords(s.last_scan_at) : formatListTime(s.updated_at)}
      </span>
    </a>
  );
}

export function Shipments({ tag, q }: { tag: string; q: string }) {
  const [items, setItems] = useState<ShipmentItem[]>([]);
  const [counts, setCounts] = useState<TagCount[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [older, setOlder] = useState(false);
  const [text, setText] = useState(q);
  const [selected, setSelected] = useState<number | null>(null);
  const gen = useRef(0);
  const listRef = useRef<HTMLDivElement>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const itemsRef = useRef(items);
  itemsRef.current = items;

  const load = async () => {
    const g = ++gen.current;
    setError(null);
    try {
      const list = await api().listShipments(toShipmentQuery(tag, q, PAGE));
      if (g !== gen.current) return;
      setItems(list.items);
      setCounts(list.counts);
      setNext(list.next);
      setLoaded(true);
    } catch (e) {
      if (g === gen.current) setError(errorMessage(e));
    }
  };
  const loadOlder = async () => {
    if (!next || older) return;
    const g = gen.current;
    setOlder(true);
    try {
      const list = await api().listShipments(toShipmentQuery(tag, q, PAGE, next));
      if (g !== gen.current) return;
      const seen = new Set(itemsRef.current.map((i) => i.id));
      setItems(itemsRef.current.concat(list.items.filter((i) => !seen.has(i.id))));
      setNext(list.next);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setOlder(false);
    }
  };

  useEffect(() => {
    setLoaded(false);
    void load();
  }, [tag, q]);
  useEffect(() => setText(q), [q]);

  useEffect(() => {
    const refreshCounts = throttle(async () => {
      try {
        setCounts((await api().listShipments({ limit: 1 })).counts);
      } catch {
        /* the next change retries */
      }
    }, 1000);
    return onLive((e) => {
      if (e.type === 'lagged') void load();
      if (e.type !== 'shipment') return;
      const s = e.shipment;
      const rest = itemsRef.current.filter((i) => i.id !== s.id);
      setItems(matchesShipment(s, tag, q) ? [s, ...rest] : rest);
      refreshCounts();
    });
  }, [tag, q]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(t?.tagName)) {
        e.preventDefault();
        document.getElementById('ship-search')?.focus();
        return;
      }
      if (['INPUT', 'TEXTAREA', 'SELECT'].includes(t?.tagName)) return;
      const list = itemsRef.current;
      const cur = list.findIndex((s) => s.id === selectedRef.current);
      let delta = 0;
      if (e.key === 'j' || e.key === 'ArrowDown') delta = 1;
      else if (e.key === 'k' || e.key === 'ArrowUp') delta = -1;
      else if (e.key === 'Enter' && cur >= 0) {
        navigate(shipmentHref(list[cur].id));
        return;
      } else return;
      e.preventDefault();
      const n = moveSelection(cur, delta, list.length);
      if (n < 0) return;
      setSelected(list[n].id);
      const node = listRef.current;
      if (node) {
        const top = scrollToReveal(n, node.scrollTop, node.clientHeight, ROW);
        if (top !== null) node.scrollTop = top;
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  const selectedRef = useRef(selected);
  selectedRef.current = selected;

  const total = counts.reduce((a, c) => a + c.count, 0);

  return (
    <div class="view shipments-view" data-testid="shipments-view">
      <div class="filters">
        <input
          id="ship-search"
          data-testid="shipment-search"
          class="search-input"
          type="search"
          aria-label="Search shipments"
          placeholder="Tracking no., order id, title   ( / )"
          value={text}
          onInput={(e) => {
            const v = (e.currentTarget as HTMLInputElement).value;
            setText(v);
            if (timer.current) clearTimeout(timer.current);
            timer.current = setTimeout(() => navigate(shipmentsHref(tag, v), true), 250);
          }}
        />
      </div>
      <TagChips counts={counts} active={tag} />
      {error && <ErrorBox message={error} onRetry={() => void load()} />}
      <div class="list-wrap">
        {!loaded && !error ? (
          <Loading what="Loading shipments" />
        ) : items.length === 0 && !error ? (
          total === 0 && !tag && !q ? (
            <Empty title="No shipments yet" testid="shipments-empty">
              <p>
                A shipment appears here as soon as a verified AfterShip delivery mentions it, and follows every
                status change after that: In transit, Out for delivery, Delivered…
              </p>
              <p class="muted">Deliveries that fail their signature check never create or change a shipment.</p>
              <div class="actions">
                <TestDeliveryButton />
                <a class="btn" href="#/setup">
                  Setup guide
                </a>
              </div>
            </Empty>
          ) : (
            <Empty title={tag ? `No shipments ${tagLabel(tag).toLowerCase()}` : 'No shipments match'}>
              <p>{q ? `Nothing matches “${q}” in tracking numbers, order ids or titles.` : 'Try another tag.'}</p>
              <a class="btn" href={shipmentsHref('', '')}>
                Show all shipments
              </a>
            </Empty>
          )
        ) : (
          <VirtualList
            items={items}
            rowHeight={ROW}
            containerRef={listRef}
            testid="shipment-list"
            label="Shipments"
            onEndReached={() => void loadOlder()}
            renderRow={(s) => <ShipmentRow key={s.id} s={s} selected={s.id === selected} />}
            footer={
              <div class="list-footer">
                {next ? (
                  <button type="button" class="btn btn-small" disabled={older} onClick={() => void loadOlder()}>
                    {older ? 'Loading…' : 'Load more'}
                  </button>
                ) : (
                  <span class="muted small">{formatCount(items.length)} shown · that's all</span>
                )}
              </div>
            }
          />
        )}
      </div>
    </div>
  );
}
