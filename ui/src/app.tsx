import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { section } from './lib/router';
import { navigate, needsSetup, ready, route, status, toast, unauthorized } from './state/app';
import { Delivery } from './views/Delivery';
import { Feed } from './views/Feed';
import { Home } from './views/Home';
import { Settings } from './views/Settings';
import { Setup } from './views/Setup';
import { Shipment } from './views/Shipment';
import { Shipments } from './views/Shipments';
import { StatusBar } from './views/StatusBar';
import { Empty, Loading } from './components/common';
import { formatCount } from './lib/format';

function Unauthorized() {
  return (
    <div class="fullscreen" data-testid="unauthorized">
      <div class="card narrow">
        <h1>This inspector needs its access token</h1>
        <p>
          Open the URL printed by <code>shipwatch serve</code> (it carries the token), for example:
        </p>
        <pre class="code">inspector: http://127.0.0.1:8788/?token=…</pre>
        <p class="muted">
          The token is also in the file <code>inspector-token</code> in Shipwatch's data directory. Opening that URL once
          sets a cookie for this browser; after that the plain address works.
        </p>
      </div>
    </div>
  );
}

function Nav() {
  const sec = section(route.value);
  const s = status.value;
  const tab = (name: string, href: string, label: string, extra?: ComponentChildren) => (
    <a href={href} class={`tab${sec === name ? ' active' : ''}`} aria-current={sec === name ? 'page' : undefined} data-testid={`nav-${name}`}>
      {label}
      {extra}
    </a>
  );
  return (
    <header class="topbar">
      <a href="#/" class="brand" aria-label="Shipwatch: home">
        <span class="logo" aria-hidden="true">
          ◉
        </span>
        Shipwatch
      </a>
      <nav class="tabs">
        {tab(
          'home',
          '#/',
          'Home',
          s && s.attention_count > 0 ? (
            <span class="tab-count" data-testid="nav-attention-count" title={`${s.attention_count} shipments need attention`}>
              {formatCount(s.attention_count)}
            </span>
          ) : null,
        )}
        {tab('feed', '#/feed', 'Feed')}
        {tab('shipments', '#/shipments', 'Shipments')}
        {tab('setup', '#/setup', 'Setup', needsSetup(s) ? <span class="dot-alert" title="Setup not finished" /> : null)}
        {tab('settings', '#/settings', 'Settings')}
      </nav>
    </header>
  );
}

function Page() {
  const r = route.value;
  switch (r.name) {
    case 'home':
      return <Home />;
    case 'feed':
      return <Feed filters={r.filters} />;
    case 'delivery':
      return <Delivery id={r.id} />;
    case 'shipments':
      return <Shipments tag={r.tag} q={r.q} />;
    case 'shipment':
      return <Shipment id={r.id} />;
    case 'setup':
      return <Setup />;
    case 'settings':
      return <Settings />;
    default:
      return (
        <Empty title="Nothing here">
          <p>
            <code>{r.path}</code> is not a page of Shipwatch. <a href="#/">Go to the home page.</a>
          </p>
        </Empty>
      );
  }
}

export function App() {
  useEffect(() => {
    // First run: open the guide instead of an empty home page.
    if (ready.value && route.value.name === 'home' && needsSetup(status.value)) navigate('#/setup', true);
  }, [ready.value]);

  if (unauthorized.value) return <Unauthorized />;
  if (!ready.value) return <Loading what="Starting" />;
  const t = toast.value;
  return (
    <div class="app">
      <Nav />
      <main class="main">
        <Page />
      </main>
      <StatusBar />
      {t && (
        <div class={`toast toast-${t.kind}`} role="status" data-testid="toast" key={t.seq}>
          {t.text}
        </div>
      )}
    </div>
  );
}
