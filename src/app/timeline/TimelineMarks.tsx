// The marks layer of the timeline, memoised: moving the playhead re-renders the playhead
// only, not the thousands of marks, which change only with the data, zoom, axis, width or
// the transition details. VM exits and entries are arrows between lanes; an exit is labelled
// with its reason where there is room, an entry that injects an event carries the event.
// Nesting adds its links (an exit of L2 to the entry into L1 that L0 emulated) and folds.
import { memo } from 'react';
import type { TimelineData } from '../../core/engine/view';
import type { EventDetail } from '../store/types';
import { KIND_COLORS } from '../theme';
import { MarkGlyph, markTitle } from './MarkGlyph';
import { FoldMarks, ReflectionLinks } from './NestingLayer';
import type { NestingMarks } from './nesting-marks';
import { laneTop, type TimelineLayout } from './timeline-scale';
import { exitReasonLabel, injectedCategory, transitionTitle } from './transition-text';
import type { Mark, VisibleMarks } from './visible-marks';

function tickPath(xs: number[], y0: number, y1: number): string {
  let d = '';
  for (const x of xs) d += `M${x} ${y0}V${y1}`;
  return d;
}

/** Room (px) an exit label needs: the reason's number alone, or number and name. */
const NUMBER_ROOM = 16;
const CHAR_PX = 6.2;

/** The label of each exit: as much of "7 INTERRUPT_WINDOW" as fits before the next arrow. */
function exitLabels(marks: Mark[], details: Record<number, EventDetail>): Map<Mark, string> {
  const arrows = marks.filter((m) => m.kind === 'exit' || m.kind === 'entry').sort((a, b) => a.x - b.x);
  const out = new Map<Mark, string>();
  arrows.forEach((m, i) => {
    const reason = details[m.step]?.data.reason;
    if (m.kind !== 'exit' || reason === undefined) return;
    const room = (arrows[i + 1]?.x ?? Infinity) - m.x - 6;
    const full = exitReasonLabel(reason);
    if (room >= full.length * CHAR_PX) out.set(m, full);
    else if (room >= NUMBER_ROOM) out.set(m, String(reason & 0xffff));
  });
  return out;
}

/** A transition where they are too dense for arrows: a thin stroke between the lanes. */
function DenseStroke({ x, y0, y1, color }: { x: number; y0: number; y1: number; color: string }) {
  return <path d={`M${x} ${y0}V${y1}`} stroke={color} strokeWidth={1} strokeOpacity={0.75} />;
}

export const TimelineMarks = memo(function TimelineMarks({
  drawn,
  layout,
  clipPath,
  details,
  data,
  nest,
}: {
  drawn: VisibleMarks | null;
  layout: TimelineLayout;
  clipPath: string;
  details: Record<number, EventDetail>;
  data: TimelineData | null;
  /** Reflection links and fold marks in view (null: none, or too dense to draw). */
  nest: NestingMarks | null;
}) {
  if (!drawn) return null;
  const half = layout.laneHeight / 2;
  const centre = (lane: number) => laneTop(layout, lane) + half;
  const inLanes = (lane: number) => lane >= 0 && lane < layout.lanes;
  const labels = drawn.dense ? new Map<Mark, string>() : exitLabels(drawn.marks, details);
  // Arrows first, so the marks in the lanes are drawn over them.
  const arrows = drawn.marks.filter((m) => m.kind === 'exit' || m.kind === 'entry');
  const others = drawn.marks.filter((m) => m.kind !== 'exit' && m.kind !== 'entry');
  const arrowXs = nest ? arrows.map((m) => m.x).sort((a, b) => a - b) : [];
  return (
    <g clipPath={clipPath}>
      {nest && data && nest.links.length > 0 && (
        <ReflectionLinks links={nest.links} data={data} centre={centre} half={half} arrowXs={arrowXs} />
      )}
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
      {arrows.map((m) => {
        const detail = details[m.step];
        const to = inLanes(m.target) ? centre(m.target) : undefined;
        const inject = m.kind === 'entry' ? injectedCategory(detail) : undefined;
        const label = labels.get(m);
        const y0 = centre(m.lane);
        return (
          <g
            key={`${m.lane}:${m.kind}:${Math.round(m.x)}`}
            className="transition-mark"
            data-mark={m.kind}
            data-category={m.category}
            data-step={m.step}
            data-lane={m.lane}
            data-target={inLanes(m.target) ? m.target : undefined}
            data-reason={m.kind === 'exit' ? detail?.data.reason : undefined}
            data-injected={inject}
          >
            <title>{transitionTitle(m, detail)}</title>
            <MarkGlyph
              kind={m.kind}
              category={m.category}
              x={m.x}
              cy={y0}
              half={half}
              ty={to}
              inject={inject}
            />
            {label && (
              <text
                className="exit-label"
                x={m.x + 5}
                // Beside the arrow, halfway to the next lane it crosses (not in the middle of a
                // long arrow, where it would read as the middle lane's).
                y={y0 + ((to ?? y0 - half) < y0 ? -half : half) + 4}
                data-testid="exit-label"
              >
                {label}
              </text>
            )}
          </g>
        );
      })}
      {/* Under the lane's own marks: a decision between folded traps stays visible. */}
      {nest && nest.folds.length > 0 && <FoldMarks folds={nest.folds} centre={centre} />}
      {others.map((m) => (
        <g
          key={`${m.lane}:${m.kind}:${m.category}:${Math.round(m.x)}`}
          data-mark={m.kind}
          data-category={m.category}
          data-step={m.step}
          data-lane={m.lane}
        >
          <title>
            {m.kind === 'decision'
              ? transitionTitle(m, details[m.step])
              : markTitle(m.kind, m.category, m.step, m.vector)}
          </title>
          {drawn.dense && m.kind === 'decision' ? (
            <DenseStroke
              x={m.x}
              y0={centre(m.lane) - 4}
              y1={centre(m.lane) + 4}
              color={KIND_COLORS.decision}
            />
          ) : (
            <MarkGlyph kind={m.kind} category={m.category} x={m.x} cy={centre(m.lane)} half={half} />
          )}
        </g>
      ))}
    </g>
  );
});
