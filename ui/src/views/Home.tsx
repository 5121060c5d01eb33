// The merchant's home page: what needs attention today and why, then arriving today, in transit
// and delivered recently. Test and archived shipments are left out (the API does it).
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../backend';
import { Empty, ErrorBox, Loading, TagBadge } from '../components/common';
import { Icon } from '../components/Icon';
import { LoudWarnings } from '../components/Warnings';
import type { AttentionItem } from '../generated/AttentionItem';
import type { Desk } from '../generated/Desk';
import type { DeskGroup } from '../generated/DeskGroup';
import type { ShipmentItem } from '../generated/ShipmentItem';
import { throttle } from '../lib/batch';
import {
  ageWords,
  attentionSummary,
  courierName,
  deskIsEmpty,
  dueInfo,
  kindInfo,
  orderLabel,
  scanAge,
  shipmentHeadline,
  shortDateTime,
  withoutShipment,
} from '../lib/desk';
import { subtagWording } from '../lib/devtools';
import { formatCount, plural } from '../lib/format';
import { shipmentHref, shipmentsHref } from '../lib/router';
import { api, onLive, refreshStatus, showToast } from '../state/app';
import { SetupBanner, TestDeliveryButton } from './Feed';

/** Archive a shipment by hand; the caller takes it off the page at once. */
async function archive(s: ShipmentItem, archived: boolean): Promise<boolean> {
  try {
    await api().archiveShipment(s.id, archived);
    showToast(archived ? `Archived “${shipmentHeadline(s)}”: it stays in Shipments and search.` : `“${shipmentHeadline(s)}” is back on the home page.`);
    void refreshStatus();
    return true;
  } catch (e) {
    showToast(errorMessage(e), 'error');
    return false;
  }
}

function ArchiveButton({ s, onArchive, quiet }: { s: ShipmentItem; onArchive: (s: ShipmentItem) => void; quiet?: boolean }) {
  return (
    <button
      type="button"
      class={`btn ${quiet ? 'btn-tiny btn-ghost' : 'btn-small'} archive-btn`}
      data-testid="archive"
      title="Take it off the home page. It stays in Shipments and search."
      aria-label={`Archive ${shipmentHeadline(s)}`}
      onClick={() => onArchive(s)}
    >
      Archive
    </button>
  );
}

/** Title / order, tracking number, courier name: the line under a row's headline. */
function Identity({ s, now }: { s: ShipmentItem; now: Date }) {
  const head = shipmentHeadline(s);
  const order = orderLabel(s);
  return (
    <span class="desk-ident small">
      {order && !head.toLowerCase().startsWith('order') && <span data-testid="row-order">{order} · </span>}
      {s.tracking_number && head !== s.tracking_number && (
        <>
          <span class="mono" data-testid="row-tracking">
            {s.tracking_number}
          </span>
          {' · '}
        </>
      )}
      <span data-testid="row-courier">{courierName(s)}</span>
      <span class="muted" title={s.last_scan_at ? `Courier's last scan: ${shortDateTime(s.last_scan_at, now)}` : undefined} data-testid="row-scan">
        {' '}
        · {scanAge(s.last_scan_at, now)}
      </span>
    </span>
  );
}

function AttentionRow({ item, now, onArchive }: { item: AttentionItem; now: Date; onArchive: (s: ShipmentItem) => void }) {
  const { attention: a, shipment: s } = item;
  const info = kindInfo(a.kind);
  return (
    <li class={`att-row urg-${info.urgency}`} data-testid="attention-row" data-kind={a.kind} data-urgency={info.urgency} data-id={s.id}>
      <span class="att-icon" aria-hidden="true">
        <Icon name={info.icon} size={18} />
      </span>
      <a class="att-main" href={shipmentHref(s.id)}>
        <span class="att-top">
          <span class="att-kind">{info.label}</span>
          <strong class="att-reason" data-testid="attention-reason">
            {a.reason}
          </strong>
        </span>
        <span class="att-title">{shipmentHeadline(s)}</span>
        <Identity s={s} now={now} />
      </a>
      <ArchiveButton s={s} onArchive={onArchive} quiet />
    </li>
  );
}

type GroupKey = 'arriving_today' | 'in_transit' | 'delivered_recently';

