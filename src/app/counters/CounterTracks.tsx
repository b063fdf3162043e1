// Counter tracks under the timeline's lanes: a track per watched value (a register flag, an
// interruptibility bit, a VMCS field or bit, a KVM variable: whatever "when did X change"
// resolves), fetched from the worker as (step, value) changes and drawn on the timeline's own x
// axis (the store's zoom and axis, the timeline's layout), with the playhead and the value at
// the step shown. A click on a track goes to that step. Tracks are refetched when the run
// changes (another scenario, other parameters).
import { useElementWidth } from '../use-element-width';
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import type { CounterSeries } from '../../core/engine/counter-series';
import type { ScenarioInfo } from '../../core/engine/view';
import { useLab, useLabStoreApi, useSimClient } from '../sim-client-context';
import {
  selectInfo,
  selectStep,
  selectTimeAxis,
  selectTimeline,
  selectTimelineZoom,
} from '../store/selectors';
import { axisScale, layoutFor, stepAtX, xOfStep } from '../timeline/timeline-scale';
import { formatValue, trackGeometry, valueAt } from './counter-path';

const TRACK_HEIGHT = 30;

interface Track {
  query: string;
  series: CounterSeries | null;
  /** The run the series is of (a series of another run is not drawn). */
  run: ScenarioInfo | null;
}

function AddTrack({ onAdd }: { onAdd: (query: string) => Promise<string | null> }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    const problem = await onAdd(text);
    setError(problem);
    if (!problem) {
      setText('');
      setOpen(false);
    }
  };
  if (!open)
    return (
      <button
        type="button"
        className="btn btn-small counter-add-open"
        data-testid="counter-add-open"
        onClick={() => setOpen(true)}
        title="Draw a value over time under the lanes: a flag, a bit, a VMCS field, a KVM variable"
      >
        + counter track
      </button>
    );
  return (
    <form className="counter-add" onSubmit={submit} data-testid="counter-add">
      <input
        className="counter-input mono"
        data-testid="counter-input"
        aria-label="What to draw as a counter track"
        placeholder="RFLAGS.IF of L1 · blocking_by_nmi · GUEST_INTERRUPTIBILITY_INFO.NMI · vnmi_blocked_time"
        value={text}
        autoFocus
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          // Keys typed here are not the lab's shortcuts; Escape closes the field.
          e.stopPropagation();
          if (e.key === 'Escape') setOpen(false);
        }}
      />
      <button type="submit" className="btn btn-small" data-testid="counter-submit">
        Add
      </button>
      {error && (
        <span className="counter-error" data-testid="counter-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

export function CounterTracks() {
  const client = useSimClient();
  const store = useLabStoreApi();
  const info = useLab(selectInfo);
  const data = useLab(selectTimeline);
  const zoom = useLab(selectTimelineZoom);
  const axis = useLab(selectTimeAxis);
  const step = useLab(selectStep);
  const [tracks, setTracks] = useState<Track[]>([]);
  const wrapRef = useRef<HTMLDivElement>(null);
  const width = useElementWidth(wrapRef, 800);
  const tracksRef = useRef(tracks);
  useEffect(() => {
    tracksRef.current = tracks;
  }, [tracks]);

  // A new run: fetch every track's series again (a name that no longer resolves keeps its row,
  // empty).
  useEffect(() => {
    if (!info) return;
    let live = true;
    void (async () => {
      const queries = tracksRef.current.map((t) => t.query);
      const answers = await Promise.all(queries.map((q) => client.counter(q).catch(() => null)));
      if (!live) return;
      setTracks(
        queries.map((q, i) => ({ query: q, series: answers[i]?.ok ? answers[i].series : null, run: info })),
      );
    })();
    return () => {
      live = false;
    };
  }, [client, info]);
  const add = async (query: string): Promise<string | null> => {
    const answer = await client.counter(query).catch((e: unknown) => ({
      ok: false as const,
      error: { message: e instanceof Error ? e.message : String(e), column: 1, length: 1 },
    }));
    if (!answer.ok) return answer.error.message;
    const s = answer.series;
    setTracks((ts) => [
      ...ts.filter((t) => t.series?.label !== s.label),
      { query: s.query, series: s, run: info },
    ]);
    return null;
  };

  const total = info?.totalSteps ?? 0;
  const layout = useMemo(() => layoutFor(width, 1), [width]);
  const scale = useMemo(
    () => axisScale(axis, total, info?.endTime ?? 0, layout, zoom),
    [axis, total, info, layout, zoom],
  );
  const x0 = layout.left;
  const x1 = width - layout.right;
  const playX = xOfStep(axis, scale, data, step);

  return (
    <section
      className="counter-tracks"
      aria-label="Counter tracks"
      data-testid="counter-tracks"
      ref={wrapRef}
    >
      {tracks.map((t, i) => {
        const s = t.run === info ? t.series : null;
        const geo = s ? trackGeometry(s, axis, scale, data, total, TRACK_HEIGHT, 3, 13) : null;
        const now = s ? formatValue(s, valueAt(s, step)) : '…';
        const label = s?.label ?? t.query;
        return (
          <div
            className={`counter-track shape-${s?.shape ?? 'none'}`}
            key={t.query}
            data-testid="counter-track"
            data-label={label}
            data-shape={s?.shape}
            data-changes={s ? s.steps.length - 1 : undefined}
            style={{ height: TRACK_HEIGHT }}
          >
            <div className="counter-label" style={{ width: x0 }} title={`${label}: ${now} at step ${step}`}>
              <span className="counter-value mono" data-testid="counter-value">
                {now}
              </span>
              <button
                type="button"
                className="counter-remove"
                aria-label={`Remove the track ${label}`}
                title="Remove this track"
                data-testid="counter-remove"
                onClick={() => setTracks((ts) => ts.filter((_, j) => j !== i))}
              >
                ×
              </button>
            </div>
            <svg
              className="counter-svg"
              width={Math.max(0, width - x0)}
              height={TRACK_HEIGHT}
              viewBox={`${x0} 0 ${Math.max(1, width - x0)} ${TRACK_HEIGHT}`}
              onClick={(e) => {
                const rect = e.currentTarget.getBoundingClientRect();
                store
                  .getState()
                  .seek(stepAtX(axis, scale, data, x0 + e.clientX - rect.left, total), { jump: true });
              }}
              role="img"
              aria-label={`${label} over the run`}
            >
              <defs>
                <clipPath id={`counter-clip-${i}`}>
                  <rect x={x0} y={0} width={Math.max(0, x1 - x0)} height={TRACK_HEIGHT} />
                </clipPath>
              </defs>
              <g clipPath={`url(#counter-clip-${i})`}>
                {geo && <path className="counter-area" d={geo.area} />}
                {geo && <path className="counter-line" d={geo.line} data-testid="counter-line" />}
                <line className="counter-playhead" x1={playX} x2={playX} y1={0} y2={TRACK_HEIGHT} />
              </g>
              <text className="counter-name" x={x0 + 6} y={10} data-testid="counter-name">
                {label}
              </text>
            </svg>
          </div>
        );
      })}
      <div className="counter-toolbar" style={{ paddingLeft: 12 }}>
        <AddTrack onAdd={add} />
      </div>
    </section>
  );
}
