// The dense layers of the timeline, on a <canvas> (devicePixelRatio aware) laid over the SVG
// lanes: instruction and idle ticks always, and the marks too when there are more of them in
// view than the SVG draws one by one — as density bars, one per lane and pixel column, in the
// colour of the most salient event there and as tall as the log of how many there are;
// zooming in splits them until each bar is one event. Everything is drawn from the worker's
// aggregates of the visible range (core/engine/timeline-range.ts), mapped through the scale
// on screen, so a zoom or pan redraws at once from what is held while the next range is on
// its way. Drawn in a layout effect: the canvas paints in the same frame as the SVG.
import { memo, useLayoutEffect, useRef } from 'react';
import type { ScaleLinear } from 'd3-scale';
import type { TimelineRange } from '../../core/engine/timeline-range';
import { KIND_COLORS, markCategory } from '../theme';
import { laneTop, type TimelineLayout } from './timeline-scale';

/** The x extent [xa, xb) of bucket `b` of `range` under `scale`. */
export function bucketX(
  range: TimelineRange,
  scale: ScaleLinear<number, number>,
  b: number,
): [number, number] {
  const w = (range.t1 - range.t0) / range.pixels;
  return [scale(range.t0 + b * w), scale(range.t0 + (b + 1) * w)];
}

/** The bucket of `range` under x, or -1. */
export function bucketAt(range: TimelineRange, scale: ScaleLinear<number, number>, x: number): number {
  const v = scale.invert(x);
  const b = Math.floor(((v - range.t0) / (range.t1 - range.t0)) * range.pixels);
  return b >= 0 && b < range.pixels ? b : -1;
}

/** What a click at (x, lane) selects on the canvas: the mark drawn nearest (within `slop` px),
 *  else the instruction drawn there; null when nothing is drawn there. */
export function canvasHit(
  range: TimelineRange,
  scale: ScaleLinear<number, number>,
  lane: number,
  x: number,
  marks: boolean,
  slop = 4,
): number | null {
  if (lane < 0 || lane >= range.lanes) return null;
  const base = lane * range.pixels;
  let best: { step: number; d: number } | null = null;
  const consider = (b: number, step: number) => {
    if (b < 0 || b >= range.pixels || step === 0) return;
    const [xa, xb] = bucketX(range, scale, b);
    const d = x < xa ? xa - x : x > xb ? x - xb : 0;
    if (d <= slop && (!best || d < best.d)) best = { step, d };
  };
  const at = bucketAt(range, scale, x);
  const perPx = range.pixels / Math.max(1, Math.abs(scale(range.t1) - scale(range.t0)));
  const reach = Math.ceil((slop + 1) * perPx) + 1;
  const from = Math.max(0, (at < 0 ? bucketAt(range, scale, x - slop) : at) - reach);
  const to = Math.min(range.pixels - 1, (at < 0 ? bucketAt(range, scale, x + slop) : at) + reach);
  if (marks) for (let b = from; b <= to; b++) consider(b, range.topStep[base + b]);
  if (best) return (best as { step: number }).step;
  for (let b = from; b <= to; b++) consider(b, range.firstStep[base + b]);
  return best ? (best as { step: number }).step : null;
}

export interface CanvasSummary {
  /** Per lane: pixel columns holding instruction ticks. */
  tickColumns: number[];
  /** Per lane: density bars drawn (0 when the SVG draws the marks). */
  bars: number[];
}

