import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../backend';
import { CopyField, DuplicateMark, Empty, ErrorBox, HttpStatus, Loading, TagBadge, VerdictBadge } from '../components/common';
import { VirtualList } from '../components/VirtualList';
import { ForwardMark } from '../components/Forward';
import { TestEventDialogButton } from '../components/TestEvent';
import { LoudWarnings } from '../components/Warnings';
import { RangeFilter } from '../components/RangeFilter';
import { forwardOf, forwards } from '../state/forwards';
import type { DeliveryItem } from '../generated/DeliveryItem';
import { diagnosisLabel, eventLabel, formatFullTime, formatListTime, KNOWN_TAGS, plural, tagLabel, verdictInfo } from '../lib/format';
import { DIAGNOSIS_FILTERS, emptyFilters, hasFilters, VERDICT_FILTERS, type FeedFilters } from '../lib/query';
import { deliveryHref, feedHref } from '../lib/router';
import { moveSelection, scrollToReveal } from '../lib/virtual';
import { api, navigate, needsSetup, showToast, status } from '../state/app';
import {
  feedError,
  feedFilters,
  feedItems,
  feedLoaded,
  feedLoading,
  feedLoadingOlder,
  feedNewAbove,
  feedNext,
  feedScroll,
  feedSelected,
  liveIds,
  loadOlder,
  reloadFeed,
  seenSlugs,
  setFeedFilters,
  setOnRowsAbove,
} from '../state/feed';

export const ROW_HEIGHT = 36;

function isTyping(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable;
}

export function SetupBanner() {
  const s = status.value;
  if (!needsSetup(s)) return null;
  const missing = [!s!.secret_configured && 'add your webhook secret', !s!.public_url && 'set your public URL'].filter(Boolean);
  return (
    <div class="banner" data-testid="setup-banner">
      <span>
        <strong>Finish setting up:</strong> {missing.join(' and ')} so AfterShip's deliveries reach you and can be verified.
      </span>
      <a class="btn btn-small btn-primary" href="#/setup">
        Open setup
      </a>
    </div>
  );
}

export function TestDeliveryButton({ label = 'Send a signed test delivery', primary = false }: { label?: string; primary?: boolean }) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class={primary ? 'btn btn-primary' : 'btn'}
      data-testid="send-test"
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          const r = await api().sendTestDelivery({});
          showToast(`Test delivery sent: our receiver answered ${r.status}.`, r.status < 300 ? 'ok' : 'error');
        } catch (e) {
          showToast(errorMessage(e), 'error');
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy ? 'Sending…' : label}
    </button>
  );
}

function FeedRow({ d, selected }: { d: DeliveryItem; selected: boolean }) {
  return (
    <a
      href={deliveryHref(d.id)}
      class={`row feed-row${selected ? ' selected' : ''}${liveIds.has(d.id) ? ' live' : ''}`}
      data-testid="feed-row"
      data-id={d.id}
      data-verdict={d.verdict}
      aria-current={selected ? 'true' : undefined}
      onClick={() => (feedSelected.value = d.id)}
    >
      <span class="c-time" title={formatFullTime(d.received_at)}>
        {formatListTime(d.received_at)}
      </span>
      <span class="c-event" title={d.event ?? 'no event name (body not an AfterShip envelope)'}>
        {eventLabel(d.event)}
      </span>
      <span class="c-tn mono" title={[d.title, d.order_id && `order ${d.order_id}`].filter(Boolean).join(' · ') || undefined}>
        <span data-testid="row-tracking">{d.tracking_number ?? <span class="muted">—</span>}</span>
        {d.title && d.title !== d.tracking_number && (
          <span class="row-title" data-testid="row-title">
            {' '}
            {d.title}
          </span>
        )}
        {d.test && (
          <>
            {' '}
            <span class="test-mark" data-testid="row-test" title="Sent by Shipwatch's test tools">
              test
            </span>
          </>
        )}
      </span>
      <span class="c-slug" data-testid="row-slug" data-slug={d.slug ?? ''} title={d.slug ? `AfterShip slug: ${d.slug}` : undefined}>
        {d.courier || d.slug || <span class="muted">—</span>}
      </span>
      <span class="c-tag">
        <TagBadge tag={d.tag} />
      </span>
      <span class="c-verdict">
        <DiagnosisBadge d={d} />
      </span>
      <span class="c-status">
        <HttpStatus status={d.status} />
      </span>
      <span class="c-dup">
        <DuplicateMark duplicate={d.duplicate} />
      </span>
      <span class="c-fwd">
        <ForwardMark attempt={forwardOf(d, forwards.value)} />
      </span>
    </a>
  );
}

