// Drawing a counter series on the timeline's x axis: a step line for a bit (0 low, 1 high, the
// high stretches filled), a value line for a number (straight between its changes, scaled to
// the series' min..max), as Perfetto draws counters. Pure functions of the series and the scale.
import type { ScaleLinear } from 'd3-scale';
import type { CounterSeries } from '../../core/engine/counter-series';
import type { TimelineData } from '../../core/engine/view';
import type { TimeAxis } from '../store/types';
import { lastAtOrBefore, xOfStep } from '../timeline/timeline-scale';

export interface TrackGeometry {
  /** The line. */
  line: string;
  /** The area under it (closed to the baseline). */
  area: string;
}

/** The value from `step` on (the last change at or before it). */
export function valueAt(series: CounterSeries, step: number): number | null {
  const i = lastAtOrBefore(series.steps, step);
  return i >= 0 ? series.values[i] : null;
}

/** "1", "0x2d", "1,200,000" as the search shows values; "—" where there is none. */
export function formatValue(series: CounterSeries, v: number | null): string {
  if (v === null) return '—';
  if (series.decimal) return v.toLocaleString('en-US');
  return v > 9 ? `0x${v.toString(16)}` : String(v);
}

const r = (n: number) => Math.round(n * 10) / 10;

/**
 * The path of a series in a track of `height` px, `pad` px kept free below and `top` px above
 * (room for the track's name). Stretches with no value are gaps.
 */
export function trackGeometry(
  series: CounterSeries,
  axis: TimeAxis,
  scale: ScaleLinear<number, number>,
  data: TimelineData | null,
  totalSteps: number,
  height: number,
  pad = 4,
  top = pad,
): TrackGeometry {
  const lo = series.shape === 'bit' ? 0 : series.min;
  const hi = series.shape === 'bit' ? 1 : series.max;
  const span = hi - lo || 1;
  const base = height - pad;
  const y = (v: number) => r(base - ((v - lo) / span) * (height - pad - top));
  const x = (step: number) => r(xOfStep(axis, scale, data, step));
  const end = x(totalSteps);
  let line = '';
  let area = '';
  let open = false;
  let startX = 0;
  const close = (atX: number) => {
    if (!open) return;
    line += ` H${atX}`;
    area += ` H${atX} V${base} H${startX} Z`;
    open = false;
  };
  for (let i = 0; i < series.steps.length; i++) {
    const v = series.values[i];
    const xi = x(series.steps[i]);
    if (v === null) {
      close(xi);
      continue;
    }
    const yi = y(v);
    if (!open) {
      line += `M${xi} ${yi}`;
      area += `M${xi} ${base} V${yi}`;
      startX = xi;
      open = true;
    } else if (series.shape === 'bit') {
      line += ` H${xi} V${yi}`;
      area += ` H${xi} V${yi}`;
    } else {
      line += ` L${xi} ${yi}`;
      area += ` L${xi} ${yi}`;
    }
  }
  close(end);
  return { line, area };
}
