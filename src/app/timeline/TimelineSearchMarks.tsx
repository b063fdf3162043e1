// The search's results on the timeline: a tick under the axis at each result in view, drawn
// as one path (a search can match a hundred thousand steps), at most one tick per pixel.
import { useLab } from '../sim-client-context';
import { selectTimeAxis } from '../store/selectors';
import type { LabState } from '../store/types';
import { type AxisOverlayProps, xOfStep } from './timeline-scale';

const selectResults = (s: LabState) => s.searchResults;

export function TimelineSearchMarks({ scale, data, y, x0, x1 }: AxisOverlayProps) {
  const results = useLab(selectResults);
  const axis = useLab(selectTimeAxis);
  if (!results || results.steps.length === 0) return null;
  let d = '';
  let shown = 0;
  let lastPx = -1;
  for (const step of results.steps) {
    const x = xOfStep(axis, scale, data, step);
    if (x < x0 - 1 || x > x1 + 1) continue;
    const px = Math.round(x);
    if (px === lastPx) continue;
    lastPx = px;
    shown++;
    d += `M${px} ${y - 14}v10`;
  }
  return (
    <g className="timeline-search-marks" data-testid="timeline-search-marks" data-count={shown}>
      <title>{`${results.total} results: ${results.description}`}</title>
      <path d={d} />
    </g>
  );
}
