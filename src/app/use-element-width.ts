// The width of an element in whole CSS pixels, measured before the first paint and followed
// with a ResizeObserver (none in the component tests' DOM: the initial width stays). A width
// of 0 (the element not laid out) is ignored.
import { useEffect, useLayoutEffect, useState, type RefObject } from 'react';

export function useElementWidth(ref: RefObject<HTMLElement | null>, initial: number): number {
  const [width, setWidth] = useState(initial);
  useLayoutEffect(() => {
    const w = ref.current?.getBoundingClientRect().width ?? 0;
    if (w > 0) setWidth(Math.floor(w));
  }, [ref]);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (w > 0) setWidth(w);
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}
