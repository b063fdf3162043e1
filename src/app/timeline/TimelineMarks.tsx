// The SVG marks layer of the timeline, for the few marks in view (the canvas draws the ticks,
// and the marks too where they are dense): memoised, so moving the playhead re-renders the
// playhead only. Each mark is keyed by its event's step, so panning moves elements rather
// than recreating them. VM exits and entries are arrows between lanes; an exit is labelled
// with its reason where there is room, an entry that injects an event carries the event.
// Nesting adds its links (an exit of L2 to the entry into L1 that L0 emulated) and folds.
import { memo } from 'react';
import type { TimelineData } from '../../core/engine/view';
import type { EventDetail } from '../store/types';
import { MarkGlyph, markTitle } from './MarkGlyph';
import { FoldMarks, ReflectionLinks } from './NestingLayer';
import type { NestingMarks } from './nesting-marks';
import { laneTop, type TimelineLayout } from './timeline-scale';
import { exitReasonLabel, exitReasonNumber, injectedCategory, transitionTitle } from './transition-text';
import type { Mark, VisibleMarks } from './visible-marks';

/** Room (px) an exit label needs: the reason's number alone, or number and name. */
const NUMBER_ROOM = 16;
const CHAR_PX = 6.2;

/** The label of each exit: as much of "7 INTERRUPT_WINDOW" as fits before the next arrow and
 *  the right end of the axis (none where not even the number fits: its title still tells). */
function exitLabels(
  marks: Mark[],
  details: Record<number, EventDetail>,
  right: number,
  arch: 'vmx' | 'svm',
): Map<Mark, string> {
  const arrows = marks.filter((m) => m.kind === 'exit' || m.kind === 'entry').sort((a, b) => a.x - b.x);
  const out = new Map<Mark, string>();
  arrows.forEach((m, i) => {
    const reason = details[m.step]?.data.reason;
    if (m.kind !== 'exit' || reason === undefined) return;
    const room = Math.min(arrows[i + 1]?.x ?? Infinity, right) - m.x - 6;
    const full = exitReasonLabel(reason, arch);
    if (room >= full.length * CHAR_PX) out.set(m, full);
    else if (room >= NUMBER_ROOM) out.set(m, exitReasonNumber(reason, arch));
  });
  return out;
}

export const TimelineMarks = memo(function TimelineMarks({
  drawn,
  layout,
  clipPath,
  details,
  data,
  nest,
  right,
  arch = 'vmx',
}: {
  drawn: VisibleMarks | null;
  /** The scenario's processor: exit codes are AMD's on 'svm'. */
  arch?: 'vmx' | 'svm';
  /** The right end of the axis: exit labels are shortened (or left out) to end before it. */
  right: number;
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
  const labels = drawn.dense ? new Map<Mark, string>() : exitLabels(drawn.marks, details, right, arch);
  // Arrows first, so the marks in the lanes are drawn over them.
  const arrows = drawn.marks.filter((m) => m.kind === 'exit' || m.kind === 'entry');
  const others = drawn.marks.filter((m) => m.kind !== 'exit' && m.kind !== 'entry');
  const arrowXs = nest ? arrows.map((m) => m.x).sort((a, b) => a - b) : [];
  return (
    <g clipPath={clipPath}>
      {nest && data && nest.links.length > 0 && (
        <ReflectionLinks links={nest.links} data={data} centre={centre} half={half} arrowXs={arrowXs} />
      )}
      {arrows.map((m) => {
        const detail = details[m.step];
        const to = inLanes(m.target) ? centre(m.target) : undefined;
        const inject = m.kind === 'entry' ? injectedCategory(detail) : undefined;
        const label = labels.get(m);
        const y0 = centre(m.lane);
        return (
          <g
            key={`${m.kind}:${m.step}`}
            className="transition-mark"
            data-mark={m.kind}
            data-category={m.category}
            data-step={m.step}
            data-lane={m.lane}
            data-target={inLanes(m.target) ? m.target : undefined}
            data-reason={m.kind === 'exit' ? detail?.data.reason : undefined}
            data-injected={inject}
          >
            <title>{transitionTitle(m, detail, arch)}</title>
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
          key={`${m.kind}:${m.step}`}
          data-mark={m.kind}
          data-category={m.category}
          data-step={m.step}
          data-lane={m.lane}
        >
          <title>
            {m.kind === 'decision'
              ? transitionTitle(m, details[m.step], arch)
              : markTitle(m.kind, m.category, m.step, m.vector)}
          </title>
          <MarkGlyph kind={m.kind} category={m.category} x={m.x} cy={centre(m.lane)} half={half} />
        </g>
      ))}
    </g>
  );
});
