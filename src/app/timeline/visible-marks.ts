// What the timeline draws: only the events inside the visible range, and at most one mark
// per lane, kind and pixel column. Instruction ticks are the bulk of a trace; decimated this
// way a run of hundreds of thousands of events draws at most a few thousand elements.
import type { ScaleLinear } from 'd3-scale';
import { EventKind, type TimelineData } from '../../core/engine/view';
import { markCategory, type MarkCategory } from '../theme';
import type { TimeAxis } from '../store/types';
import { firstAtOrAfter, lastAtOrBefore } from './timeline-scale';

export type MarkKind = 'delivery' | 'raise' | 'iret' | 'assert' | 'shutdown';

export interface Mark {
  kind: MarkKind;
  category: MarkCategory;
  lane: number;
  x: number;
  step: number;
  vector: number;
}

export interface VisibleMarks {
  /** Per lane: x of instruction ticks, one per pixel column at most. */
  ticks: number[][];
  /** Per lane: x of idle (halted) ticks. */
  idle: number[][];
  marks: Mark[];
  /** Events in the visible range before decimation (for the status line). */
  eventsInView: number;
}

const MARK_KINDS: Partial<Record<number, MarkKind>> = {
  [EventKind.DELIVER]: 'delivery',
  [EventKind.RAISE]: 'raise',
  [EventKind.IRET]: 'iret',
  [EventKind.ASSERT]: 'assert',
  [EventKind.SHUTDOWN]: 'shutdown',
};

export function visibleMarks(
  data: TimelineData,
  scale: ScaleLinear<number, number>,
  axis: TimeAxis,
  lanes: number,
  /** step → passed, for the colour of assert marks. */
  assertPassed: (step: number) => boolean,
): VisibleMarks {
  const column = axis === 'step' ? data.steps : data.times;
  const [d0, d1] = scale.domain();
  const [r0, r1] = scale.range();
  const from = firstAtOrAfter(column, d0);
  const to = lastAtOrBefore(column, d1);
  const ticks: number[][] = Array.from({ length: lanes }, () => []);
  const idle: number[][] = Array.from({ length: lanes }, () => []);
  const lastTick = new Array<number>(lanes).fill(-Infinity);
  const lastIdle = new Array<number>(lanes).fill(-Infinity);
  const taken = new Set<string>();
  const marks: Mark[] = [];

  for (let i = from; i <= to; i++) {
    const lane = data.levels[i];
    if (lane < 0 || lane >= lanes) continue;
    const x = scale(column[i]);
    if (x < r0 - 1 || x > r1 + 1) continue;
    const px = Math.round(x);
    const kind = data.kinds[i];
    if (kind === EventKind.INSTR || kind === EventKind.WAKE) {
      // The column is sorted, so comparing with the last drawn pixel is enough.
      if (px !== lastTick[lane]) {
        ticks[lane].push(px);
        lastTick[lane] = px;
      }
      continue;
    }
    if (kind === EventKind.IDLE) {
      if (px !== lastIdle[lane]) {
        idle[lane].push(px);
        lastIdle[lane] = px;
      }
      continue;
    }
    const markKind = MARK_KINDS[kind];
    if (!markKind) continue;
    const step = data.steps[i];
    const category = markCategory(kind, data.types[i], kind === EventKind.ASSERT ? assertPassed(step) : true);
    const key = `${lane}:${markKind}:${category}:${px}`;
    if (taken.has(key)) continue;
    taken.add(key);
    marks.push({ kind: markKind, category, lane, x, step, vector: data.vectors[i] });
  }
  return { ticks, idle, marks, eventsInView: Math.max(0, to - from + 1) };
}
