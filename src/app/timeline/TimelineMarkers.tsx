// Marks a caller puts on the timeline (the compare view's first divergence): a dashed line
// across the lanes at the step, with its label in the tooltip; a click goes there (a jump).
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectTimeAxis } from '../store/selectors';
import { type AxisOverlayProps, xOfStep } from './timeline-scale';

export interface TimelineMarker {
  step: number;
  label: string;
  /** A class for the mark's colour (`divergence`). */
  kind: string;
}

export function TimelineMarkers({
  scale,
  data,
  y,
  x0,
  x1,
  markers,
}: AxisOverlayProps & { markers: TimelineMarker[] }) {
  const store = useLabStoreApi();
  const axis = useLab(selectTimeAxis);
  return (
    <g className="timeline-markers">
      {markers.map((m) => {
        const x = xOfStep(axis, scale, data, m.step);
        if (x < x0 - 1 || x > x1 + 1) return null;
        return (
          <g
            key={`${m.kind}:${m.step}`}
            className={`timeline-marker ${m.kind}`}
            data-testid={`timeline-marker-${m.kind}`}
            data-step={m.step}
            transform={`translate(${x}, 0)`}
            onClick={(e) => {
              e.stopPropagation();
              store.getState().seek(m.step, { jump: true });
            }}
          >
            <title>{`${m.label} (step ${m.step})`}</title>
            <line y1={0} y2={y} />
            <rect x={-5} y={0} width={10} height={y} className="timeline-marker-hit" />
            <path d={`M-5 ${y}h10l-5 -8z`} />
          </g>
        );
      })}
    </g>
  );
}
