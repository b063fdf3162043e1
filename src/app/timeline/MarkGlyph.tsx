// The shape of each kind of mark, drawn at (x, lane centre). The timeline and its legend use
// the same glyphs, so what the legend shows is what the lanes show. VM exits and entries are
// arrows from the lane that acts to the lane the processor goes to.
import { hexVector } from '../format';
import { KIND_COLORS, KIND_LABELS, type MarkCategory } from '../theme';
import type { MarkKind } from './visible-marks';

/** An arrow from (x, y0) to (x, y1), its head at y1. */
function arrow(x: number, y0: number, y1: number): string {
  const dir = y1 > y0 ? 1 : -1;
  const tip = y1;
  const base = y1 - dir * 6;
  return `M${x} ${y0}V${base}M${x - 4} ${base}L${x} ${tip}L${x + 4} ${base}Z`;
}

export function MarkGlyph({
  kind,
  category,
  x,
  cy,
  half,
  ty,
  inject,
}: {
  kind: MarkKind | 'instruction' | 'injection';
  category: MarkCategory;
  x: number;
  /** Lane centre. */
  cy: number;
  /** Half the lane height. */
  half: number;
  /** For an exit or entry: the centre of the lane it goes to (absent: a short stub). */
  ty?: number;
  /** For an entry that injects an event: the colour family of the event. */
  inject?: MarkCategory;
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
          d={`M${x - 5} ${cy + 3}L${x} ${cy - 3}L${x + 5} ${cy + 3}`}
          fill="none"
          stroke={color}
          strokeWidth={2}
          strokeLinecap="round"
          strokeLinejoin="round"
        />
      );
    case 'assert':
      return category === 'assert-fail' ? (
        <path
          d={`M${x - 4} ${cy - 4}l8 8m0 -8l-8 8`}
          stroke={color}
          strokeWidth={2.2}
          strokeLinecap="round"
        />
      ) : (
        <rect x={x - 3.5} y={cy - 3.5} width={7} height={7} rx={1.5} fill={color} />
      );
    case 'shutdown':
      return (
        <>
          <line x1={x} x2={x} y1={cy - half} y2={cy + half} stroke={color} strokeWidth={2} />
          <path d={`M${x + 3} ${cy - half + 3}l6 6m0 -6l-6 6`} stroke={color} strokeWidth={1.8} />
        </>
      );
    case 'decision':
      return <circle cx={x} cy={cy} r={3.2} fill={color} />;
    case 'injection':
      return <InjectionMark x={x} cy={cy} category={category} />;
    case 'exit':
    case 'entry': {
      // Without a lane to go to (an entry failure stays in the host), a short stub.
      const to = ty ?? cy + (kind === 'exit' ? -half + 4 : half - 4);
      return (
        <>
          <path d={arrow(x, cy, to)} stroke={color} strokeWidth={1.6} fill={color} strokeLinejoin="round" />
          {inject && <InjectionMark x={x} cy={to} category={inject} />}
        </>
      );
    }
  }
}

/** An event injected by a VM entry: a diamond of the event's colour, ringed. */
function InjectionMark({ x, cy, category }: { x: number; cy: number; category: MarkCategory }) {
  return (
    <path
      d={`M${x} ${cy - 7}L${x + 6} ${cy}L${x} ${cy + 7}L${x - 6} ${cy}Z`}
      fill={KIND_COLORS[category]}
      stroke="#e6edf3"
      strokeWidth={1.4}
      data-injection={category}
    />
  );
}

export function markTitle(kind: MarkKind, category: MarkCategory, step: number, vector: number): string {
  const what = kind === 'raise' ? `${KIND_LABELS[category]} raised` : KIND_LABELS[category];
  const vec = (kind === 'delivery' || kind === 'raise') && vector >= 0 ? ` ${hexVector(vector)}` : '';
  return `step ${step}: ${what}${kind === 'delivery' ? ' delivered' : ''}${vec}`;
}
