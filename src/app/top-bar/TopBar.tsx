// The top bar: the product, the scenario picker with its parameters, the drafts, the
// bookmarks, share (copy the link to this place), the trace menu
// (Perfetto export, trace-cmd import) and help.
import { actionTitle } from '../actions';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectBuiltins, selectInfo, selectLoading, selectRequest } from '../store/selectors';
import { CompareMenu } from '../compare/CompareMenu';
import { BookmarksMenu } from './BookmarksMenu';
import { DraftsMenu } from './DraftsMenu';
import { ScenarioParams } from './ScenarioParams';
import { TraceMenu } from './TraceMenu';

const CUSTOM = '__custom__';

function ScenarioPicker() {
  const store = useLabStoreApi();
  const builtins = useLab(selectBuiltins);
  const request = useLab(selectRequest);
  const info = useLab(selectInfo);
  const value = request && 'builtin' in request ? request.builtin : request ? CUSTOM : '';
  const current = builtins.find((b) => b.name === value);
  const shown =
    value === ''
      ? 'Loading scenarios…'
      : value === CUSTOM
        ? `Custom: ${info?.title ?? 'edited scenario'}`
        : current?.title;
  const description = current?.description ?? info?.description;

  // A native select cannot end its text with an ellipsis: the title is drawn by a span that
  // can, and the (transparent) select on top of it takes the clicks and the keyboard.
  return (
    <label className="scenario-picker" title={[shown, description].filter(Boolean).join('\n')}>
      <span className="visually-hidden">Scenario</span>
      <span className="picker-face" aria-hidden="true">
        <span className="picker-text">{shown}</span>
        <svg className="picker-chevron" viewBox="0 0 10 6" width="10" height="6">
          <path d="M1 1l4 4 4-4" fill="none" stroke="currentColor" strokeWidth="1.5" />
        </svg>
      </span>
      <select
        data-testid="scenario-picker"
        value={value}
        onChange={(e) => {
          if (e.target.value !== CUSTOM) void store.getState().pickBuiltin(e.target.value);
        }}
      >
        {value === '' && <option value="">Loading scenarios…</option>}
        {builtins.map((b) => (
          <option key={b.name} value={b.name}>
            {b.title}
          </option>
        ))}
        {value === CUSTOM && <option value={CUSTOM}>Custom: {info?.title ?? 'edited scenario'}</option>}
      </select>
    </label>
  );
}

export function TopBar() {
  const store = useLabStoreApi();
  const info = useLab(selectInfo);
  const loading = useLab(selectLoading);
  return (
    <header className="top-bar">
      <div className="brand">
        <span className="brand-name">nestlab</span>
        <span className="brand-tag">event-injection lab</span>
      </div>
      <ScenarioPicker />
      {/* A scenario without virtualization runs on bare metal: no architecture to name
          (its level panel says "bare metal"). */}
      {info?.virtualization && (
        <span className="arch-chip" title="Architecture of the scenario">
          {info.arch.toUpperCase()}
        </span>
      )}
      <ScenarioParams />
      <div className="top-bar-end">
        {loading && (
          <span className="loading" role="status">
            running…
          </span>
        )}
        <DraftsMenu />
        <BookmarksMenu />
        <button
          type="button"
          className="btn"
          data-testid="share-button"
          title="Copy the link to this place (scenario, step, zoom, bookmarks); the address bar always holds it"
          disabled={!info}
          onClick={() => store.getState().share()}
        >
          Copy link
        </button>
        <CompareMenu />
        <TraceMenu />
        <button
          type="button"
          className="btn btn-icon"
          data-testid="help-button"
          title={actionTitle('toggleHelp')}
          aria-label="Keyboard shortcuts and help"
          onClick={() => store.getState().toggleHelp()}
        >
          ?
        </button>
      </div>
    </header>
  );
}
