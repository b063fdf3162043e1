// An imported trace-cmd KVM trace, read-only: one lane per vCPU with each event a mark in the
// timeline's colours, the lines that could not be read (with their numbers), and for a
// selected exit, "explain this exit": the built-in scenarios whose runs take that exit reason
// (src/core/import/closest.ts), opened through the usual scenario switch (drafts are kept).
// The palette's search words find events in it too (src/core/import/search.ts): the matches
// are marked in the lanes and Enter / the arrows go through them.
import { useMemo, useRef, useState } from 'react';
import { vmxEquivalent } from '../../core/import/closest';
import { searchImported } from '../../core/import/search';
import { reasonLabel, summarizeImport } from '../../core/import/summary';
import type { ImportedEvent, ImportedTrace } from '../../core/import/trace-cmd';
import { useLabStoreApi, useSimClient } from '../sim-client-context';
import { KIND_COLORS } from '../theme';
import { describeImported, importedCategory, isExit } from './imported-marks';

const WIDTH = 1000;
const LANE = 28;

export function ImportedTraceDialog({
  name,
  trace,
  onClose,
}: {
  name: string;
  trace: ImportedTrace;
  onClose: () => void;
}) {
  const client = useSimClient();
  const store = useLabStoreApi();
  const summary = useMemo(() => summarizeImport(trace), [trace]);
  const [selected, setSelected] = useState<ImportedEvent | null>(null);
  const [closest, setClosest] = useState<{ name: string; title: string }[] | null>(null);
  const vcpus = summary.vcpus.map((v) => v.vcpu);
  const t0 = summary.firstTime;
  const span = Math.max(summary.lastTime - t0, 1e-9);
  const x = (t: number) => ((t - t0) / span) * (WIDTH - 8) + 4;

  const request = useRef(0);
  const lastQuery = useRef('');
  const select = (e: ImportedEvent) => {
    setSelected(e);
    setClosest(null);
    const id = ++request.current;
    const reason = e.exit && isExit(e) ? vmxEquivalent(e.exit, e.fields) : null;
    if (reason === null) return setClosest([]);
    void client.closestBuiltins(reason).then(
      (list) => id === request.current && setClosest(list),
      () => id === request.current && setClosest([]),
    );
  };

  const [query, setQuery] = useState('');
  const [found, setFound] = useState<{ matches: number[]; at: number } | null>(null);
  const [queryError, setQueryError] = useState<string | null>(null);
  const matched = useMemo(() => new Set(found?.matches ?? []), [found]);
  const runSearch = () => {
    if (query.trim() === '') {
      setFound(null);
      setQueryError(null);
      return;
    }
    try {
      const r = searchImported(trace, query);
      setQueryError(null);
      setFound({ matches: r.matches, at: 0 });
      if (r.matches.length > 0) select(trace.events[r.matches[0]]);
    } catch (e) {
      setFound(null);
      setQueryError((e as Error).message);
    }
  };
  const goMatch = (delta: number) => {
    if (!found || found.matches.length === 0) return;
    const n = found.matches.length;
    const at = (found.at + delta + n) % n;
    setFound({ ...found, at });
    select(trace.events[found.matches[at]]);
  };

  const open = (builtin: string) => {
    onClose();
    void store.getState().pickBuiltin(builtin);
  };

  return (
    <div className="overlay" onClick={onClose}>
      <div
        className="dialog imported-dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="imported-title"
        data-testid="imported-trace"
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => e.key === 'Escape' && onClose()}
      >
        <h2 id="imported-title">Imported trace: {name}</h2>
        <p data-testid="imported-summary">
          {summary.events === 0
            ? `No KVM events (kvm_entry, kvm_exit, ...) in ${name}: nothing to show.`
            : `${summary.events} KVM events on ${vcpus.length} vCPU${vcpus.length === 1 ? '' : 's'}, ` +
              `${Object.values(summary.exitsByReason).reduce((a, b) => a + b, 0)} exits over ` +
              `${((summary.lastTime - t0) * 1e6).toFixed(0)} µs (read-only). Click a mark to see the event.`}
        </p>
        <form
          className="imported-search"
          onSubmit={(e) => {
            e.preventDefault();
            // Enter on the same query goes to the next match, as in the palette.
            if (found && queryError === null && found.matches.length > 0 && query === lastQuery.current)
              goMatch(1);
            else {
              lastQuery.current = query;
              runSearch();
            }
          }}
        >
          <input
            className="palette-input"
            data-testid="imported-search"
            aria-label="Search the imported trace"
            aria-invalid={queryError !== null}
            placeholder="Search: exit 7, vector 0xec, kvm_inj_virq, vcpu 1, L2 …"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          <button type="button" className="btn" data-testid="imported-prev" onClick={() => goMatch(-1)}>
            ‹
          </button>
          <button type="button" className="btn" data-testid="imported-next" onClick={() => goMatch(1)}>
            ›
          </button>
          <span className="imported-search-count" data-testid="imported-search-count" aria-live="polite">
            {found
              ? found.matches.length === 0
                ? 'no match'
                : `${found.at + 1} of ${found.matches.length}`
              : ''}
          </span>
        </form>
        {queryError && (
          <p className="palette-error" role="alert" data-testid="imported-search-error">
            {queryError}
          </p>
        )}
        <div className="imported-lanes" role="group" aria-label="one lane per vCPU">
          {vcpus.map((v) => (
            <div className="imported-lane" key={v} data-testid={`imported-lane-${v}`}>
              <span className="imported-lane-name">{v < 0 ? 'vCPU ?' : `vCPU ${v}`}</span>
              <svg viewBox={`0 0 ${WIDTH} ${LANE}`} preserveAspectRatio="none" height={LANE}>
                <line x1={0} x2={WIDTH} y1={LANE / 2} y2={LANE / 2} stroke="#30363d" />
                {trace.events.map((e, i) =>
                  e.vcpu !== v ? null : (
                    <rect
                      key={e.line}
                      data-testid={`imported-mark-${e.line}`}
                      data-match={matched.has(i) || undefined}
                      className={matched.has(i) ? 'imported-match' : undefined}
                      x={x(e.time) - 2}
                      y={isExit(e) ? 3 : 8}
                      width={4}
                      height={isExit(e) ? LANE - 6 : LANE - 16}
                      fill={KIND_COLORS[importedCategory(e)]}
                      stroke={selected === e ? '#fff' : 'none'}
                      onClick={() => select(e)}
                    >
                      <title>{describeImported(e)}</title>
                    </rect>
                  ),
                )}
              </svg>
            </div>
          ))}
        </div>
        {selected && (
          <div className="imported-selected" data-testid="imported-selected">
            <p>{describeImported(selected)}</p>
            {isExit(selected) && selected.exit && (
              <div data-testid="explain-exit">
                <strong>Explain this exit ({reasonLabel(selected)}):</strong>{' '}
                {closest === null
                  ? 'looking for the closest built-in…'
                  : closest.length === 0
                    ? 'no built-in scenario takes this exit.'
                    : closest.map((b) => (
                        <button
                          key={b.name}
                          type="button"
                          className="btn"
                          data-testid={`explain-open-${b.name}`}
                          title={b.title}
                          onClick={() => open(b.name)}
                        >
                          Open {b.name}
                        </button>
                      ))}
              </div>
            )}
          </div>
        )}
        {trace.problems.length > 0 && (
          <details className="imported-problems" data-testid="imported-problems" open>
            <summary>
              {trace.problems.length} line{trace.problems.length === 1 ? '' : 's'} not read
            </summary>
            <ul>
              {trace.problems.slice(0, 50).map((p) => (
                <li key={p.line}>
                  line {p.line}: {p.message}
                </li>
              ))}
            </ul>
          </details>
        )}
        <div className="dialog-buttons">
          <button type="button" className="btn" data-testid="imported-close" onClick={onClose} autoFocus>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
