// The command palette (Ctrl+K): go to a step or a time, or search the trace (docs/search.md).
// Enter runs the query; on a search with results Enter and Shift+Enter go to the next and
// previous result. A query that cannot be read is shown with what and where, and changes
// nothing.
import { useEffect, useRef } from 'react';
import { useLab, useLabStoreApi } from '../sim-client-context';
import type { LabState } from '../store/types';
import { StepLink } from './StepLink';

const selectOpen = (s: LabState) => s.paletteOpen;
const selectQuery = (s: LabState) => s.searchQuery;
const selectResults = (s: LabState) => s.searchResults;
const selectError = (s: LabState) => s.searchError;
const selectBusy = (s: LabState) => s.searchBusy;
const selectStepNow = (s: LabState) => s.step;

const EXAMPLES = [
  'step 38',
  '12000 cycles',
  'exit 7',
  'EXTERNAL_INTERRUPT L1',
  'vector 2',
  'fn vmx_inject_nmi',
  'assert failed',
  'GUEST_INTERRUPTIBILITY_INFO.NMI',
  'RFLAGS.IF of L1',
  'soft_vnmi_blocked',
];

export function CommandPalette() {
  const store = useLabStoreApi();
  const open = useLab(selectOpen);
  const query = useLab(selectQuery);
  const results = useLab(selectResults);
  const error = useLab(selectError);
  const busy = useLab(selectBusy);
  const step = useLab(selectStepNow);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (open) input.current?.select();
  }, [open]);

  if (!open) return null;
  const s = () => store.getState();
  const close = () => s().closePalette();
  const shown = results && results.query === query.trim() ? results : null;

  function onKeyDown(e: React.KeyboardEvent<HTMLInputElement>) {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      const q = query.trim();
      if (shown && shown.total > 0) s().searchStep(e.shiftKey ? -1 : 1);
      else if (q !== '' || !shown) void s().runSearch(q);
    }
  }

  const listed = shown ? shown.steps.slice(0, shown.notes.length) : [];
  const ahead = shown ? shown.steps.filter((n) => n > step).length : 0;
  return (
    <div className="overlay palette-overlay" onClick={close}>
      <div
        className="palette"
        role="dialog"
        aria-label="Go to or search"
        data-testid="palette"
        onClick={(e) => e.stopPropagation()}
      >
        <input
          ref={input}
          className="palette-input mono"
          data-testid="palette-input"
          aria-label="Go to a step or time, or search the trace"
          placeholder="step 38 · 12000 cycles · exit 7 · vector 2 · RFLAGS.IF of L1 · soft_vnmi_blocked"
          value={query}
          spellCheck={false}
          autoFocus
          aria-invalid={error !== null}
          onChange={(e) => s().setSearchQuery(e.target.value)}
          onKeyDown={onKeyDown}
        />
        {error && (
          <div className="palette-error" role="alert" data-testid="palette-error">
            <div>{error.message}</div>
            <pre className="palette-caret mono" aria-hidden="true">
              {query +
                '\n' +
                ' '.repeat(Math.max(0, error.column - 1)) +
                '^'.repeat(Math.max(1, error.length))}
            </pre>
          </div>
        )}
        {busy && <div className="palette-summary muted">searching…</div>}
        {shown && (
          <div className="palette-summary" data-testid="palette-summary">
            <span>
              {shown.total.toLocaleString('en-US')} result{shown.total === 1 ? '' : 's'}: {shown.description}
            </span>
            <span className="muted">
              {ahead} after step {step} · {shown.ms < 1 ? '<1' : Math.round(shown.ms)} ms · Enter next,
              Shift+Enter previous
            </span>
          </div>
        )}
        {shown && listed.length > 0 && (
          <ol className="palette-results" data-testid="palette-results">
            {listed.map((n, i) => (
              <li
                key={`${n}:${i}`}
                className={n === step ? 'palette-result current' : 'palette-result'}
                data-testid="palette-result"
                data-step={n}
                aria-current={n === step ? 'step' : undefined}
              >
                <StepLink step={n} />
                <span className="palette-note">{shown.notes[i]}</span>
              </li>
            ))}
          </ol>
        )}
        {!shown && !error && !busy && (
          <div className="palette-help muted" data-testid="palette-help">
            Go to <code>step N</code> or <code>N cycles</code>; search by kind, exit reason, vector, level,
            KVM function, assertion, or when a field, bit or variable changed. Try{' '}
            {EXAMPLES.map((x, i) => (
              <span key={x}>
                {i > 0 && ', '}
                <button type="button" className="palette-example mono" onClick={() => s().setSearchQuery(x)}>
                  {x}
                </button>
              </span>
            ))}
            . See docs/search.md.
          </div>
        )}
      </div>
    </div>
  );
}