function GroupRow({ s, group, now, onArchive }: { s: ShipmentItem; group: GroupKey; now: Date; onArchive: (s: ShipmentItem) => void }) {
  const due = dueInfo(s.due ?? s.expected_delivery, now);
  const wording = subtagWording(s.subtag, s.subtag_message);
  let when: string;
  if (group === 'delivered_recently') when = s.delivered_at ? `delivered ${ageWords(s.delivered_at, now)}` : 'delivered';
  else if (due) when = due.words;
  else when = s.tag === 'OutForDelivery' ? 'out for delivery' : 'no estimate yet';
  return (
    <li class="desk-row" data-testid="desk-row" data-id={s.id}>
      <span class="desk-tag">
        <TagBadge tag={s.tag} title={wording ?? undefined} />
      </span>
      <a class="desk-main" href={shipmentHref(s.id)}>
        <span class="desk-title">{shipmentHeadline(s)}</span>
        <Identity s={s} now={now} />
      </a>
      <span class="desk-when small" data-testid="row-when">
        {when}
      </span>
      <span class="desk-act">
        <ArchiveButton s={s} onArchive={onArchive} quiet={group !== 'delivered_recently'} />
      </span>
    </li>
  );
}

const GROUPS: { key: GroupKey; title: string; icon: string; all: string; none: string }[] = [
  { key: 'arriving_today', title: 'Arriving today', icon: 'calendar', all: shipmentsHref(), none: 'Nothing is due today.' },
  { key: 'in_transit', title: 'In transit', icon: 'truck', all: shipmentsHref(), none: 'Nothing on its way right now.' },
  { key: 'delivered_recently', title: 'Delivered recently', icon: 'check', all: shipmentsHref('Delivered'), none: 'Nothing delivered lately.' },
];

function Group({ g, def, now, onArchive }: { g: DeskGroup; def: (typeof GROUPS)[number]; now: Date; onArchive: (s: ShipmentItem) => void }) {
  return (
    <section class="card desk-group" data-testid={`group-${def.key}`} aria-labelledby={`h-${def.key}`}>
      <div class="card-head">
        <Icon name={def.icon} />
        <h2 id={`h-${def.key}`}>{def.title}</h2>
        <span class="count-pill" data-testid="group-total">
          {formatCount(g.total)}
        </span>
        <span class="spacer" />
        {g.total > 0 && (
          <a href={def.all} class="small" data-testid="show-all">
            {g.total > g.items.length ? `Show all ${formatCount(g.total)} →` : 'Show in Shipments →'}
          </a>
        )}
      </div>
      {g.items.length === 0 ? (
        <p class="muted small">{def.none}</p>
      ) : (
        <ul class="desk-list">
          {g.items.map((s) => (
            <GroupRow key={s.id} s={s} group={def.key} now={now} onArchive={onArchive} />
          ))}
        </ul>
      )}
    </section>
  );
}

