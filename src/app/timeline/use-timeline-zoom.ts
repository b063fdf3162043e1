// d3-zoom attached to the timeline's svg: wheel zooms, drag pans. d3 owns the gesture only;
// it reports the transform to the store, and React draws from the store. When the store's
// transform changes for another reason (a new run, "fit", following the playhead), d3's own
// copy is brought in line so the next gesture starts from what is on screen.
import { select } from 'd3-selection';
import { zoom, zoomIdentity, zoomTransform, type D3ZoomEvent, type ZoomBehavior } from 'd3-zoom';
import { useEffect, useRef, type RefObject } from 'react';
import type { ZoomState } from '../store/types';

export function useTimelineZoom(
  svgRef: RefObject<SVGSVGElement | null>,
  opts: {
    x0: number;
    x1: number;
    height: number;
    maxK: number;
    zoom: ZoomState;
    onZoom: (zoom: ZoomState) => void;
  },
): void {
  const { x0, x1, height, maxK, zoom: state, onZoom } = opts;
  const behaviorRef = useRef<ZoomBehavior<SVGSVGElement, unknown> | null>(null);
  const onZoomRef = useRef(onZoom);

  useEffect(() => {
    onZoomRef.current = onZoom;
  }, [onZoom]);

  useEffect(() => {
    const svg = svgRef.current;
    if (!svg) return;
    const extent: [[number, number], [number, number]] = [
      [x0, 0],
      [Math.max(x0 + 1, x1), height],
    ];
    const behavior = zoom<SVGSVGElement, unknown>()
      .scaleExtent([1, Math.max(1, maxK)])
      .extent(extent)
      .translateExtent(extent)
      .on('zoom', (event: D3ZoomEvent<SVGSVGElement, unknown>) => {
        onZoomRef.current({ k: event.transform.k, x: event.transform.x });
      });
    const selection = select(svg);
    selection.call(behavior).on('dblclick.zoom', null);
    behaviorRef.current = behavior;
    return () => {
      selection.on('.zoom', null);
      behaviorRef.current = null;
    };
  }, [svgRef, x0, x1, height, maxK]);

  useEffect(() => {
    const svg = svgRef.current;
    const behavior = behaviorRef.current;
    if (!svg || !behavior) return;
    const held = zoomTransform(svg);
    if (held.k !== state.k || held.x !== state.x) {
      select(svg).call(behavior.transform, zoomIdentity.translate(state.x, 0).scale(state.k));
    }
  }, [svgRef, state, x0, x1, height, maxK]);
}
