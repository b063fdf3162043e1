// The timeline's zoom as the range of the axis it shows, and back. The store keeps d3's
// transform ({k, x} in pixels); a link keeps the range (steps, or cycles), which does not
// depend on the window's width.
import { maxZoom } from '../timeline/timeline-scale';
import type { TimelineGeometry, ZoomState } from '../store/types';
import type { ZoomRange } from './link-format';

/** The axis of a timeline 960px wide, for when the timeline has not reported its own yet. */
export const DEFAULT_GEOMETRY: TimelineGeometry = { x0: 112, x1: 944 };

/** The range shown by `zoom`, or null for the whole run. */
export function zoomToRange(zoom: ZoomState, g: TimelineGeometry, max: number): ZoomRange | null {
  if ((zoom.k === 1 && zoom.x === 0) || max <= 0 || g.x1 <= g.x0) return null;
  // On screen, a value d sits at k * base(d) + x, where base maps [0, max] onto [x0, x1].
  const valueAt = (px: number) => (((px - zoom.x) / zoom.k - g.x0) / (g.x1 - g.x0)) * max;
  return { from: Math.max(0, valueAt(g.x0)), to: Math.min(max, valueAt(g.x1)) };
}

/** The transform that shows `range` (as nearly as the zoom's limits allow). */
export function rangeToZoom(range: ZoomRange | null, g: TimelineGeometry, max: number): ZoomState {
  if (!range || max <= 0 || g.x1 <= g.x0) return { k: 1, x: 0 };
  const from = Math.max(0, Math.min(range.from, max));
  const to = Math.max(from, Math.min(range.to, max));
  const k = Math.max(1, Math.min(maxZoom(max), max / Math.max(to - from, 1e-9)));
  if (k === 1) return { k: 1, x: 0 };
  const base = g.x0 + (from / max) * (g.x1 - g.x0);
  const x = g.x0 - k * base;
  // d3-zoom's translate extent: the run fills the view.
  return { k, x: Math.min(g.x0 * (1 - k), Math.max(g.x1 * (1 - k), x)) };
}