function draw(
  ctx: CanvasRenderingContext2D,
  range: TimelineRange,
  scale: ScaleLinear<number, number>,
  layout: TimelineLayout,
  x0: number,
  x1: number,
  marks: boolean,
): CanvasSummary {
  const half = layout.laneHeight / 2;
  const summary: CanvasSummary = { tickColumns: [], bars: [] };
  const w = (range.t1 - range.t0) / range.pixels;
  // Bucket b's left edge is a + b * k (the scale is linear).
  const a = scale(range.t0);
  const k = scale(range.t0 + w) - a;
  const bFrom = Math.max(0, Math.floor((x0 - a) / k) - 1);
  const bTo = Math.min(range.pixels - 1, Math.ceil((x1 - a) / k) + 1);
  // Whole pixels, from a bucket's first pixel to past its last: no gaps between buckets a
  // little over a pixel wide, no blurred edges.
  const span = (x: number) => Math.max(1, Math.ceil(x + k) - Math.floor(x));
  for (let lane = 0; lane < range.lanes && lane < layout.lanes; lane++) {
    const c = laneTop(layout, lane) + half;
    const base = lane * range.pixels;
    let columns = 0;
    let lastPx = -1;
    ctx.fillStyle = KIND_COLORS.idle;
    for (let b = bFrom; b <= bTo; b++) {
      if (range.idle[base + b] === 0) continue;
      const x = a + b * k;
      if (x + k < x0 || x > x1) continue;
      ctx.fillRect(Math.floor(x), c - 6, span(x), 12);
    }
    ctx.fillStyle = KIND_COLORS.instruction;
    for (let b = bFrom; b <= bTo; b++) {
      if (range.instr[base + b] === 0) continue;
      const x = a + b * k;
      if (x + k < x0 || x > x1) continue;
      const px = Math.floor(x);
      // A bucket several pixels wide holds one instruction or a few: a 1-px tick at its start.
      ctx.fillRect(px, c - 3, k < 3 ? span(x) : 1, 6);
      if (px !== lastPx) columns++;
      lastPx = px;
    }
    summary.tickColumns.push(columns);
    let bars = 0;
    if (marks) {
      for (let b = bFrom; b <= bTo; b++) {
        const n = range.marks[base + b];
        if (n === 0) continue;
        const x = a + b * k;
        if (x + k < x0 || x > x1) continue;
        const kind = range.topKind[base + b];
        const type = range.topType[base + b];
        ctx.fillStyle = KIND_COLORS[markCategory(kind, type, type !== 0)];
        const h = Math.min(half - 2, 4 + 3 * Math.log2(n));
        ctx.fillRect(Math.floor(x), Math.round(c - h), Math.min(3, span(x)), Math.round(2 * h));
        bars++;
      }
    }
    summary.bars.push(bars);
  }
  return summary;
}

export const TimelineCanvas = memo(function TimelineCanvas({
  range,
  scale,
  layout,
  height,
  marks,
}: {
  range: TimelineRange | null;
  scale: ScaleLinear<number, number>;
  layout: TimelineLayout;
  height: number;
  /** Draw the marks as density bars (the SVG draws none). */
  marks: boolean;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  const width = layout.width;
  const x0 = layout.left;
  const x1 = width - layout.right;
  useLayoutEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const dpr = (typeof window !== 'undefined' && window.devicePixelRatio) || 1;
    const bw = Math.round(width * dpr);
    const bh = Math.round(height * dpr);
    if (canvas.width !== bw) canvas.width = bw;
    if (canvas.height !== bh) canvas.height = bh;
    // jsdom has no 2D context; the summary attributes are still written below.
    let ctx: CanvasRenderingContext2D | null = null;
    try {
      // Opaque: cheaper to composite; it paints its own background.
      ctx = /jsdom/i.test(navigator.userAgent) ? null : canvas.getContext('2d', { alpha: false });
    } catch {
      ctx = null;
    }
    let summary: CanvasSummary = { tickColumns: [], bars: [] };
    if (ctx) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      // The timeline's and the lanes' backgrounds (the SVG over the canvas is transparent).
      laneBg ??= getComputedStyle(canvas).getPropertyValue('--bg').trim() || '#0d1117';
      surface ??= getComputedStyle(canvas).getPropertyValue('--surface').trim() || '#151b23';
      const bg = laneBg;
      ctx.fillStyle = surface;
      ctx.fillRect(0, 0, width, height);
      for (let lane = 0; lane < layout.lanes; lane++) {
        ctx.fillStyle = lane % 2 ? ODD_LANE : bg;
        ctx.fillRect(0, laneTop(layout, lane), width, layout.laneHeight);
      }
      if (range) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(x0, 0, Math.max(0, x1 - x0), height);
        ctx.clip();
        summary = draw(ctx, range, scale, layout, x0, x1, marks);
        ctx.restore();
      }
    } else if (range) {
      summary = draw(nullContext, range, scale, layout, x0, x1, marks);
    }
    canvas.dataset.ticks = summary.tickColumns.join(',');
    canvas.dataset.bars = summary.bars.join(',');
    canvas.dataset.events = range ? String(range.eventsInView) : '';
  }, [range, scale, layout, width, height, x0, x1, marks]);
  return (
    <canvas
      ref={ref}
      className="timeline-dense"
      data-testid="timeline-canvas"
      style={{ width, height }}
      aria-hidden="true"
    />
  );
});

const ODD_LANE = '#11161d';
/** The page's --bg, read once. */
let laneBg: string | undefined;
let surface: string | undefined;

/** A context that draws nothing: counts what would be drawn where there is no canvas (jsdom). */
const nullContext = {
  fillStyle: '',
  fillRect() {},
} as unknown as CanvasRenderingContext2D;
