// d3-drag on the playhead: dragging it scrubs. The drag reports an x; the timeline turns it
// into a step and seeks (the store coalesces the view requests).
import { drag, type D3DragEvent } from 'd3-drag';
import { select } from 'd3-selection';
import { useEffect, useRef, type RefObject } from 'react';

export function usePlayheadDrag(
  handleRef: RefObject<SVGGElement | null>,
  containerRef: RefObject<SVGSVGElement | null>,
  onScrub: (x: number) => void,
  onDragging: (dragging: boolean) => void,
  /** False while the playhead is not drawn (no run yet). */
  enabled: boolean,
): void {
  const scrubRef = useRef(onScrub);
  const draggingRef = useRef(onDragging);
  useEffect(() => {
    scrubRef.current = onScrub;
    draggingRef.current = onDragging;
  }, [onScrub, onDragging]);

  useEffect(() => {
    const handle = handleRef.current;
    const container = containerRef.current;
    if (!enabled || !handle || !container) return;
    const behavior = drag<SVGGElement, unknown>()
      .container(container)
      .on('start', () => draggingRef.current(true))
      .on('drag', (event: D3DragEvent<SVGGElement, unknown, unknown>) => scrubRef.current(event.x))
      .on('end', () => draggingRef.current(false));
    const selection = select(handle);
    selection.call(behavior);
    return () => {
      selection.on('.drag', null);
    };
  }, [handleRef, containerRef, enabled]);
}
