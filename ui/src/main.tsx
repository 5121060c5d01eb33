import { render } from 'preact';
import { App } from './app';
import { ready, start, statusError, unauthorized } from './state/app';
import { startFeedLive } from './state/feed';
import { startForwardsLive } from './state/forwards';
import './styles.css';

const root = document.getElementById('app')!;
startFeedLive();
startForwardsLive();
render(<App />, root);
start().catch((e) => {
  if (!unauthorized.value) {
    statusError.value = e instanceof Error ? e.message : String(e);
    ready.value = true;
  }
});
