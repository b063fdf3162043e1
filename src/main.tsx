// The browser entry: one worker client, one store bound to it, the app. Both are exposed as
// window.__nestlab so browser tests can read the current step and exercise a crash.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { SimClientProvider } from './app/sim-client-context';
import { createLabStore } from './app/store/lab-store';
import { createWorkerClient } from './app/worker-client';
import './app/styles/base.css';
import './app/styles/layout.css';
import './app/styles/panels.css';
import './app/styles/editor.css';
import './app/styles/timeline.css';
import './app/styles/source.css';
import './app/styles/controls.css';
import './app/styles/machine-state.css';
import './app/styles/vmcs.css';
import './app/styles/svm.css';
import './app/styles/counters.css';
import './app/styles/search.css';
import './app/styles/compare.css';

const client = createWorkerClient();
const store = createLabStore(client);

declare global {
  interface Window {
    __nestlab?: { client: typeof client; store: typeof store };
  }
}
window.__nestlab = { client, store };

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <SimClientProvider client={client} store={store}>
      <App />
    </SimClientProvider>
  </StrictMode>,
);
