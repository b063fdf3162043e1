// The key to the timeline: each glyph with what it means, drawn by the same code as the lanes.
import type { MarkCategory } from '../theme';
import { KIND_LABELS } from '../theme';
import { MarkGlyph } from './MarkGlyph';
import type { MarkKind } from './visible-marks';

const ENTRIES: { kind: MarkKind | 'instruction'; category: MarkCategory; label: string }[] = [
  { kind: 'instruction', category: 'instruction', label: 'instruction' },
  { kind: 'delivery', category: 'extint', label: KIND_LABELS.extint },
  { kind: 'delivery', category: 'nmi', label: KIND_LABELS.nmi },
  { kind: 'delivery', category: 'exception', label: KIND_LABELS.exception },
  { kind: 'delivery', category: 'software', label: 'software int' },
  { kind: 'raise', category: 'extint', label: 'raised' },
  { kind: 'iret', category: 'iret', label: 'IRET' },
  { kind: 'assert', category: 'assert-pass', label: 'assert pass' },
  { kind: 'assert', category: 'assert-fail', label: 'assert fail' },
  { kind: 'shutdown', category: 'shutdown', label: 'shutdown' },
];

/** Glyphs sit at different heights in a lane; in the legend each is centred. */
const LEGEND_CY: Partial<Record<MarkKind | 'instruction', number>> = { raise: 6, iret: -8 };

export function TimelineLegend() {
  return (
    <ul className="timeline-legend" data-testid="timeline-legend" aria-label="Timeline legend">
      {ENTRIES.map((e) => (
        <li key={`${e.kind}:${e.category}`} data-legend={`${e.kind}:${e.category}`}>
          <svg width="14" height="20" viewBox="-7 -10 14 20" aria-hidden="true">
            <MarkGlyph kind={e.kind} category={e.category} x={0} cy={LEGEND_CY[e.kind] ?? 0} half={10} />
          </svg>
          {e.label}
        </li>
      ))}
    </ul>
  );
}
