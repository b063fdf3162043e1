// The timeline: a lane per level, x = step (or cycles), marks for every kind of event (VM
// exits and entries as arrows between lanes), and a playhead. d3-zoom and d3-drag own the
// gestures; React draws every element from the store.
import { useElementWidth } from '../use-element-width';
import { useCallback, useEffect, useId, useMemo, useRef, useState, type MouseEvent } from 'react';
import { useLab, useLabStoreApi, useSimClient } from '../sim-client-context';
import type { SimClient } from '../../worker/protocol';
import {
  selectAllAssertions,
  selectEventDetails,
  selectFoldTrapped,
  selectInfo,
  selectPlaying,
  selectShownStep,
  selectStep,
  selectTimeAxis,
  selectTimeline,
  selectTimelineZoom,
  selectTransitions,
} from '../store/selectors';
import { kvmLanesOf, nestingOf } from './nesting';
import { nestingMarks } from './nesting-marks';
import { TimelineBookmarks } from './TimelineBookmarks';
import { TimelineMarks } from './TimelineMarks';
import { type TimelineMarker, TimelineMarkers } from './TimelineMarkers';
import { TimelineSearchMarks } from './TimelineSearchMarks';
import {
  axisScale,
  laneTop,
  laneSubLabel,
  layoutFor,
  layoutHeight,
  maxZoom,
  stepAtX,
  xOfStep,
} from './timeline-scale';
import { TimelineToolbar } from './TimelineToolbar';
import { usePlayheadDrag } from './use-playhead-drag';
import { useTimelineZoom } from './use-timeline-zoom';
import { stepsInView, visibleMarks } from './visible-marks';
import { canvasHit, TimelineCanvas } from './TimelineCanvas';
import { AxisLabels } from './TimelineAxis';
import { useTimelineRange, type RangeWant } from './use-timeline-range';

const DEFAULT_WIDTH = 960;
/** At most this many transitions and decisions in view have their details fetched. */
const DETAILS_IN_VIEW = 400;

/** A window tall enough (1080p and up) for taller lanes. */
function useTallWindow(): boolean {
  const query = '(min-height: 1000px)';
  const [tall, setTall] = useState(
    () => typeof window !== 'undefined' && !!window.matchMedia?.(query).matches,
  );
  useEffect(() => {
    const mq = typeof window !== 'undefined' ? window.matchMedia?.(query) : undefined;
    if (!mq) return;
    const onChange = () => setTall(mq.matches);
    mq.addEventListener('change', onChange);
    return () => mq.removeEventListener('change', onChange);
  }, []);
  return tall;
}

export interface TimelineProps {
  /** Extra marks at steps (the compare view's first divergence). */
  markers?: TimelineMarker[];
  /** Where the visible range's aggregates come from (default: the lab's worker client). */
  rangeSource?: Pick<SimClient, 'timelineRange'>;
}

