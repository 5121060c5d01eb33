// Deliveries for the merchant's desk tests: AfterShip 2026-07 bodies whose checkpoint times and
// estimates are relative to now, signed and posted as AfterShip does (with `as-webhook-version`).
import { randomUUID } from 'node:crypto';
import { sign } from './helpers.mjs';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** AfterShip's date-time form: `2026-12-05T14:02:00+00:00`, `days` and `hours` before now. */
export function ago({ days = 0, hours = 0, minutes = 0 } = {}) {
  return new Date(Date.now() - days * DAY - hours * HOUR - minutes * 60_000).toISOString().replace(/\.\d+Z$/, '+00:00');
}

/** The local calendar date `offset` days from today, `YYYY-MM-DD` (the engine runs on this machine's clock and zone). */
export function localDate(offset = 0) {
  const d = new Date();
  d.setDate(d.getDate() + offset);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

const WORDING = {
  InfoReceived_001: 'Info Received',
  InTransit_007: 'Departure scan',
  InTransit_001: 'In Transit',
  OutForDelivery_001: 'Out for Delivery',
  AttemptFail_001: 'Failed Attempt',
  AvailableForPickup_001: 'Available for pickup',
  Exception_005: 'Delayed (External factors)',
  Delivered_001: 'Delivered',
};

/**
 * A 2026-07 `tracking_update` (or another event) for one parcel.
 * scans: [{ ago: {days, hours}, tag, subtag, message, location }], oldest first; the shipment's tag
 * is the last scan's unless `tag` is given.
 */
export function trackingBody({
  tn,
  slug = 'ups',
  title,
  orderNumber = null,
  orderId = null,
  due = null,
  reviseReason = null,
  scans = [],
  tag,
  subtag,
  subtagMessage,
  event = 'tracking_update',
  signedBy = null,
  proofOfDelivery = null,
}) {
  const last = scans[scans.length - 1] ?? {};
  const theTag = tag ?? last.tag ?? 'InfoReceived';
  const theSubtag = subtag ?? last.subtag ?? `${theTag}_001`;
  const now = ago();
  const checkpoints = scans.map((s, i) => ({
    hash: `${tn}-${i}`,
    checkpoint_time: ago(s.ago),
    tag: s.tag,
    subtag: s.subtag ?? `${s.tag}_001`,
    subtag_message: WORDING[s.subtag ?? `${s.tag}_001`] ?? s.tag,
    message: s.message ?? WORDING[s.subtag ?? `${s.tag}_001`] ?? s.tag,
    location: s.location ?? 'Memphis, TN, US',
    city: null,
    state: null,
    postal_code: null,
    country_region: 'USA',
    slug,
    raw_tag: 'XX',
    events: s.events ?? [],
  }));
  return {
    event,
    event_id: randomUUID(),
    is_tracking_first_tag: false,
    ts: Math.floor(Date.now() / 1000),
    msg: {
      id: `trk_desk_${tn.toLowerCase()}`,
      legacy_id: null,
      tracking_number: tn,
      slug,
      title: title ?? tn,
      order_id: orderId,
      order_number: orderNumber,
      customers: [],
      custom_fields: null,
      tag: theTag,
      subtag: theSubtag,
      subtag_message: subtagMessage ?? WORDING[theSubtag] ?? theTag,
      created_at: ago({ days: 10 }),
      updated_at: now,
      last_updated_at: now,
      origin_country_region: 'USA',
      destination_country_region: 'USA',
      courier_tracking_link: `https://track.example.com/${tn}`,
      courier_redirect_link: null,
      aftership_estimated_delivery_date: due
        ? { estimated_delivery_date: due, confidence_code: 0.8, estimated_delivery_date_min: null, estimated_delivery_date_max: null }
        : null,
      latest_estimated_delivery: due
        ? { type: 'specific', source: 'AfterShip EDD', datetime: due, datetime_min: null, datetime_max: null, revise_reason: reviseReason }
        : null,
      signed_by: signedBy,
      proof_of_delivery: proofOfDelivery,
      checkpoints,
    },
  };
}

/** POSTs a body signed with `secret` as AfterShip's 2026-07 webhooks do. */
export async function postVersioned(receiverUrl, body, secret, version = '2026-07') {
  const raw = JSON.stringify(body);
  const res = await fetch(receiverUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'AfterShipTrackingWebhook/4.0.0 (e2e)',
      'as-webhook-version': version,
      'aftership-hmac-sha256': sign(secret, raw),
    },
    body: raw,
  });
  return { status: res.status, text: await res.text() };
}
