// The timeline at the zoom level shown: what the visible range [t0, t1] of the axis holds,
// aggregated into one bucket per pixel column and lane, computed from the trace's own
// columns (never a thinned copy). A bucket says how many instructions, idle steps and
// other events ("marks": deliveries, IRETs, raises, asserts, VM exits and entries, decisions)
// fall in it, which mark is the most salient there (its kind and type give the colour, its
// step is what a click on the bucket selects), and the first step of each, so that a click
// lands on an event that is really drawn there. When each bucket holds at most one event the
// buckets are the events themselves; zooming out they become density bars, as Perfetto's
// tracks do.
import type { Trace } from './trace';
import { EventKind } from './view';

export type RangeAxis = 'step' | 'cycles';

export interface RangeRequest {
  axis: RangeAxis;
  /** The visible range, in the axis's units (steps, or TSC cycles). */
  t0: number;
  t1: number;
  /** Buckets across (the range's width in pixels). */
  pixels: number;
  /** Lanes (levels) to aggregate; events of other levels are left out. */
  lanes: number;
  /** The part of [t0, t1] on screen, whose events `eventsInView` counts (default: all). */
  view?: [number, number];
}

export interface TimelineRange extends RangeRequest {
  /** Every event whose step (or time) lies in [t0, t1]: the real count, never thinned. */
  events: number;
  /** Every event whose step (or time) lies in `view`. */
  eventsInView: number;
  /** Per lane × bucket (index lane * pixels + bucket): instructions retired (and wake-ups). */
  instr: Uint32Array;
  /** Per lane × bucket: idle (halted) steps. */
  idle: Uint32Array;
  /** Per lane × bucket: the other events (marks). */
  marks: Uint32Array;
  /** Per lane × bucket: EventKind of the most salient mark; 0 for none. */
  topKind: Uint8Array;
  /** Per lane × bucket: that mark's event type (deliveries, raises) or assert result; -1 else. */
  topType: Int8Array;
  /** Per lane × bucket: that mark's step; 0 for none. */
  topStep: Uint32Array;
  /** Per lane × bucket: the first instruction's (or idle step's) step; 0 for none. */
  firstStep: Uint32Array;
}

/** How much a kind of event stands out when several share a pixel (higher wins). */
const SALIENCE: Record<number, number> = {
  [EventKind.SHUTDOWN]: 9,
  [EventKind.ASSERT]: 3, // a failed assert: 10 (below)
  [EventKind.VMEXIT]: 8,
  [EventKind.VMENTRY]: 7,
  [EventKind.DELIVER]: 6,
  [EventKind.RAISE]: 5,
  [EventKind.IRET]: 4,
  [EventKind.DECISION]: 2,
};

function salience(kind: number, type: number): number {
  if (kind === EventKind.ASSERT && type === 0) return 10;
  return SALIENCE[kind] ?? 1;
}

/** The type a mark carries for its colour: the interruption type, or an assert's result. */
export function markType(t: Trace, i: number): number {
  const k = t.kind[i];
  if (k === EventKind.DELIVER || k === EventKind.RAISE || k === EventKind.SHUTDOWN)
    return (t.d0[i] >>> 8) & 7;
  if (k === EventKind.ASSERT) return t.d1[i];
  return -1;
}

/** Index of the first event at or after `time` (the time column is non-decreasing). */
function firstAtTime(t: Trace, time: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t.time[mid] < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The indices [from, to) of the events in [t0, t1] on the axis. */
export function rangeIndices(t: Trace, axis: RangeAxis, t0: number, t1: number): [number, number] {
  if (t1 < t0) return [0, 0];
  if (axis === 'step') {
    // Step N is index N - 1.
    const from = Math.max(0, Math.ceil(t0) - 1);
    const to = Math.min(t.length, Math.floor(t1));
    return [Math.min(from, to), to];
  }
  const from = firstAtTime(t, t0);
  let to = firstAtTime(t, t1);
  while (to < t.length && t.time[to] <= t1) to++;
  return [from, to];
}

export function timelineRange(t: Trace, req: RangeRequest): TimelineRange {
  const pixels = Math.max(1, Math.min(8192, Math.floor(req.pixels)));
  const lanes = Math.max(1, Math.min(64, Math.floor(req.lanes)));
  const n = pixels * lanes;
  const out: TimelineRange = {
    ...req,
    pixels,
    lanes,
    events: 0,
    eventsInView: 0,
    instr: new Uint32Array(n),
    idle: new Uint32Array(n),
    marks: new Uint32Array(n),
    topKind: new Uint8Array(n),
    topType: new Int8Array(n).fill(-1),
    topStep: new Uint32Array(n),
    firstStep: new Uint32Array(n),
  };
  const [from, to] = rangeIndices(t, req.axis, req.t0, req.t1);
  out.events = to - from;
  if (req.view) {
    const [v0, v1] = rangeIndices(t, req.axis, req.view[0], req.view[1]);
    out.eventsInView = v1 - v0;
  } else out.eventsInView = out.events;
  const span = req.t1 - req.t0;
  if (span <= 0 || to <= from) return out;
  const perUnit = pixels / span;
  const byStep = req.axis === 'step';
  for (let i = from; i < to; i++) {
    const lane = t.level[i];
    if (lane >= lanes) continue;
    const v = byStep ? i + 1 : t.time[i];
    const b = Math.min(pixels - 1, Math.max(0, Math.floor((v - req.t0) * perUnit)));
    const cell = lane * pixels + b;
    const k = t.kind[i];
    if (k === EventKind.INSTR || k === EventKind.WAKE || k === EventKind.IDLE) {
      if (k === EventKind.IDLE) out.idle[cell]++;
      else out.instr[cell]++;
      if (out.firstStep[cell] === 0) out.firstStep[cell] = i + 1;
      continue;
    }
    out.marks[cell]++;
    const type = markType(t, i);
    const top = out.topKind[cell];
    if (top === 0 || salience(k, type) > salience(top, out.topType[cell])) {
      out.topKind[cell] = k;
      out.topType[cell] = type;
      out.topStep[cell] = i + 1;
    }
  }
  return out;
}