/**
 * The verdict badge, saying why when it failed ("✗ wrong secret", "✗ hex signature") or when a
 * rotation is unfinished ("✓ previous secret"); the sentence and the advice are on the delivery's page.
 */
function DiagnosisBadge({ d }: { d: DeliveryItem }) {
  const code = d.diagnosis;
  const v = verdictInfo(d.verdict);
  if (!code || (v.kind !== 'fail' && code !== 'valid_previous')) return <VerdictBadge verdict={d.verdict} />;
  const label = diagnosisLabel(code);
  return (
    <span
      class={`verdict verdict-${v.kind} diagnosis`}
      data-testid="row-diagnosis"
      data-diagnosis={code}
      title={`${v.long}: ${label} (${code}). Open the delivery for the explanation.`}
    >
      <span aria-hidden="true">{v.kind === 'pass' ? '✓' : '✗'}</span> {label}
    </span>
  );
}

function Filters({ filters }: { filters: FeedFilters }) {
  const [q, setQ] = useState(filters.q);
  const [slug, setSlug] = useState(filters.slug);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => setQ(filters.q), [filters.q]);
  useEffect(() => setSlug(filters.slug), [filters.slug]);
  // Typed filters wait for a pause; edits made meanwhile (another field) are merged, never lost.
  const pending = useRef<Partial<FeedFilters>>({});
  const apply = (patch: Partial<FeedFilters>, debounce = false) => {
    if (timer.current) clearTimeout(timer.current);
    pending.current = { ...pending.current, ...patch };
    const go = () => {
      timer.current = null;
      const all = pending.current;
      pending.current = {};
      navigate(feedHref({ ...feedFilters.value, ...all }), true);
    };
    if (debounce) timer.current = setTimeout(go, 250);
    else go();
  };
  return (
    <div class="filters" role="search">
      <select
        data-testid="filter-verdict"
        aria-label="Verdict"
        value={filters.verdict}
        onChange={(e) => apply({ verdict: (e.currentTarget as HTMLSelectElement).value })}
      >
        {VERDICT_FILTERS.map((v) => (
          <option value={v.value}>{v.label}</option>
        ))}
      </select>
      <select
        data-testid="filter-diagnosis"
        aria-label="Reason"
        title="Why the signature passed or failed"
        value={filters.diagnosis}
        onChange={(e) => apply({ diagnosis: (e.currentTarget as HTMLSelectElement).value })}
      >
        <option value="">All reasons</option>
        {DIAGNOSIS_FILTERS.map((g) => (
          <optgroup label={g.group}>
            {g.options.map((o) => (
              <option value={o.value}>{o.label}</option>
            ))}
          </optgroup>
        ))}
        {filters.diagnosis && !DIAGNOSIS_FILTERS.some((g) => g.options.some((o) => o.value === filters.diagnosis)) && (
          <option value={filters.diagnosis}>{filters.diagnosis}</option>
        )}
      </select>
      <select
        data-testid="filter-tag"
        aria-label="Tag"
        value={filters.tag}
        onChange={(e) => apply({ tag: (e.currentTarget as HTMLSelectElement).value })}
      >
        <option value="">All tags</option>
        {KNOWN_TAGS.map((t) => (
          <option value={t}>{tagLabel(t)}</option>
        ))}
        {filters.tag && !(KNOWN_TAGS as readonly string[]).includes(filters.tag) && <option value={filters.tag}>{filters.tag}</option>}
      </select>
      <input
        data-testid="filter-slug"
        class="slug-input"
        aria-label="Courier slug"
        placeholder="Courier"
        list="slug-options"
        value={slug}
        onInput={(e) => {
          const v = (e.currentTarget as HTMLInputElement).value;
          setSlug(v);
          apply({ slug: v }, true);
        }}
      />
      <datalist id="slug-options">
        {seenSlugs.value.map((s) => (
          <option value={s} />
        ))}
      </datalist>
      <input
        data-testid="filter-q"
        id="feed-search"
        class="search-input"
        type="search"
        aria-label="Search"
        placeholder="Search tracking no., order, title, customer… ( / )"
        value={q}
        onInput={(e) => {
          const v = (e.currentTarget as HTMLInputElement).value;
          setQ(v);
          apply({ q: v }, true);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') (e.currentTarget as HTMLInputElement).blur();
          if (e.key === 'Enter') apply({ q: (e.currentTarget as HTMLInputElement).value });
        }}
      />
      <RangeFilter filters={filters} apply={(patch) => apply(patch)} />
      {hasFilters(filters) && (
        <button type="button" class="btn btn-small btn-ghost" data-testid="clear-filters" onClick={() => navigate(feedHref(emptyFilters()), true)}>
          Clear
        </button>
      )}
      <span class="spacer" />
      <TestEventDialogButton />
    </div>
  );
}