export function Timeline({ markers, rangeSource }: TimelineProps = {}) {
  const store = useLabStoreApi();
  const client = useSimClient();
  const info = useLab(selectInfo);
  const data = useLab(selectTimeline);
  const wantedStep = useLab(selectStep);
  const shownStep = useLab(selectShownStep);
  const zoomState = useLab(selectTimelineZoom);
  const axis = useLab(selectTimeAxis);
  const playing = useLab(selectPlaying);
  const assertions = useLab(selectAllAssertions);
  const details = useLab(selectEventDetails);
  const transitions = useLab(selectTransitions);
  const fold = useLab(selectFoldTrapped);
  const tall = useTallWindow();
  const [dragging, setDragging] = useState(false);
  const wrapRef = useRef<HTMLDivElement>(null);
  const svgRef = useRef<SVGSVGElement>(null);
  const playheadRef = useRef<SVGGElement>(null);
  const clipId = useId();

  const width = useElementWidth(wrapRef, DEFAULT_WIDTH);
  const lanes = info?.levels.length ?? 1;
  const layout = useMemo(
    () => layoutFor(width, lanes, tall ? 54 : 40, axis === 'cycles' ? 34 : 22),
    [width, lanes, tall, axis],
  );
  const height = layoutHeight(layout);
  const x0 = layout.left;
  const x1 = width - layout.right;
  const total = info?.totalSteps ?? 0;
  const endTime = info?.endTime ?? 0;
  const domainMax = axis === 'step' ? total : endTime;

  const scale = useMemo(
    () => axisScale(axis, total, endTime, layout, zoomState),
    [axis, total, endTime, layout, zoomState],
  );
  const passedByStep = useMemo(
    () => new Map(assertions.map((a) => [a.step, a.passed || a.skipped])),
    [assertions],
  );
  const nesting = useMemo(
    () => (data && transitions && info ? nestingOf(data, transitions, kvmLanesOf(info)) : null),
    [data, transitions, info],
  );
  const hidden = fold && nesting && nesting.folds.length > 0 ? nesting.folded : undefined;
  // What the canvas draws: the worker's aggregates of the range on screen, from the whole trace.
  const want = useMemo<RangeWant | null>(() => {
    if (!info || !data) return null;
    const [d0, d1] = scale.domain();
    return { axis, d0, d1, pixels: Math.max(1, x1 - x0), lanes };
  }, [info, data, scale, axis, x0, x1, lanes]);
  const range = useTimelineRange(rangeSource ?? client, data, want);
  const eventsInView = useMemo(() => {
    const [d0, d1] = scale.domain();
    return axis === 'step' ? stepsInView(d0, d1, total) : (range?.eventsInView ?? 0);
  }, [scale, axis, total, range]);
  const drawn = useMemo(
    () => (data ? visibleMarks(data, scale, axis, lanes, (s) => passedByStep.get(s) ?? true, hidden) : null),
    [data, scale, axis, lanes, passedByStep, hidden],
  );
  // Links need room to read; where transitions are drawn as dense strokes only folds remain.
  const nest = useMemo(() => {
    if (!data || !nesting || !drawn) return null;
    const column = axis === 'step' ? data.steps : data.times;
    const range = scale.range() as [number, number];
    // Dense: no links, so their positions are not even computed (every frame of a zoom).
    const shown = drawn.dense ? { ...nesting, reflections: [] } : nesting;
    return nestingMarks(shown, data, (i) => scale(column[i]), range, fold);
  }, [data, nesting, drawn, axis, scale, fold]);

  // The exits, entries and decisions in view get their details (reason, injected event,
  // kernel function) when there are few enough of them to read.
  useEffect(() => {
    if (!drawn) return;
    const wanted = drawn.marks.filter(
      (m) => m.kind === 'exit' || m.kind === 'entry' || m.kind === 'decision',
    );
    if (wanted.length === 0 || wanted.length > DETAILS_IN_VIEW) return;
    store.getState().fetchEventDetails(wanted.map((m) => m.step));
  }, [drawn, store]);

  // Where the axis lies: what turns the zoom into the range a link keeps.
  useEffect(() => store.getState().setTimelineGeometry({ x0, x1 }), [store, x0, x1]);

  const setZoom = useCallback((z: { k: number; x: number }) => store.getState().setTimelineZoom(z), [store]);
  useTimelineZoom(svgRef, { x0, x1, height, maxK: maxZoom(domainMax), zoom: zoomState, onZoom: setZoom });

  const seekX = useCallback(
    (x: number, jump = false) => store.getState().seek(stepAtX(axis, scale, data, x, total), { jump }),
    [store, axis, scale, data, total],
  );
  usePlayheadDrag(playheadRef, svgRef, seekX, setDragging, info !== null);
  // The playhead moves with the view (one frame with the panels), or with the pointer while
  // it is dragged.
  const step = dragging ? wantedStep : shownStep;

  const playheadX = xOfStep(axis, scale, data, step);

  // While playing, keep the playhead in view by panning to it when it leaves.
  useEffect(() => {
    if (!playing || (playheadX >= x0 && playheadX <= x1)) return;
    const { k } = zoomState;
    if (k === 1) return;
    const baseX = xOfStep(axis, axisScale(axis, total, endTime, layout, { k: 1, x: 0 }), data, step);
    const target = x0 + 0.1 * (x1 - x0) - k * baseX;
    const x = Math.min(x0 * (1 - k), Math.max(x1 * (1 - k), target));
    store.getState().setTimelineZoom({ k, x });
  }, [playing, playheadX, x0, x1, zoomState, axis, total, endTime, layout, data, step, store]);

  const axisTicks = useMemo(() => {
    // Cycles labels are longer (1,250,000 over 625 µs): fewer of them.
    const ticks = scale.ticks(Math.max(2, Math.floor((x1 - x0) / (axis === 'step' ? 90 : 120))));
    return axis === 'step' ? ticks.filter((t) => Number.isInteger(t)) : ticks;
  }, [scale, axis, x0, x1]);

  // A click goes to a place (a history entry); a drag only scrubs. On a mark or its label:
  // that mark's event, exactly. On the canvas: the mark drawn nearest (a few pixels' slop),
  // else the instruction drawn there. Elsewhere: the step under the pointer.
  const onClick = (event: MouseEvent<SVGSVGElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    if (x < x0 - 4 || !info) return;
    const own = (event.target as Element).closest?.('[data-step]');
    const markStep = own?.closest('[data-mark]') ? Number(own.getAttribute('data-step')) : NaN;
    if (Number.isFinite(markStep) && markStep > 0) {
      store.getState().seek(markStep, { jump: true });
      return;
    }
    const lane = Math.floor((y - layout.top) / layout.laneHeight);
    if (range && lane >= 0 && lane < lanes) {
      const hit = canvasHit(range, scale, lane, x, drawn?.dense ?? false);
      if (hit !== null) {
        store.getState().seek(hit, { jump: true });
        return;
      }
    }
    seekX(x, true);
  };

  const half = layout.laneHeight / 2;
  const axisY = laneTop(layout, lanes);
  return (
    <section className="timeline" aria-label="Timeline">
      <TimelineToolbar eventsInView={eventsInView} foldable={nesting?.folds.length ?? 0} />
      <div className="timeline-canvas" ref={wrapRef}>
        <TimelineCanvas
          range={range}
          scale={scale}
          layout={layout}
          height={height}
          marks={drawn?.dense ?? false}
        />
        <svg
          ref={svgRef}
          width={width}
          height={height}
          className={`timeline-svg${dragging ? ' scrubbing' : ''}`}
          data-testid="timeline-svg"
          role="img"
          aria-label="Timeline of the run; click to go to a step"
          onClick={onClick}
        >
          <defs>
            <clipPath id={clipId}>
              <rect x={x0} y={0} width={Math.max(0, x1 - x0)} height={height} />
            </clipPath>
          </defs>
          {Array.from({ length: lanes }, (_, lane) => {
            const top = laneTop(layout, lane);
            const level = info?.levels[lane];
            return (
              <g key={lane} data-testid="timeline-lane" data-level={lane}>
                <rect
                  className={`lane-bg${lane % 2 ? ' odd' : ''}`}
                  x={0}
                  y={top}
                  width={width}
                  height={layout.laneHeight}
                />
                <text className="lane-label" x={10} y={top + half + 4}>
                  {level ? `L${level.index}` : ''}
                  <tspan className="lane-sub" dx={6}>
                    {level ? laneSubLabel(level.name, layout.left - 40) : ''}
                  </tspan>
                  <title>{level?.name}</title>
                </text>
              </g>
            );
          })}
          {info && (
            // Behind the marks, so the playhead never hides the mark of the step it is on.
            <line
              className="playhead-line"
              x1={playheadX}
              x2={playheadX}
              y1={0}
              y2={axisY}
              visibility={playheadX >= x0 - 1 && playheadX <= x1 + 1 ? 'visible' : 'hidden'}
              data-testid="playhead-line"
            />
          )}
          <TimelineMarks
            drawn={drawn}
            layout={layout}
            clipPath={`url(#${clipId})`}
            details={details}
            data={data}
            nest={nest}
            right={x1}
            arch={info?.arch}
          />
          <g className="axis" transform={`translate(0, ${axisY})`}>
            <line x1={x0} x2={x1} y1={0} y2={0} className="axis-line" />
            <AxisLabels
              ticks={axisTicks}
              scale={scale}
              axis={axis}
              left={x0}
              width={width}
              tscHz={info?.tscHz}
            />
            <text x={x0 - 8} y={15} textAnchor="end" className="axis-unit">
              {axis === 'step' ? 'step' : 'cycles'}
            </text>
          </g>
          <TimelineSearchMarks scale={scale} data={data} y={axisY} x0={x0} x1={x1} />
          <TimelineBookmarks scale={scale} data={data} y={axisY} x0={x0} x1={x1} />
          {markers && markers.length > 0 && (
            <TimelineMarkers scale={scale} data={data} y={axisY} x0={x0} x1={x1} markers={markers} />
          )}
          {info && (
            <g
              ref={playheadRef}
              className="playhead"
              data-testid="playhead"
              data-step={step}
              transform={`translate(${playheadX}, 0)`}
              visibility={playheadX >= x0 - 1 && playheadX <= x1 + 1 ? 'visible' : 'hidden'}
            >
              <rect x={-8} y={0} width={16} height={axisY} className="playhead-hit" />
              <path d="M-6 0H6L0 8Z" className="playhead-head" />
            </g>
          )}
        </svg>
      </div>
    </section>
  );
}
