// The axis's tick labels: steps or cycles with thousands separators, and on the cycles axis
// the time they stand for at the scenario's TSC rate (features.tscHz; 2 GHz when the scenario
// does not say). A label that would run past the right edge of the timeline is drawn ending
// at its tick instead of centred on it, so none is ever cut.
import type { ScaleLinear } from 'd3-scale';
import type { TimeAxis } from '../store/types';
import { formatCyclesAsTime, formatTick } from './timeline-scale';

/** Width (px) of one character of an axis label. */
const AXIS_CHAR_PX = 6.2;
export const DEFAULT_TSC_HZ = 2_000_000_000;

/** Where a label of `chars` characters at tick x goes: centred, or starting (ending) at x
 *  where a centred label would reach into the axis's unit on the left (past the right edge). */
export function axisLabelAnchor(
  x: number,
  chars: number,
  left: number,
  width: number,
): 'middle' | 'end' | 'start' {
  const half = (chars * AXIS_CHAR_PX) / 2;
  if (x + half > width - 1) return 'end';
  if (x - half < left - 4) return 'start';
  return 'middle';
}

export function AxisLabels({
  ticks,
  scale,
  axis,
  left,
  width,
  tscHz,
}: {
  ticks: number[];
  /** Where the axis starts (its unit is written left of it). */
  left: number;
  scale: ScaleLinear<number, number>;
  axis: TimeAxis;
  width: number;
  tscHz?: number;
}) {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 0;
  return (
    <>
      {ticks.map((t) => {
        const x = scale(t);
        const text = formatTick(axis, t);
        const time = axis === 'cycles' ? formatCyclesAsTime(t, tscHz ?? DEFAULT_TSC_HZ, step) : null;
        const anchor = axisLabelAnchor(x, Math.max(text.length, time?.length ?? 0), left, width);
        return (
          <g key={t} transform={`translate(${x}, 0)`}>
            <line y1={0} y2={4} className="axis-tick" />
            <text y={15} textAnchor={anchor} className="axis-label" data-value={t}>
              {text}
            </text>
            {time && (
              <text y={28} textAnchor={anchor} className="axis-time" data-testid="axis-time">
                {time}
              </text>
            )}
          </g>
        );
      })}
    </>
  );
}