function FeedEmpty({ filters }: { filters: FeedFilters }) {
  const s = status.value;
  if (hasFilters(filters))
    return (
      <Empty title="No deliveries match these filters">
        <p>
          The search looks at tracking numbers, order ids and numbers, titles, event ids, checkpoints, and the
          body fields you look a parcel up by: customer names and emails, destination, custom fields, note.
          Filters combine: every one of them must match.
        </p>
        <button type="button" class="btn" onClick={() => navigate(feedHref(emptyFilters()), true)}>
          Clear filters
        </button>
      </Empty>
    );
  return (
    <Empty title="Waiting for the first delivery" testid="feed-empty">
      <p>
        Every POST that reaches your webhook URL shows up here the moment it is stored — signed or not, accepted
        or refused — with the reason its signature passed or failed.
      </p>
      {s?.local_webhook_url && (
        <div class="kv-block">
          <div class="muted small">Local webhook URL (point your tunnel here)</div>
          <CopyField value={s.local_webhook_url} />
        </div>
      )}
      <div class="kv-block">
        <div class="muted small">URL to paste into AfterShip</div>
        {s?.public_webhook_url ? (
          <CopyField value={s.public_webhook_url} />
        ) : (
          <p>
            Not known yet: <a href="#/setup">set your public tunnel URL in Setup</a>.
          </p>
        )}
      </div>
      <div class="actions">
        <TestDeliveryButton primary />
        <a class="btn" href="#/setup">
          Setup guide
        </a>
      </div>
    </Empty>
  );
}

