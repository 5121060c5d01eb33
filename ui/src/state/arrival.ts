/**
 * Watching the live stream for one delivery: after `expect(id)`, `arrived` is that delivery as soon
 * as it has been pushed, even when the push came before the API call that sent it returned.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { DeliveryItem } from '../generated/DeliveryItem';
import { onLive } from './app';

export function useDeliveryArrival() {
  const [arrived, setArrived] = useState<DeliveryItem | null>(null);
  const seen = useRef(new Map<number, DeliveryItem>());
  const waitingFor = useRef<number | null>(null);
  useEffect(
    () =>
      onLive((e) => {
        if (e.type !== 'delivery') return;
        seen.current.set(e.delivery.id, e.delivery);
        if (waitingFor.current === e.delivery.id) setArrived(e.delivery);
      }),
    [],
  );
  /** Forget the last one before sending again. */
  const reset = () => {
    setArrived(null);
    waitingFor.current = null;
  };
  /** Wait for this delivery (null: nothing was stored). */
  const expect = (id: number | null) => {
    waitingFor.current = id;
    if (id !== null && seen.current.has(id)) setArrived(seen.current.get(id)!);
  };
  return { arrived, reset, expect };
}
