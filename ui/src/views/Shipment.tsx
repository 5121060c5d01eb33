import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../backend';
import { CopyButton, DuplicateMark, Empty, ErrorBox, HttpStatus, Loading, TagBadge, VerdictBadge } from '../components/common';
import type { CheckpointItem } from '../generated/CheckpointItem';
import type { ShipmentDetail } from '../generated/ShipmentDetail';
import { eventLabel, formatFullTime, formatListTime, formatSentDate, relativeTime, tagColor } from '../lib/format';
import { subtagWording } from '../lib/devtools';
import { deliveryHref, shipmentsHref } from '../lib/router';
import { api, goBack, onLive } from '../state/app';

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

  const title = s.title && s.title !== s.tracking_number ? s.title : s.tracking_number ?? `Shipment #${s.id}`;
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
        <h1 data-testid="shipment-title">{title}</h1>
      </div>

      <div class={`ship-hero ${tagColor(s.tag)}`} data-testid="shipment-hero">
        <div class="hero-status">
          <TagBadge tag={s.tag} />
          <span class="hero-sub">{subtagWording(s.subtag, s.subtag_message) ?? s.subtag ?? ''}</span>
        </div>
        <div class="hero-eta">
          <span class="muted small">Expected delivery</span>
          <strong data-testid="shipment-eta">{s.expected_delivery ? formatSentDate(s.expected_delivery) : 'Not given yet'}</strong>
        </div>
        <div class="hero-loc">
          <span class="muted small">Last seen</span>
          <strong>{s.last_location ?? '—'}</strong>
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
            <span class="mono">{s.slug ?? '—'}</span>
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
          <dt>Order id</dt>
          <dd>{s.order_id ?? '—'}</dd>
        </div>
        <div class="meta">
          <dt>AfterShip id</dt>
          <dd class="mono small">{s.tracking_id ?? '—'}</dd>
        </div>
        <div class="meta">
          <dt>Updated</dt>
          <dd title={formatFullTime(s.updated_at)}>{relativeTime(s.updated_at) || formatFullTime(s.updated_at)}</dd>
        </div>
        {edd.map(([k, v]) => (
          <div class="meta">
            <dt>{k}</dt>
            <dd class="small">{v}</dd>
          </div>
        ))}
      </dl>

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
                <span class="muted small">#{d.id}</span>
              </a>
            ))}
          </div>
        )}
      </section>
    </div>
  );
}
