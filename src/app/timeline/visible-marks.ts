// The marks the timeline draws as SVG: only when few enough of them are in view to read and
// click one by one (at most SVG_MARKS, none closer than DENSE_PX on average). Beyond that the
// canvas (TimelineCanvas) draws them, with instruction and idle ticks always, from the
// worker's per-pixel aggregates of the visible range. Only the events that are marks are
// visited (a sorted index of them per axis), never the instructions in between, so the cost
// follows the marks in view, not the events.
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
  /** The marks to draw as SVG (empty when `dense`). */
  marks: Mark[];
  /** Marks (events other than instructions and idle steps) in the visible range. */
  marksInView: number;
  /**
   * Too many marks to draw one by one (more than SVG_MARKS, or VM exits, entries and
   * decisions closer than DENSE_PX apart on average): the canvas draws them as density bars;
   * zooming in brings the SVG marks, arrows and labels back.
   */
  dense: boolean;
}

/** Below this average spacing (px) the transitions in view are drawn by the canvas. */
export const DENSE_PX = 6;
/** At most this many marks in view are drawn as SVG elements. */
export const SVG_MARKS = 400;

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

/** The indices of the events that are marks (not instructions, wake-ups or idle steps). */
const markIndexCache = new WeakMap<TimelineData, Int32Array>();
function markIndices(data: TimelineData): Int32Array {
  let out = markIndexCache.get(data);
  if (out) return out;
  const idx: number[] = [];
  for (let i = 0; i < data.kinds.length; i++) {
    const k = data.kinds[i];
    if (k !== EventKind.INSTR && k !== EventKind.WAKE && k !== EventKind.IDLE) idx.push(i);
  }
  out = Int32Array.from(idx);
  markIndexCache.set(data, out);
  return out;
}

/** Index into `idx` of the first mark whose column value is >= value (or > when `after`). */
function searchMarks(idx: Int32Array, column: number[], value: number, after: boolean): number {
  let lo = 0;
  let hi = idx.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = column[idx[mid]];
    if (after ? v <= value : v < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

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
  const idx = markIndices(data);
  const lo = searchMarks(idx, column, d0, false);
  const hi = searchMarks(idx, column, d1, true);
  const marksInView = Math.max(0, hi - lo);
  const from = firstAtOrAfter(column, d0);
  const to = lastAtOrBefore(column, d1);
  // Marks folded away (a trapped round trip, drawn by its fold mark) do not count: a nested
  // run at full zoom keeps its marks and reflection links when what is drawn is few.
  let shown = 0;
  for (let j = lo; j < hi && shown <= SVG_MARKS; j++) if (!hidden?.[idx[j]]) shown++;
  const dense = shown > SVG_MARKS || transitionsIn(data, from, to, hidden) * DENSE_PX > Math.abs(r1 - r0);
  if (dense) return { marks: [], marksInView, dense };

  const taken = new Set<string>();
  const marks: Mark[] = [];
  const targets = transitionTargets(data);
  for (let j = lo; j < hi; j++) {
    const i = idx[j];
    const lane = data.levels[i];
    if (lane < 0 || lane >= lanes || hidden?.[i]) continue;
    const x = scale(column[i]);
    if (x < r0 - 1 || x > r1 + 1) continue;
    const kind = data.kinds[i];
    const markKind = MARK_KINDS[kind];
    if (!markKind) continue;
    const step = data.steps[i];
    const category = markCategory(kind, data.types[i], kind === EventKind.ASSERT ? assertPassed(step) : true);
    // One mark per lane, kind and pixel column: the first event there.
    const key = `${lane}:${markKind}:${category}:${Math.round(x)}`;
    if (taken.has(key)) continue;
    taken.add(key);
    marks.push({ kind: markKind, category, lane, x, step, vector: data.vectors[i], target: targets[i] });
  }
  return { marks, marksInView, dense };
}

/** Events in [d0, d1] on the step axis: every step is an event (steps 1..totalSteps). */
export function stepsInView(d0: number, d1: number, totalSteps: number): number {
  return Math.max(0, Math.min(totalSteps, Math.floor(d1)) - Math.max(1, Math.ceil(d0)) + 1);
}
