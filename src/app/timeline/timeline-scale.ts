// The timeline's x axis: steps (default) or TSC cycles, zoomed and panned by the transform
// d3-zoom reports. Also the conversions between a step and its x, either way.
import { scaleLinear, type ScaleLinear } from 'd3-scale';
import { zoomIdentity } from 'd3-zoom';
import type { TimelineData } from '../../core/engine/view';
import type { TimeAxis, ZoomState } from '../store/types';

export interface TimelineLayout {
  width: number;
  /** Room for the lane labels. */
  left: number;
  right: number;
  laneHeight: number;
  top: number;
  axisHeight: number;
  lanes: number;
}

export function layoutFor(width: number, lanes: number, laneHeight = 40, axisHeight = 22): TimelineLayout {
  return { width, left: 112, right: 16, laneHeight, top: 4, axisHeight, lanes: Math.max(1, lanes) };
}

export function layoutHeight(l: TimelineLayout): number {
  return l.top + l.lanes * l.laneHeight + l.axisHeight;
}

export function laneTop(l: TimelineLayout, lane: number): number {
  return l.top + lane * l.laneHeight;
}

/** "L1 · KVM (a guest hypervisor)" → what fits in `room` px after "L1": "KVM (a guest…". */
export function laneSubLabel(name: string, room: number): string {
  const sub = name.replace(/^L\d+\s*·\s*/, '');
  const max = Math.max(2, Math.floor(room / 6.4));
  return sub.length <= max ? sub : `${sub.slice(0, max - 1).trimEnd()}…`;
}

/** The largest useful zoom: about eight steps (or eight events' worth of cycles) across. */
export function maxZoom(domainMax: number): number {
  return Math.max(1, domainMax / 8);
}

export function axisScale(
  axis: TimeAxis,
  totalSteps: number,
  endTime: number,
  layout: TimelineLayout,
  zoom: ZoomState,
): ScaleLinear<number, number> {
  const max = Math.max(1, axis === 'step' ? totalSteps : endTime);
  const base = scaleLinear()
    .domain([0, max])
    .range([layout.left, Math.max(layout.left + 1, layout.width - layout.right)]);
  return zoomIdentity.translate(zoom.x, 0).scale(zoom.k).rescaleX(base);
}

/** Index of the last element of a sorted column that is <= value, or -1. */
export function lastAtOrBefore(column: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = column.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (column[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Index of the first element of a sorted column that is >= value. */
export function firstAtOrAfter(column: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = column.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (column[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The x position of a step on the current axis. */
export function xOfStep(
  axis: TimeAxis,
  scale: ScaleLinear<number, number>,
  data: TimelineData | null,
  step: number,
): number {
  if (axis === 'step' || !data) return scale(step);
  const i = lastAtOrBefore(data.steps, step);
  return scale(i >= 0 ? data.times[i] : 0);
}

/** The step at an x position (a click, a drag), clamped to the run. */
export function stepAtX(
  axis: TimeAxis,
  scale: ScaleLinear<number, number>,
  data: TimelineData | null,
  x: number,
  totalSteps: number,
): number {
  const value = scale.invert(x);
  let step: number;
  if (axis === 'step' || !data) {
    step = Math.round(value);
  } else {
    const i = lastAtOrBefore(data.times, value);
    step = i >= 0 ? data.steps[i] : 0;
  }
  return Math.max(0, Math.min(totalSteps, step));
}

/** Axis labels: whole steps or cycles, with thousands separators (1,250,000). */
export function formatTick(_axis: TimeAxis, value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/**
 * A number of cycles as time at `tscHz`, in the unit of its size (0 s, 250 ns, 1.5 µs,
 * 3.4235 ms, 1.6 s), with as many decimals as it takes to tell apart labels `stepCycles` apart.
 */
export function formatCyclesAsTime(cycles: number, tscHz: number, stepCycles = 0): string {
  const s = cycles / tscHz;
  // Zero in the unit of its neighbours (0 µs), not 0.00000 s.
  const abs = Math.abs(s) || stepCycles / tscHz;
  const [scale, unit] =
    abs === 0
      ? [1, 's']
      : abs < 1e-6
        ? [1e9, 'ns']
        : abs < 1e-3
          ? [1e6, 'µs']
          : abs < 1
            ? [1e3, 'ms']
            : [1, 's'];
  const step = (stepCycles / tscHz) * scale;
  const decimals = step > 0 ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 2;
  return `${(s * scale).toFixed(decimals)} ${unit}`;
}

/** The props of a layer drawn along the timeline's axis (bookmark flags, search ticks). */
export interface AxisOverlayProps {
  scale: ScaleLinear<number, number>;
  data: TimelineData | null;
  /** The axis line's y. */
  y: number;
  x0: number;
  x1: number;
}
