// Tauri transport: commands through `invoke` (names and argument shapes from docs/api.md)
// and the `live` event.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type { LiveEvent } from '../generated/LiveEvent';
import { ApiError, errorMessage, type Backend } from './types';

async function cmd<T>(name: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(name, args);
  } catch (e) {
    // Commands reject with the API error body `{ error }` (or a plain string).
    throw new ApiError(0, errorMessage(e));
  }
}

export function createTauriBackend(): Backend {
  return {
    kind: 'tauri',
    status: () => cmd('status'),
    listDeliveries: (query) => cmd('list_deliveries', { query }),
    getDelivery: (id) => cmd('get_delivery', { id }),
    reverifyDelivery: (id, request) => cmd('reverify_delivery', { id, request }),
    listShipments: (query) => cmd('list_shipments', { query }),
    getShipment: (id) => cmd('get_shipment', { id }),
    desk: () => cmd('desk'),
    archiveShipment: (id, archived) => cmd('archive_shipment', { id, archived }),
    removeTestData: () => cmd('remove_test_data'),
    getSettings: () => cmd('get_settings'),
    updateSettings: (update) => cmd('update_settings', { update }),
    sendTestDelivery: (request) => cmd('send_test_delivery', { request }),
    replayDelivery: (id, request) => cmd('replay_delivery', { id, request }),
    deliveryForwards: (id) => cmd('delivery_forwards', { id }),
    reverifyFailed: () => cmd('reverify_failed'),
    tunnelStatus: () => cmd('tunnel_status'),
    restartTunnel: () => cmd('restart_tunnel'),
    selfTest: () => cmd('self_test'),
    notificationLog: () => cmd('notification_log'),
    subscribe(h) {
      let unlisten: (() => void) | null = null;
      let unlistenOpen: (() => void) | null = null;
      let stopped = false;
      h.onConnection('connecting');
      // A click on a desktop notification opens its shipment.
      listen<number>('open-shipment', (ev) => {
        const hash = `#/shipment/${ev.payload}`;
        if (location.hash !== hash) location.hash = hash;
      })
        .then((un) => (stopped ? un() : (unlistenOpen = un)))
        .catch(() => {});
      listen<LiveEvent>('live', (ev) => h.onEvent(ev.payload))
        .then((un) => {
          if (stopped) un();
          else {
            unlisten = un;
            h.onConnection('connected');
          }
        })
        .catch(() => h.onConnection('disconnected'));
      return () => {
        stopped = true;
        unlisten?.();
        unlistenOpen?.();
      };
    },
  };
}
