// What the timeline draws: only the events inside the visible range, and at most one mark
// per lane, kind and pixel column. Instruction ticks are the bulk of a trace; decimated this
// way a run of hundreds of thousands of events draws at most a few thousand elements.
import type { ScaleLinear } from 'd3-scale';
import { EventKind, type TimelineData } from '../../core/engine/view';
import { markCategory, type MarkCategory } from '../theme';
import type { TimeAxis } from '../store/types';
import { firstAtOrAfter, lastAtOrBefore } from './timeline-scale';

export type MarkKind = 'delivery' | 'raise' | 'iret' | 'assert' | 'shutdown' | 'exit' | 'entry' | 'decision';

export interface Mark {
  kind: MarkKind;
  category: MarkCategory;
  lane: number;
  x: number;
  step: number;
  vector: number;
  /** For a VM exit or entry: the lane the arrow goes to (the host, or the guest entered). */
  target: number;
}

export interface VisibleMarks {
  /** Per lane: x of instruction ticks, one per pixel column at most. */
  ticks: number[][];
  /** Per lane: x of idle (halted) ticks. */
  idle: number[][];
  marks: Mark[];
  /** Events in the visible range before decimation (for the status line). */
  eventsInView: number;
  /**
   * VM exits, entries and decisions closer than DENSE_PX apart on average: drawn as thin
   * strokes (one per DENSE_PX column), not arrows; zooming in brings the arrows back.
   */
  dense: boolean;
}

/** Below this average spacing (px) the transitions in view are drawn compactly. */
export const DENSE_PX = 6;
const TRANSITION_KINDS: ReadonlySet<MarkKind> = new Set(['exit', 'entry', 'decision']);

const MARK_KINDS: Partial<Record<number, MarkKind>> = {
  [EventKind.DELIVER]: 'delivery',
  [EventKind.RAISE]: 'raise',
  [EventKind.IRET]: 'iret',
  [EventKind.ASSERT]: 'assert',
  [EventKind.SHUTDOWN]: 'shutdown',
  [EventKind.VMEXIT]: 'exit',
  [EventKind.VMENTRY]: 'entry',
  [EventKind.DECISION]: 'decision',
};

const targetsCache = new WeakMap<TimelineData, Int32Array>();

/**
 * Where each VM exit and entry goes: the lane of the next event at another level. An exit
 * leaves the guest (its event's level) for the level that handles it, which is below it (a
 * nested exit may skip a level); an entry enters a level above the one that acts. When the
 * next event says nothing useful, the neighbouring lane.
 */
export function transitionTargets(data: TimelineData): Int32Array {
  const cached = targetsCache.get(data);
  if (cached) return cached;
  const n = data.kinds.length;
  const out = new Int32Array(n).fill(-1);
  // Scan backwards, remembering the next event's index at any level other than "the last one".
  let nextIndex = -1;
  let nextOther = -1; // the next event whose level differs from data.levels[nextIndex]
  for (let i = n - 1; i >= 0; i--) {
    const level = data.levels[i];
    const kind = data.kinds[i];
    if (kind === EventKind.VMEXIT || kind === EventKind.VMENTRY) {
      const after = nextIndex < 0 ? -1 : data.levels[nextIndex] !== level ? nextIndex : nextOther;
      const to = after < 0 ? -1 : data.levels[after];
      if (kind === EventKind.VMEXIT) out[i] = to >= 0 && to < level ? to : level - 1;
      else out[i] = to > level ? to : level + 1;
    }
    if (nextIndex >= 0 && data.levels[nextIndex] !== level) nextOther = nextIndex;
    nextIndex = i;
  }
  targetsCache.set(data, out);
  return out;
}

/**
 * How many VM exits, entries and decisions lie between indices from..to (prefix sums), leaving
 * out the `hidden` ones (folded round trips).
 */
function transitionsIn(data: TimelineData, from: number, to: number, hidden?: Uint8Array): number {
  const key = hidden ?? data;
  let prefix = prefixCache.get(key);
  if (!prefix) {
    prefix = new Int32Array(data.kinds.length + 1);
    for (let i = 0; i < data.kinds.length; i++) {
      const k = data.kinds[i];
      const t = k === EventKind.VMEXIT || k === EventKind.VMENTRY || k === EventKind.DECISION ? 1 : 0;
      prefix[i + 1] = prefix[i] + (hidden?.[i] ? 0 : t);
    }
    prefixCache.set(key, prefix);
  }
  return to < from ? 0 : prefix[to + 1] - prefix[from];
}
const prefixCache = new WeakMap<object, Int32Array>();

export function visibleMarks(
  data: TimelineData,
  scale: ScaleLinear<number, number>,
  axis: TimeAxis,
  lanes: number,
  /** step → passed, for the colour of assert marks. */
  assertPassed: (step: number) => boolean,
  /** Per index: 1 for an event folded away (a trapped round trip), drawn by its fold mark. */
  hidden?: Uint8Array,
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
  const targets = transitionTargets(data);
  const dense = transitionsIn(data, from, to, hidden) * DENSE_PX > Math.abs(r1 - r0);

  for (let i = from; i <= to; i++) {
    const lane = data.levels[i];
    if (lane < 0 || lane >= lanes || hidden?.[i]) continue;
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
    const bucket = dense && TRANSITION_KINDS.has(markKind) ? Math.round(px / DENSE_PX) : px;
    const key = `${lane}:${markKind}:${category}:${bucket}`;
    if (taken.has(key)) continue;
    taken.add(key);
    marks.push({ kind: markKind, category, lane, x, step, vector: data.vectors[i], target: targets[i] });
  }
  return { ticks, idle, marks, eventsInView: Math.max(0, to - from + 1), dense };
}
