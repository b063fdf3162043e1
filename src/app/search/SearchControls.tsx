// The transport's search controls: a button that opens the palette (Ctrl+K), and while a
// search has results, previous / "3 of 12" / next around them and a button to clear them.
import { actionTitle } from '../actions';
import { useLab, useLabStoreApi } from '../sim-client-context';
import type { LabState } from '../store/types';

const selectResults = (s: LabState) => s.searchResults;
const selectStepNow = (s: LabState) => s.step;

export function SearchControls() {
  const store = useLabStoreApi();
  const results = useLab(selectResults);
  const step = useLab(selectStepNow);
  const s = () => store.getState();
  const index = results ? results.steps.indexOf(step) : -1;
  const before = results ? results.steps.filter((n) => n < step).length : 0;
  return (
    <div className="transport-group search-controls">
      <button
        type="button"
        className="btn"
        data-testid="btn-search"
        title={actionTitle('openPalette')}
        aria-label="Go to or search"
        onClick={() => s().openPalette()}
      >
        <svg
          viewBox="0 0 16 16"
          width="13"
          height="13"
          aria-hidden="true"
          fill="none"
          stroke="currentColor"
          strokeWidth="1.8"
        >
          <circle cx="6.5" cy="6.5" r="4.5" />
          <path d="M10 10l4.5 4.5" />
        </svg>
        <span className="search-label">Go to / search</span>
      </button>
      {results && (
        <div className="kind-stepper search-stepper" role="group" aria-label="Search results">
          <button
            type="button"
            className="btn transport-btn"
            data-testid="btn-prev-result"
            title={actionTitle('prevResult')}
            aria-label="Previous search result"
            onClick={() => s().searchStep(-1)}
          >
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" fill="currentColor">
              <path d="M12 3v10L5 8z" />
            </svg>
          </button>
          <span className="kind-stepper-label" data-testid="search-position" title={results.description}>
            {results.total === 0
              ? `“${results.query}”: none`
              : index >= 0
                ? `${index + 1} of ${results.total.toLocaleString('en-US')}`
                : `${before} ◂ · ▸ ${results.total - before}`}
          </span>
          <button
            type="button"
            className="btn transport-btn"
            data-testid="btn-next-result"
            title={actionTitle('nextResult')}
            aria-label="Next search result"
            onClick={() => s().searchStep(1)}
          >
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" fill="currentColor">
              <path d="M4 3v10l7-5z" />
            </svg>
          </button>
          <button
            type="button"
            className="btn transport-btn"
            data-testid="btn-clear-search"
            title="Clear the search"
            aria-label="Clear the search"
            onClick={() => s().clearSearch()}
          >
            ×
          </button>
        </div>
      )}
    </div>
  );
}
