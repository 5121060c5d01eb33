// A stand-in for the Tauri IPC bridge, injected before the UI loads: `invoke` answers the desktop
// commands of docs/api.md by calling the HTTP API of a real `shipwatch serve`, and `listen('live')`
// is fed from its SSE stream. The UI then picks its Tauri backend, as in the desktop window.
// Every call is recorded in window.__ipcCalls so the test can check command names and argument shapes.
(() => {
  const callbacks = new Map();
  let nextId = 1;
  const calls = [];
  window.__ipcCalls = calls;
  const qs = (q) => {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined && v !== null && v !== '') sp.set(k, String(v));
    const s = sp.toString();
    return s ? '?' + s : '';
  };
  const j = async (path, method = 'GET', body) => {
    const r = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await r.json();
    if (!r.ok) throw data; // commands reject with {error}
    return data;
  };
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener() {} };
  window.__TAURI_INTERNALS__ = {
    metadata: { currentWindow: { label: 'main' }, currentWebview: { windowLabel: 'main', label: 'main' } },
    transformCallback(cb) {
      const id = nextId++;
      callbacks.set(id, cb);
      return id;
    },
    unregisterCallback(id) {
      callbacks.delete(id);
    },
    async invoke(cmd, args = {}) {
      calls.push([cmd, JSON.parse(JSON.stringify(args ?? {}))]);
      switch (cmd) {
        case 'status':
          return j('/api/status');
        case 'list_deliveries':
          return j('/api/deliveries' + qs(args.query));
        case 'get_delivery':
          return j(`/api/deliveries/${args.id}`);
        case 'reverify_delivery':
          return j(`/api/deliveries/${args.id}/reverify`, 'POST', args.request);
        case 'list_shipments':
          return j('/api/shipments' + qs(args.query));
        case 'get_shipment':
          return j(`/api/shipments/${args.id}`);
        case 'desk':
          return j('/api/desk');
        case 'archive_shipment':
          return j(`/api/shipments/${args.id}/archive`, 'POST', { archived: args.archived });
        case 'remove_test_data':
          return j('/api/test-data', 'DELETE');
        case 'get_settings':
          return j('/api/settings');
        case 'update_settings':
          return j('/api/settings', 'PUT', args.update);
        case 'send_test_delivery':
          return j('/api/test-delivery', 'POST', args.request);
        case 'replay_delivery':
          return j(`/api/deliveries/${args.id}/replay`, 'POST', args.request);
        case 'delivery_forwards':
          return j(`/api/deliveries/${args.id}/forwards`);
        case 'reverify_failed':
          return j('/api/reverify-failed', 'POST');
        case 'tunnel_status':
          return j('/api/tunnel');
        case 'restart_tunnel':
          return j('/api/tunnel/restart', 'POST');
        case 'self_test':
          return j('/api/self-test', 'POST');
        case 'notification_log':
          return [
            { seq: 1, at: new Date().toISOString(), outcome: 'suppressed', reason: 'quiet hours (22:00–07:00)', delivery_ids: [1], shipment_id: 1, tag: 'OutForDelivery', summary: 'Out for delivery', body: null, notification_id: null },
          ];
        case 'plugin:event|listen': {
          const cb = callbacks.get(args.handler);
          const eventId = nextId++;
          if (args.event === 'live') {
            const es = new EventSource('/api/stream');
            for (const name of ['delivery', 'shipment', 'forward', 'desk', 'lagged'])
              es.addEventListener(name, (ev) => cb({ event: 'live', id: eventId, payload: JSON.parse(ev.data) }));
          } else {
            window.__tauriEmit = window.__tauriEmit ?? {};
            window.__tauriEmit[args.event] = (payload) => cb({ event: args.event, id: eventId, payload });
          }
          return eventId;
        }
        case 'plugin:event|unlisten':
          return null;
        default:
          throw { error: `unknown command ${cmd}` };
      }
    },
  };
})();
