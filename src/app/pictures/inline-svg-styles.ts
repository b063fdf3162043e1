// html-to-image copies each HTML element's computed style into the picture, but not those of
// the elements inside an inline <svg> (the timeline's lanes, labels and marks): there they keep
// only their classes, and the page's stylesheet is not in the picture, so rects fill black and
// text vanishes. For the time of a capture, the SVG elements carry their computed presentation
// in a style attribute; the returned function puts the old attributes back.

const PROPS = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'text-anchor',
  'dominant-baseline',
  'paint-order',
  'visibility',
  'display',
] as const;

export function inlineSvgStyles(root: Element): () => void {
  const saved: [Element, string | null][] = [];
  for (const el of root.querySelectorAll('svg *')) {
    const cs = getComputedStyle(el);
    saved.push([el, el.getAttribute('style')]);
    const style = PROPS.map((p) => `${p}:${cs.getPropertyValue(p)}`).join(';');
    el.setAttribute('style', `${el.getAttribute('style') ?? ''};${style}`);
  }
  return () => {
    for (const [el, old] of saved) {
      if (old === null) el.removeAttribute('style');
      else el.setAttribute('style', old);
    }
  };
}
