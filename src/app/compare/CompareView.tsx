// The compare view (docs/compare.md): the run on screen (A) and the other side (B: another
// parameter value, or a fork) side by side, each with its explanation and its timeline, the
// cursors kept in step through the alignment, the first divergence marked on both timelines
// with a button to go there, and the diff of the panels at the aligned steps.
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { useStore } from 'zustand';
import { EventKind, type StepView, type TimelineData } from '../../core/engine/view';
import { ExplanationBar } from '../explanation/ExplanationBar';
import { SimClientProvider, useLab, useLabStoreApi } from '../sim-client-context';
import type { LabStore } from '../store/lab-store';
import type { CompareSpec } from '../store/compare-types';
import { selectInfo, selectStep, selectTimeline, selectView } from '../store/selectors';
import { Timeline } from '../timeline/Timeline';
import type { TimelineMarker } from '../timeline/TimelineMarkers';
import { type Aligned, compareControllerFor } from './compare-controller';
import { diffViews } from './panel-diff';

/** What the other side is, in words: "virtual_nmis = 1", "fork: 30:…=0". */
export function specLabel(spec: CompareSpec | null): string {
  if (!spec) return '';
  const parts = Object.entries(spec.params).map(([k, v]) => `${k} = ${v}`);
  if (spec.edits.length) parts.push(`fork ${spec.edits.join(', ')}`);
  return parts.join('; ') || 'the same run';
}

/** Connects the page store's compare spec to the second worker (call once, in the App). */
export function useCompareConnection(): void {
  const store = useLabStoreApi();
  useEffect(() => compareControllerFor(store).connect(), [store]);
}

function useOtherView(other: LabStore | null): StepView | null {
  const subscribe = useCallback((cb: () => void) => (other ? other.subscribe(cb) : () => {}), [other]);
  return useSyncExternalStore(subscribe, () => other?.getState().view ?? null);
}

/** A fork's edit events (kind `edit`), marked on its timeline. */
function editMarkers(t: TimelineData | null): TimelineMarker[] {
  if (!t) return NO_MARKERS;
  const out: TimelineMarker[] = [];
  t.kinds.forEach((k, i) => {
    if (k === EventKind.EDIT) out.push({ step: t.steps[i], label: 'Edited by the user', kind: 'edit' });
  });
  return out.length ? out : NO_MARKERS;
}
const NO_MARKERS: TimelineMarker[] = [];

function Side({ side, title, markers }: { side: 'a' | 'b'; title: string; markers: TimelineMarker[] }) {
  const step = useLab(selectStep);
  const info = useLab(selectInfo);
  const timeline = useLab(selectTimeline);
  const edits = useMemo(() => editMarkers(timeline), [timeline]);
  const all = useMemo(() => [...edits, ...markers], [edits, markers]);
  return (
    <section className="compare-side panel" data-testid={`compare-side-${side}`} data-step={step}>
      <h3 className="compare-side-title">
        <span className="compare-badge">{side.toUpperCase()}</span>
        <span className="compare-side-name" title={title}>
          {title}
        </span>
        <span className="compare-side-step" data-testid={`compare-step-${side}`}>
          step {step.toLocaleString('en-US')} of {(info?.totalSteps ?? 0).toLocaleString('en-US')}
        </span>
      </h3>
      <ExplanationBar />
      <Timeline markers={all} />
    </section>
  );
}

function Summary({ al, exitsNames }: { al: Aligned; exitsNames: string[] }) {
  const d = al.divergence;
  return (
    <div className="compare-summary" data-testid="compare-summary">
      <span>
        {d
          ? `First divergence: A step ${d.a ?? '(ended)'} · B step ${d.b ?? '(ended)'}; ${al.prefix.toLocaleString('en-US')} events in common before it.`
          : 'The runs are identical.'}
      </span>
      <span className="compare-exits">
        VM exits:{' '}
        {exitsNames.map((n, l) => (
          <span key={n} className={(al.exitsA[l] ?? 0) !== (al.exitsB[l] ?? 0) ? 'changed' : ''}>
            {n} {al.exitsA[l] ?? 0} / {al.exitsB[l] ?? 0}
          </span>
        ))}
      </span>
    </div>
  );
}

function DiffTable({ a, b }: { a: StepView | null; b: StepView | null }) {
  const [all, setAll] = useState(false);
  const rows = useMemo(() => diffViews(a, b), [a, b]);
  const shown = all ? rows : rows.filter((r) => r.changed);
  const changed = rows.filter((r) => r.changed).length;
  return (
    <section className="compare-diff panel" aria-label="Differences of the panels at the aligned steps">
      <header className="compare-diff-head">
        <h3>
          Panels at the aligned steps: {changed} value{changed === 1 ? '' : 's'} differ
        </h3>
        <label>
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> show all
        </label>
      </header>
      <div className="compare-diff-scroll">
        <table data-testid="compare-diff">
          <thead>
            <tr>
              <th>panel</th>
              <th>value</th>
              <th>A</th>
              <th>B</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr
                key={`${r.section}:${r.name}`}
                className={r.changed ? 'changed' : ''}
                data-testid="compare-diff-row"
              >
                <td>{r.section}</td>
                <td>{r.name}</td>
                <td>{r.a}</td>
                <td>{r.b}</td>
              </tr>
            ))}
            {shown.length === 0 && (
              <tr>
                <td colSpan={4} className="compare-diff-none">
                  The panels are the same at these steps.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function CompareView() {
  const store = useLabStoreApi();
  const controller = compareControllerFor(store);
  const { status, alignment, other, otherClient, spec } = useStore(controller.state);
  const aView = useLab(selectView);
  const bView = useOtherView(other);
  const info = useLab(selectInfo);
  const d = alignment?.divergence ?? null;
  const markersA = useMemo<TimelineMarker[]>(
    () => (d?.a ? [{ step: d.a, label: 'First divergence', kind: 'divergence' }] : []),
    [d],
  );
  const markersB = useMemo<TimelineMarker[]>(
    () => (d?.b ? [{ step: d.b, label: 'First divergence', kind: 'divergence' }] : []),
    [d],
  );
  const names = info?.levels.map((l) => `L${l.index}`) ?? [];
  return (
    <section className="compare-view" data-testid="compare-view" aria-label="Compare two runs">
      <header className="compare-head">
        <h2>Compare</h2>
        <span className="compare-what">
          A: the run on screen · B: {status === 'ready' ? specLabel(spec) : 'running…'}
        </span>
        <div className="compare-actions">
          <button
            type="button"
            className="btn"
            data-testid="go-to-divergence"
            disabled={!d}
            title="Go to the first event where the runs differ, on both sides"
            onClick={() => controller.goToDivergence()}
          >
            Go to divergence
          </button>
          <button
            type="button"
            className="btn"
            data-testid="close-compare"
            title="Close the compare view (the run on screen stays)"
            onClick={() => store.getState().setCompare(null)}
          >
            Close compare
          </button>
        </div>
        {alignment && <Summary al={alignment} exitsNames={names} />}
      </header>
      <div className="compare-sides">
        <Side side="a" title="the run on screen" markers={markersA} />
        {other && otherClient && status === 'ready' ? (
          <SimClientProvider client={otherClient} store={other}>
            <Side side="b" title={specLabel(spec)} markers={markersB} />
          </SimClientProvider>
        ) : (
          <section className="compare-side panel compare-loading">Running the other side…</section>
        )}
      </div>
      <DiffTable a={aView} b={status === 'ready' ? bView : null} />
    </section>
  );
}