export function Feed({ filters }: { filters: FeedFilters }) {
  useEffect(() => setFeedFilters(filters), [filters.verdict, filters.tag, filters.slug, filters.q, filters.range, filters.since, filters.until, filters.diagnosis]);
  const listRef = useRef<HTMLDivElement>(null);
  const pendingShift = useRef(0);
  const items = feedItems.value;

  // Keep the rows under the reader's eyes still when live rows arrive above them.
  useEffect(() => {
    setOnRowsAbove((n) => (pendingShift.current += n));
    return () => setOnRowsAbove(null);
  }, []);
  useLayoutEffect(() => {
    const n = pendingShift.current;
    pendingShift.current = 0;
    const node = listRef.current;
    if (!n || !node) return;
    // feedScroll.top follows scroll events: reading node.scrollTop here would force a layout per batch.
    if (feedScroll.top > 0) {
      const top = feedScroll.top + n * ROW_HEIGHT;
      node.scrollTop = top;
      feedScroll.top = top;
      feedNewAbove.value += n;
    }
  }, [items]);

  const select = (id: number | null, reveal = true) => {
    feedSelected.value = id;
    if (id === null || !reveal) return;
    const idx = feedItems.value.findIndex((d) => d.id === id);
    const node = listRef.current;
    if (idx < 0 || !node) return;
    const top = scrollToReveal(idx, node.scrollTop, node.clientHeight, ROW_HEIGHT);
    if (top !== null) node.scrollTop = top;
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === '/' && !isTyping(e.target)) {
        e.preventDefault();
        document.getElementById('feed-search')?.focus();
        return;
      }
      if (isTyping(e.target)) return;
      const list = feedItems.value;
      const cur = feedSelected.value === null ? -1 : list.findIndex((d) => d.id === feedSelected.value);
      let delta = 0;
      if (e.key === 'j' || e.key === 'ArrowDown') delta = 1;
      else if (e.key === 'k' || e.key === 'ArrowUp') delta = -1;
      else if (e.key === 'PageDown') delta = 10;
      else if (e.key === 'PageUp') delta = -10;
      else if (e.key === 'Home' || e.key === 'g') {
        e.preventDefault();
        if (list.length) select(list[0].id);
        return;
      } else if (e.key === 'End' || e.key === 'G') {
        e.preventDefault();
        if (list.length) select(list[list.length - 1].id);
        return;
      } else if ((e.key === 'Enter' || e.key === 'o') && cur >= 0) {
        e.preventDefault();
        navigate(deliveryHref(list[cur].id));
        return;
      } else return;
      e.preventDefault();
      const next = moveSelection(cur, delta, list.length);
      if (next >= 0) select(list[next].id);
      if (next >= list.length - 5) void loadOlder();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const loading = feedLoading.value && !feedLoaded.value;
  const newAbove = feedNewAbove.value;

  return (
    <div class="view feed-view" data-testid="feed-view">
      <LoudWarnings />
      <SetupBanner />
      <Filters filters={filters} />
      <div class="row feed-row head" aria-hidden="true">
        <span class="c-time">Time</span>
        <span class="c-event">Event</span>
        <span class="c-tn">Tracking number</span>
        <span class="c-slug">Courier</span>
        <span class="c-tag">Tag</span>
        <span class="c-verdict">Signature</span>
        <span class="c-status" title="HTTP status we answered">HTTP</span>
        <span class="c-dup" />
        <span class="c-fwd" />
      </div>
      {feedError.value && <ErrorBox message={feedError.value} onRetry={() => void reloadFeed()} />}
      <div class="list-wrap">
        {newAbove > 0 && (
          <button
            type="button"
            class="new-pill"
            data-testid="new-above"
            onClick={() => {
              if (listRef.current) listRef.current.scrollTop = 0;
              feedNewAbove.value = 0;
            }}
          >
            ↑ {plural(newAbove, 'new delivery', 'new deliveries')}
          </button>
        )}
        {loading ? (
          <Loading what="Loading deliveries" />
        ) : items.length === 0 && !feedError.value ? (
          <FeedEmpty filters={filters} />
        ) : (
          <VirtualList
            items={items}
            rowHeight={ROW_HEIGHT}
            containerRef={listRef}
            testid="feed-list"
            label="Deliveries, newest first"
            initialScrollTop={feedScroll.top}
            onScroll={(top) => {
              feedScroll.top = top;
              if (top < ROW_HEIGHT && feedNewAbove.value) feedNewAbove.value = 0;
            }}
            onEndReached={() => void loadOlder()}
            renderRow={(d) => <FeedRow key={d.id} d={d} selected={feedSelected.value === d.id} />}
            footer={
              <div class="list-footer" data-testid="feed-footer">
                {feedNext.value ? (
                  <button type="button" class="btn btn-small" data-testid="load-older" disabled={feedLoadingOlder.value} onClick={() => void loadOlder()}>
                    {feedLoadingOlder.value ? 'Loading older…' : 'Load older'}
                  </button>
                ) : (
                  <span class="muted small">
                    {plural(items.length, 'delivery', 'deliveries')}
                    {hasFilters(filters) ? ' match' : ''} · that's all of them
                  </span>
                )}
              </div>
            }
          />
        )}
      </div>
      <div class="hint-bar muted small">
        <kbd>j</kbd>/<kbd>k</kbd> or <kbd>↑</kbd>/<kbd>↓</kbd> move · <kbd>Enter</kbd> open · <kbd>/</kbd> search
      </div>
    </div>
  );
}
