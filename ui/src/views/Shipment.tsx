import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../backend';
import { CopyButton, DuplicateMark, Empty, ErrorBox, HttpStatus, Loading, TagBadge, VerdictBadge } from '../components/common';
import type { CheckpointItem } from '../generated/CheckpointItem';
import type { ShipmentDetail } from '../generated/ShipmentDetail';
import { eventLabel, formatFullTime, formatListTime, formatSentDate, relativeTime, tagColor } from '../lib/format';
import { subtagWording } from '../lib/devtools';
import { deliveryHref, shipmentsHref } from '../lib/router';
import { courierName, dueInfo, estimateMove, kindInfo, lastScanLine, proofOfDelivery, shipmentHeadline, shortDateTime, webhookVersionLabel } from '../lib/desk';
import { Icon } from '../components/Icon';
import type { Attention } from '../generated/Attention';
import type { EstimateChange } from '../generated/EstimateChange';
import { api, goBack, onLive, refreshStatus, showToast } from '../state/app';

function place(c: CheckpointItem): string {
  if (c.location) return c.location;
  return [c.city, c.state, c.postal_code, c.country].filter(Boolean).join(', ');
}

/** A short readable form of the estimated-delivery objects (as sent, any version). */
function eddLines(edd: Record<string, unknown> | null): [string, string][] {
  if (!edd) return [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(edd)) {
    if (v === null || v === undefined) continue;
    const name = k.replace(/_/g, ' ');
    if (typeof v !== 'object') {
      out.push([name, String(v)]);
      continue;
    }
    const o = v as Record<string, unknown>;
    const date = (o.estimated_delivery_date ?? o.datetime ?? o.date ?? o.estimated_delivery_date_max ?? o.datetime_max) as string | undefined;
    const min = (o.estimated_delivery_date_min ?? o.datetime_min) as string | undefined;
    const max = (o.estimated_delivery_date_max ?? o.datetime_max) as string | undefined;
    let text = date ? formatSentDate(String(date)) : '';
    if (min && max) text = `${formatSentDate(String(min))} – ${formatSentDate(String(max))}` + (date && date !== max ? ` (best ${formatSentDate(String(date))})` : '');
    if (o.confidence_code !== undefined && o.confidence_code !== null) text += ` · confidence ${o.confidence_code}`;
    if (o.source) text += ` · ${o.source}`;
    if (!text) text = JSON.stringify(v);
    out.push([name, text]);
  }
  return out;
}

function AttentionBanner({ a }: { a: Attention }) {
  const info = kindInfo(a.kind);
  return (
    <div class={`att-banner urg-${info.urgency}`} data-testid="shipment-attention" data-kind={a.kind} role="note">
      <span class="att-icon" aria-hidden="true">
        <Icon name={info.icon} />
      </span>
      <span class="att-kind">{info.label}</span>
      <strong class="att-reason">{a.reason}</strong>
    </div>
  );
}

