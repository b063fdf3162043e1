// The shape of each kind of mark, drawn at (x, lane centre). The timeline and its legend use
// the same glyphs, so what the legend shows is what the lanes show.
import { hexVector } from '../format';
import { KIND_COLORS, KIND_LABELS, type MarkCategory } from '../theme';
import type { MarkKind } from './visible-marks';

export function MarkGlyph({
  kind,
  category,
  x,
  cy,
  half,
}: {
  kind: MarkKind | 'instruction';
  category: MarkCategory;
  x: number;
  /** Lane centre. */
  cy: number;
  /** Half the lane height. */
  half: number;
}) {
  const color = KIND_COLORS[category];
  switch (kind) {
    case 'instruction':
      return <path d={`M${x} ${cy - 3}V${cy + 3}`} stroke={color} strokeWidth={1} />;
    case 'delivery':
      return (
        <>
          <line x1={x} x2={x} y1={cy - half + 3} y2={cy + half - 3} stroke={color} strokeOpacity={0.35} />
          <path d={`M${x} ${cy - 6}L${x + 5} ${cy}L${x} ${cy + 6}L${x - 5} ${cy}Z`} fill={color} />
        </>
      );
    case 'raise':
      return (
        <>
          <line x1={x} x2={x} y1={cy - half + 1} y2={cy - 10} stroke={color} strokeWidth={1.5} />
          <path d={`M${x - 4} ${cy - 12}L${x + 4} ${cy - 12}L${x} ${cy - 6}Z`} fill={color} />
        </>
      );
    case 'iret':
      return (
        <path
          d={`M${x - 4} ${cy + 11}L${x} ${cy + 6}L${x + 4} ${cy + 11}`}
          fill="none"
          stroke={color}
          strokeWidth={1.8}
          strokeLinecap="round"
          strokeLinejoin="round"
        />
      );
    case 'assert':
      return category === 'assert-fail' ? (
        <path
          d={`M${x - 4} ${cy + half - 12}l8 8m0 -8l-8 8`}
          stroke={color}
          strokeWidth={2.2}
          strokeLinecap="round"
        />
      ) : (
        <rect x={x - 3.5} y={cy + half - 11} width={7} height={7} rx={1.5} fill={color} />
      );
    case 'shutdown':
      return (
        <>
          <line x1={x} x2={x} y1={cy - half} y2={cy + half} stroke={color} strokeWidth={2} />
          <path d={`M${x + 3} ${cy - half + 3}l6 6m0 -6l-6 6`} stroke={color} strokeWidth={1.8} />
        </>
      );
  }
}

export function markTitle(kind: MarkKind, category: MarkCategory, step: number, vector: number): string {
  const what = kind === 'raise' ? `${KIND_LABELS[category]} raised` : KIND_LABELS[category];
  const vec = (kind === 'delivery' || kind === 'raise') && vector >= 0 ? ` ${hexVector(vector)}` : '';
  return `step ${step}: ${what}${kind === 'delivery' ? ' delivered' : ''}${vec}`;
}
