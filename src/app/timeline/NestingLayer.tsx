// Nesting on the timeline: a dashed link from each exit of L2 to the VM entry into L1 that L0
// emulated for it (labelled with the reason L1 sees), and the fold marks that stand for the
// trapped round trips left out. Drawn from nesting-marks.ts; the hardware arrows stay.
import { KIND_COLORS } from '../theme';
import type { TimelineData } from '../../core/engine/view';
import { foldSummary, foldTitle, linkLabels, linkTitle, type FoldMark, type LinkMark } from './nesting-marks';

const CHAR_PX = 6.2;

/** From (x0, y0) to (x1, y1), leaving and arriving level: an S when they are apart. */
function linkPath(x0: number, y0: number, x1: number, y1: number): string {
  const dx = Math.max(8, (x1 - x0) / 2);
  return `M${x0} ${y0}C${x0 + dx} ${y0} ${x1 - dx} ${y1} ${x1} ${y1}`;
}

/** The first x in a sorted list greater than x + 0.5, or Infinity. */
function nextAfter(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] <= x + 0.5) lo = mid + 1;
    else hi = mid;
  }
  return xs[lo] ?? Infinity;
}

export function ReflectionLinks({
  links,
  data,
  centre,
  half,
  arrowXs,
}: {
  links: LinkMark[];
  data: TimelineData;
  centre: (lane: number) => number;
  half: number;
  /** x of every exit and entry arrow drawn, sorted: a label stops before the next one. */
  arrowXs: number[];
}) {
  const color = KIND_COLORS.vmexit;
  return (
    <g className="reflection-links">
      {links.map((link) => {
        const r = link.reflection;
        const y0 = centre(r.fromLane) - (link.emulatedOnly ? 0 : 2);
        const y1 = centre(r.toLane);
        // The link ends just before the entry's arrow, so its head stays readable.
        const end = link.x1 - 3;
        const room = nextAfter(arrowXs, link.x1) - link.x1 - 8;
        const [full, short] = linkLabels(r);
        const label = room >= full.length * CHAR_PX ? full : room >= short.length * CHAR_PX ? short : null;
        return (
          <g
            key={`link:${r.decisionStep}`}
            className="reflection-link"
            data-mark="reflection"
            data-step={r.decisionStep}
            data-from-lane={r.fromLane}
            data-to-lane={r.toLane}
            data-reason={r.reason}
            data-exit-step={r.exitIndex >= 0 ? data.steps[r.exitIndex] : undefined}
            data-entry-step={r.entryIndex >= 0 ? data.steps[r.entryIndex] : undefined}
            data-emulated-only={link.emulatedOnly ? 'true' : undefined}
          >
            <title>{linkTitle(link, data)}</title>
            <path d={linkPath(link.x0, y0, end, y1)} className="reflection-hit" />
            <path
              d={linkPath(link.x0, y0, end, y1)}
              fill="none"
              stroke={color}
              strokeWidth={1.5}
              strokeDasharray="4 3"
              strokeLinecap="round"
            />
            <path
              d={`M${end - 5} ${y1 - 3.5}L${end} ${y1}L${end - 5} ${y1 + 3.5}`}
              fill="none"
              stroke={color}
              strokeWidth={1.5}
            />
            {link.emulatedOnly && (
              <circle
                cx={link.x0}
                cy={y0}
                r={4}
                fill="none"
                stroke={color}
                strokeWidth={1.4}
                strokeDasharray="2 2"
              />
            )}
            {label && (
              <text className="link-label" x={link.x1 + 5} y={y1 + half - 6} data-testid="link-label">
                {label}
              </text>
            )}
          </g>
        );
      })}
    </g>
  );
}

export function FoldMarks({ folds, centre }: { folds: FoldMark[]; centre: (lane: number) => number }) {
  return (
    <g className="fold-marks">
      {folds.map((f) => {
        const cy = centre(f.lane);
        const x0 = f.x0 - 2;
        const width = Math.max(4, f.x1 - f.x0 + 4);
        const text = f.count > 1 ? `×${f.count}` : foldSummary(f);
        const showText = width >= text.length * 5.6 + 6;
        return (
          <g
            key={`fold:${f.lane}:${f.firstStep}`}
            className="fold-mark"
            data-mark="fold"
            data-lane={f.lane}
            data-count={f.count}
            data-first-step={f.firstStep}
            data-last-step={f.lastStep}
          >
            <title>{foldTitle(f)}</title>
            <rect x={x0} y={cy - 9} width={width} height={18} className="fold-hit" />
            <rect x={x0} y={cy - 2.5} width={width} height={5} rx={2.5} className="fold-bar" />
            <path d={`M${f.x0} ${cy - 6}V${cy + 6}`} className="fold-tick" />
            {showText && (
              <text className="fold-label" x={x0 + width / 2} y={cy - 6} textAnchor="middle">
                {text}
              </text>
            )}
          </g>
        );
      })}
    </g>
  );
}