function EstimateHistory({ changes }: { changes: EstimateChange[] }) {
  const now = new Date();
  return (
    <section class="card" data-testid="estimate-history">
      <div class="card-head">
        <h2>Estimated delivery history</h2>
        <span class="muted small">every move of the estimate, oldest first</span>
      </div>
      <ol class="est-list">
        {changes.map((c) => {
          const m = estimateMove(c, now);
          return (
            <li class="est-row" data-testid="estimate-change" data-direction={m.direction}>
              <a href={deliveryHref(c.delivery_id)} class="muted small" title={`Received ${formatFullTime(c.at)}: open the delivery`}>
                {shortDateTime(c.at, now)}
              </a>
              <span>
                <span class="est-move">
                  {m.from} → {m.to}
                </span>
                {c.reason && <span class="muted"> · {c.reason}</span>}
              </span>
              <span class={`est-dir est-${m.direction}`}>
                {m.direction === 'later' ? '▲ ' : m.direction === 'earlier' ? '▼ ' : ''}
                {m.words}
              </span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function ProofOfDelivery({ s }: { s: ShipmentDetail }) {
  const pod = proofOfDelivery(s.proof_of_delivery, s.signed_by);
  if (!pod) return null;
  return (
    <section class="card" data-testid="proof-of-delivery">
      <div class="card-head">
        <h2>Proof of delivery</h2>
      </div>
      <dl class="meta-grid flat">
        <div class="meta">
          <dt>Signed by</dt>
          <dd data-testid="pod-signed-by">{pod.signedBy ?? '—'}</dd>
        </div>
        {pod.other.map(([k, v]) => (
          <div class="meta">
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {pod.links.length > 0 && (
        <div class="pod-photos">
          {pod.links.map((l) =>
            l.url ? (
              <a href={l.url} target="_blank" rel="noopener noreferrer" data-testid="pod-link">
                {l.label.charAt(0).toUpperCase() + l.label.slice(1)} ↗
              </a>
            ) : (
              <span class="small" data-testid="pod-text" title="Not an http(s) link: shown as text">
                {l.label.charAt(0).toUpperCase() + l.label.slice(1)}: <code>{l.text}</code>
              </span>
            ),
          )}
        </div>
      )}
    </section>
  );
}

function ArchiveToggle({ s, onChanged }: { s: ShipmentDetail; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class="btn btn-small"
      data-testid="shipment-archive"
      data-archived={s.archived ? 'true' : 'false'}
      disabled={busy}
      title={s.archived ? 'Put it back on the home page' : 'Take it off the home page; it stays in Shipments and search'}
      onClick={async () => {
        setBusy(true);
        try {
          await api().archiveShipment(s.id, !s.archived);
          showToast(s.archived ? 'Back on the home page' : 'Archived: off the home page, still in Shipments and search');
          void refreshStatus();
          onChanged();
        } catch (e) {
          showToast(errorMessage(e), 'error');
        } finally {
          setBusy(false);
        }
      }}
    >
      {s.archived ? 'Unarchive' : 'Archive'}
    </button>
  );
}

export function Shipment({ id }: { id: number }) {
  const [s, setS] = useState<ShipmentDetail | null>(null);
  const [error, setError] = useState<{ msg: string; notFound: boolean } | null>(null);
  // The view stays mounted from one shipment to the next: a late answer for the previous id is dropped.
  const current = useRef(id);
  current.current = id;
  const load = async () => {
    try {
      const detail = await api().getShipment(id);
      if (current.current !== id) return;
      setS(detail);
      setError(null);
    } catch (e) {
      if (current.current === id) setError({ msg: errorMessage(e), notFound: e instanceof ApiError && e.notFound });
    }
  };
  useEffect(() => {
    setS(null);
    void load();
    document.querySelector('.main')?.scrollTo(0, 0);
  }, [id]);
  useEffect(
    () =>
      onLive((e) => {
        if ((e.type === 'shipment' && e.shipment.id === id) || e.type === 'lagged' || (e.type === 'delivery' && e.delivery.shipment_id === id))
          void load();
      }),
    [id],
  );
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key === 'Escape' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(t?.tagName)) goBack(shipmentsHref());
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  if (error)
    return (
      <div class="view page" data-testid="shipment-view">
        <a href={shipmentsHref()} class="back">
          ← Shipments
        </a>
        <ErrorBox message={error.notFound ? `Shipment #${id} does not exist.` : error.msg} onRetry={error.notFound ? undefined : () => void load()} />
      </div>
    );
  if (!s) return <Loading what={`Loading shipment #${id}`} />;

  const title = shipmentHeadline(s);
  const now = new Date();
  const due = dueInfo(s.due ?? s.expected_delivery, now, s.delivered_at);
  const timeline = [...s.checkpoints].reverse();
  const edd = eddLines(s.estimated_delivery);
  const link = s.courier_tracking_link ?? s.courier_redirect_link;

  return (
    <div class="view page" data-testid="shipment-view" data-id={s.id}>
      <div class="page-head">
        <a
          href={shipmentsHref()}
          class="back"
          onClick={(e) => {
            e.preventDefault();
            goBack(shipmentsHref());
          }}
        >
          ← Shipments
        </a>
        <h1 data-testid="shipment-title">
          {title}
          {s.test && (
            <span class="test-mark" data-testid="test-mark" title="Made by a Shipwatch test delivery: left out of the home page, counts and the tray">
              test
            </span>
          )}
          {s.archived && (
            <span class="test-mark archived-mark" data-testid="archived-mark" title="Off the home page; still listed and searchable">
              archived
            </span>
          )}
          <span class="spacer" />
          <span class="ship-actions">
            <ArchiveToggle s={s} onChanged={() => void load()} />
          </span>
        </h1>
      </div>

      {s.attention.map((a) => (
        <AttentionBanner a={a} />
      ))}

      <div class={`ship-hero ${tagColor(s.tag)}`} data-testid="shipment-hero">
        <div class="hero-status">
          <TagBadge tag={s.tag} />
          <span class="hero-sub">{subtagWording(s.subtag, s.subtag_message) ?? s.subtag ?? ''}</span>
        </div>
        <div class="hero-eta">
          <span class="muted small">{s.delivered_at ? 'Delivered' : 'Due'}</span>
          <strong data-testid="shipment-eta">
            {s.delivered_at ? shortDateTime(s.delivered_at, now) : s.due ?? s.expected_delivery ? formatSentDate(s.due ?? s.expected_delivery) : 'Not given yet'}
          </strong>
          {due && due.words !== `due ${due.date}` && (
            <span class={due.late ? 'late-text' : 'muted small'} data-testid="shipment-due">
              {due.words.replace(/ \(due [^)]*\)$/, '')}
            </span>
          )}
        </div>
        <div class="hero-loc">
          <span class="muted small">Last seen</span>
          <strong>{s.last_location ?? '—'}</strong>
        </div>
        <div class="hero-scan small">
          <span data-testid="shipment-last-scan" title={s.last_scan_at ? formatFullTime(s.last_scan_at) : undefined}>
            {lastScanLine(s.last_scan_at, now)}
          </span>
          <span class="muted" data-testid="shipment-received" title={formatFullTime(s.updated_at)}>
            Last delivery received {relativeTime(s.updated_at) || formatFullTime(s.updated_at)} (Shipwatch's time, not the courier's)
          </span>
        </div>
      </div>
      {s.unverified && (
        <p class="note warn" data-testid="shipment-unverified">
          Built from unverified deliveries (no secret was configured when they arrived): anyone who knows your URL
          could have sent them. <a href="#/settings">Set your webhook secret.</a>
        </p>
      )}

      <dl class="meta-grid">
        <div class="meta">
          <dt>Tracking number</dt>
          <dd>
            <span class="mono" data-testid="shipment-tn">
              {s.tracking_number ?? '—'}
            </span>{' '}
            {s.tracking_number && <CopyButton text={s.tracking_number} class="btn btn-tiny" />}
          </dd>
        </div>
        <div class="meta">
          <dt>Courier</dt>
          <dd>
            <span data-testid="shipment-courier" title={s.slug ? `AfterShip slug: ${s.slug}` : undefined}>
              {courierName(s)}
            </span>
            {link && (
              <>
                {' · '}
                <a href={link} target="_blank" rel="noopener noreferrer" data-testid="courier-link">
                  Track on the courier's site ↗
                </a>
              </>
            )}
          </dd>
        </div>
        <div class="meta">
          <dt>Order number</dt>
          <dd data-testid="shipment-order-number">{s.order_number ?? '—'}</dd>
        </div>
        <div class="meta">
          <dt>Order id</dt>
          <dd>{s.order_id ?? '—'}</dd>
        </div>
        <div class="meta">
          <dt>AfterShip id</dt>
          <dd class="mono small">{s.tracking_id ?? '—'}</dd>
        </div>

        {edd.map(([k, v]) => (
          <div class="meta">
            <dt>{k}</dt>
            <dd class="small">{v}</dd>
          </div>
        ))}
      </dl>

      {s.estimate_history.length > 0 && <EstimateHistory changes={s.estimate_history} />}
      <ProofOfDelivery s={s} />

      <section class="card" data-testid="timeline-section">
        <div class="card-head">
          <h2>Timeline</h2>
          <span class="muted small">{s.checkpoints.length} checkpoints · newest first · courier's local time</span>
        </div>
        {timeline.length === 0 ? (
          <Empty title="No checkpoints yet">
            <p>The courier has not scanned this parcel yet. Checkpoints appear with the next delivery from AfterShip.</p>
          </Empty>
        ) : (
          <ol class="timeline" data-testid="timeline">
            {timeline.map((c, i) => (
              <li class={`tl-item${i === 0 ? ' latest' : ''}`} data-testid="checkpoint">
                <span class={`tl-dot ${tagColor(c.tag)}`} aria-hidden="true" />
                <div class="tl-body">
                  <div class="tl-top">
                    <span class="tl-time">{formatSentDate(c.checkpoint_time)}</span>
                    <TagBadge tag={c.tag} title={c.subtag_message ?? undefined} />
                    {c.events.map((ev) => (
                      <span class="pill small">{ev.replace(/_/g, ' ')}</span>
                    ))}
                  </div>
                  <div class="tl-msg" data-testid="checkpoint-message">
                    {c.message ?? c.subtag_message ?? '—'}
                  </div>
                  {place(c) && <div class="tl-loc muted small">{place(c)}</div>}
                </div>
              </li>
            ))}
          </ol>
        )}
      </section>

      <section class="card" data-testid="shipment-deliveries">
        <div class="card-head">
          <h2>Deliveries</h2>
          <span class="muted small">the webhooks that built this shipment, newest first</span>
        </div>
        {s.deliveries.length === 0 ? (
          <p class="muted">None kept.</p>
        ) : (
          <div class="mini-list">
            {s.deliveries.map((d) => (
              <a href={deliveryHref(d.id)} class="row mini-row" data-testid="shipment-delivery" data-id={d.id}>
                <span class="mono small" title={formatFullTime(d.received_at)}>
                  {formatListTime(d.received_at)}
                </span>
                <span>{eventLabel(d.event)}</span>
                <TagBadge tag={d.tag} />
                <VerdictBadge verdict={d.verdict} />
                <HttpStatus status={d.status} />
                <DuplicateMark duplicate={d.duplicate} />
                {d.test && <span class="test-mark">test</span>}
                <span class="muted small" title="as-webhook-version">
                  {webhookVersionLabel(d.webhook_version)}
                </span>
                <span class="muted small">#{d.id}</span>
              </a>
            ))}
          </div>
        )}
      </section>
    </div>
  );
}