function TestNote({ count, onRemoved }: { count: number; onRemoved: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  if (count <= 0) return null;
  const remove = async () => {
    setBusy(true);
    try {
      const r = await api().removeTestData();
      showToast(`Removed ${plural(r.shipments, 'test shipment')} and ${plural(r.deliveries, 'delivery', 'deliveries')}.`);
      setConfirming(false);
      onRemoved();
    } catch (e) {
      showToast(errorMessage(e), 'error');
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="note test-note" data-testid="test-note" role="status">
      {confirming ? (
        <>
          <span>
            Remove {plural(count, 'test shipment')} and every test delivery? Real shipments and deliveries are not touched.
          </span>
          <span class="inline">
            <button type="button" class="btn btn-small btn-danger" data-testid="remove-test-confirm" disabled={busy} onClick={() => void remove()}>
              {busy ? 'Removing…' : 'Remove'}
            </button>
            <button type="button" class="btn btn-small btn-ghost" disabled={busy} onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </span>
        </>
      ) : (
        <>
          <span>
            <strong>{plural(count, 'test shipment')} hidden</strong>
            <span class="muted"> — made by Shipwatch's test tools; left out of this page, the counts and the tray.</span>
          </span>
          <button type="button" class="btn btn-small" data-testid="remove-test-data" onClick={() => setConfirming(true)}>
            Remove test data
          </button>
        </>
      )}
    </div>
  );
}

function NothingNeedsYou() {
  return (
    <div class="all-clear" data-testid="attention-empty">
      <span class="all-clear-icon" aria-hidden="true">
        <Icon name="check" size={20} />
      </span>
      <div>
        <strong>Nothing needs you right now.</strong>
        <p class="muted small">
          Exceptions, failed delivery attempts, parcels past their due date, parcels with no courier scan for days and parcels
          waiting at a pickup point show up here first, with the reason. The days are set in <a href="#/settings">Settings</a>.
        </p>
      </div>
    </div>
  );
}

function NoShipments() {
  return (
    <Empty title="No shipments yet" testid="desk-empty">
      <p>
        This page lists what needs you — exceptions, failed attempts, late and stuck parcels — then what arrives today, what is on its
        way and what was delivered. It fills in as verified AfterShip deliveries arrive.
      </p>
      <p class="muted">
        Not connected yet? Follow the <a href="#/setup">setup guide</a>. Want to see it work first? Send a test delivery: test shipments
        are kept apart and show here as a note you can clear.
      </p>
      <div class="actions">
        <a class="btn btn-primary" href="#/setup">
          Setup guide
        </a>
        <TestDeliveryButton label="Send a test delivery" />
      </div>
    </Empty>
  );
}

export function Home() {
  const [desk, setDesk] = useState<Desk | null>(null);
  const [error, setError] = useState<string | null>(null);
  const gen = useRef(0);

  const load = async () => {
    const g = ++gen.current;
    try {
      const d = await api().desk();
      if (g !== gen.current) return;
      setDesk(d);
      setError(null);
    } catch (e) {
      if (g === gen.current) setError(errorMessage(e));
    }
  };

  useEffect(() => {
    void load();
    const soon = throttle(() => void load(), 1000);
    const off = onLive((e) => {
      if (e.type === 'shipment' || e.type === 'desk' || e.type === 'lagged') soon();
    });
    // Ages ("last scan 3 days ago") move with the clock even when nothing arrives.
    const timer = setInterval(() => {
      if (!document.hidden) void load();
    }, 60_000);
    return () => {
      off();
      clearInterval(timer);
    };
  }, []);

  const onArchive = async (s: ShipmentItem) => {
    // Off the page at once; the next fetch (the desk event that follows) confirms it.
    gen.current++;
    setDesk((d) => (d ? withoutShipment(d, s.id) : d));
    if (!(await archive(s, true))) void load();
  };

  if (error && !desk)
    return (
      <div class="view page home" data-testid="home-view">
        <ErrorBox message={error} onRetry={() => void load()} />
      </div>
    );
  if (!desk) return <Loading what="Loading what needs you" />;

  const now = new Date(desk.now);
  const when = isNaN(now.getTime()) ? new Date() : now;
  const summary = attentionSummary(desk.attention.map((a) => a.attention.kind));

  return (
    <div class="view home-view" data-testid="home-view">
      <LoudWarnings />
      <SetupBanner />
      <div class="page home">
        {error && <ErrorBox message={error} onRetry={() => void load()} />}
        <TestNote count={desk.test_shipments} onRemoved={() => void load()} />
        {deskIsEmpty(desk) ? (
          <NoShipments />
        ) : (
          <>
            <section class="attention" data-testid="attention" aria-labelledby="h-attention">
              <div class="page-head row-head">
                <h1 id="h-attention">
                  Needs attention
                  <span class={`count-pill${desk.attention_total ? ' count-alert' : ''}`} data-testid="attention-count">
                    {formatCount(desk.attention_total)}
                  </span>
                </h1>
                {summary && (
                  <span class="muted small" data-testid="attention-summary">
                    {desk.attention_total > desk.attention.length
                      ? `the ${formatCount(desk.attention.length)} most urgent: ${summary}`
                      : summary}
                  </span>
                )}
              </div>
              {desk.attention.length === 0 ? (
                <NothingNeedsYou />
              ) : (
                <>
                  <ul class="att-list" data-testid="attention-list">
                    {desk.attention.map((a) => (
                      <AttentionRow key={`${a.shipment.id}-${a.attention.kind}`} item={a} now={when} onArchive={onArchive} />
                    ))}
                  </ul>
                  {desk.attention_total > desk.attention.length && (
                    <p class="muted small" data-testid="attention-more">
                      {formatCount(desk.attention_total - desk.attention.length)} more need attention: archive the
                      ones you have dealt with and the next come up.
                    </p>
                  )}
                </>
              )}
            </section>
            {GROUPS.map((def) => (
              <Group key={def.key} g={desk[def.key]} def={def} now={when} onArchive={onArchive} />
            ))}
          </>
        )}
      </div>
    </div>
  );
}
