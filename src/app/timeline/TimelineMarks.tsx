// The marks layer of the timeline, memoised: moving the playhead re-renders the playhead
// only, not the thousands of marks, which change only with the data, zoom, axis or width.
import { memo } from 'react';
import { KIND_COLORS } from '../theme';
import { MarkGlyph, markTitle } from './MarkGlyph';
import { laneTop, type TimelineLayout } from './timeline-scale';
import type { VisibleMarks } from './visible-marks';

function tickPath(xs: number[], y0: number, y1: number): string {
  let d = '';
  for (const x of xs) d += `M${x} ${y0}V${y1}`;
  return d;
}

export const TimelineMarks = memo(function TimelineMarks({
  drawn,
  layout,
  clipPath,
}: {
  drawn: VisibleMarks | null;
  layout: TimelineLayout;
  clipPath: string;
}) {
  if (!drawn) return null;
  const half = layout.laneHeight / 2;
  const centre = (lane: number) => laneTop(layout, lane) + half;
  return (
    <g clipPath={clipPath}>
      {drawn.idle.map((xs, lane) => (
        <path
          key={`idle-${lane}`}
          d={tickPath(xs, centre(lane) - 6, centre(lane) + 6)}
          stroke={KIND_COLORS.idle}
          strokeWidth={1}
          data-mark="idle"
          data-count={xs.length}
        />
      ))}
      {drawn.ticks.map((xs, lane) => (
        <path
          key={`ticks-${lane}`}
          d={tickPath(xs, centre(lane) - 3, centre(lane) + 3)}
          stroke={KIND_COLORS.instruction}
          strokeWidth={1}
          data-mark="instruction"
          data-lane={lane}
          data-count={xs.length}
        />
      ))}
      {drawn.marks.map((m) => (
        <g
          key={`${m.lane}:${m.kind}:${m.category}:${Math.round(m.x)}`}
          data-mark={m.kind}
          data-category={m.category}
          data-step={m.step}
          data-lane={m.lane}
        >
          <title>{markTitle(m.kind, m.category, m.step, m.vector)}</title>
          <MarkGlyph kind={m.kind} category={m.category} x={m.x} cy={centre(m.lane)} half={half} />
        </g>
      ))}
    </g>
  );
});
