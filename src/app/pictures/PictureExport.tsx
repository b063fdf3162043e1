// "Save a picture" in the Trace menu: the whole lab, a part of it, or one panel, as SVG (the
// page's own elements and styles in a foreignObject, so text stays text) or PNG (the same,
// rasterised at the screen's pixel ratio), by html-to-image. The menu closes first, so that it
// is not in the picture.
import { useMemo, useState } from 'react';
import { toPng, toSvg } from 'html-to-image';
import { downloadUrl } from '../download';
import { themeVars } from '../theme';
import { useLab } from '../sim-client-context';
import { usePopoverClose } from '../top-bar/Popover';
import { inlineSvgStyles } from './inline-svg-styles';
import { pictureFileName, pictureTargets } from './picture-targets';

/** Two frames: the closed menu is painted before the picture is taken. */
const afterPaint = () =>
  new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));

/** The colour behind an element: its own, or the first ancestor's that is not transparent. */
function backgroundOf(el: HTMLElement): string {
  for (let e: HTMLElement | null = el; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    if (c && c !== 'transparent' && !/^rgba\(.*,\s*0\)$/.test(c)) return c;
  }
  return '#0d1117';
}

export function PictureExport() {
  const close = usePopoverClose();
  const info = useLab((s) => s.info);
  const step = useLab((s) => s.view?.step ?? 0);
  const targets = useMemo(() => pictureTargets(document), []);
  const [chosen, setChosen] = useState(targets.find((t) => t.name === 'Timeline')?.id ?? targets[0]?.id);
  const [error, setError] = useState<string | null>(null);

  const save = async (format: 'svg' | 'png') => {
    const target = targets.find((t) => t.id === chosen);
    if (!target || !info) return;
    setError(null);
    close();
    await afterPaint();
    // The theme's colours are CSS variables set on the lab; a part taken alone carries them.
    const options = {
      backgroundColor: backgroundOf(target.el),
      style: themeVars as unknown as Partial<CSSStyleDeclaration>,
    };
    const restore = inlineSvgStyles(target.el);
    try {
      const url =
        format === 'svg'
          ? await toSvg(target.el, options)
          : await toPng(target.el, { ...options, pixelRatio: window.devicePixelRatio || 1 });
      downloadUrl(pictureFileName(info.name, target.name, step, format), url);
    } catch (e) {
      // The menu is closed by now: say it where the user looks next, in the console and an alert.
      const message = `Saving the picture failed: ${(e as Error).message}`;
      setError(message);
      window.alert(message);
    } finally {
      restore();
    }
  };

  return (
    <div className="picture-export" role="group" aria-label="Save a picture">
      <label className="picture-target">
        <span>Picture of</span>
        <select data-testid="picture-target" value={chosen} onChange={(e) => setChosen(e.target.value)}>
          {targets.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        className="btn"
        data-testid="picture-svg"
        title="Save it as SVG (text stays text)"
        disabled={!info}
        onClick={() => void save('svg')}
      >
        SVG
      </button>
      <button
        type="button"
        className="btn"
        data-testid="picture-png"
        title="Save it as PNG"
        disabled={!info}
        onClick={() => void save('png')}
      >
        PNG
      </button>
      {error && <span className="picture-error">{error}</span>}
    </div>
  );
}
