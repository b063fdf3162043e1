// What can be saved as a picture (SVG or PNG): the whole lab, its main parts, and each panel
// on screen — a level's panel, each VMCS — found in the page when the menu opens, so that a
// panel that is not rendered (another tab) is not offered. An element may name itself with a
// `data-picture` attribute.

export interface PictureTarget {
  /** Stable within one opening of the menu. */
  id: string;
  name: string;
  el: HTMLElement;
}

const PARTS: [selector: string, name: string][] = [
  ['.lab', 'The whole lab'],
  ['section.timeline', 'Timeline'],
  ['[data-testid="explanation"]', 'Explanation'],
  ['.work-pane', 'Program'],
  ['[data-testid="assertions"]', 'Assertions'],
  ['aside.lab-side', 'Machine state'],
];

export function pictureTargets(doc: Document): PictureTarget[] {
  const out: PictureTarget[] = [];
  const seen = new Set<HTMLElement>();
  const add = (el: HTMLElement, name: string) => {
    if (seen.has(el)) return;
    seen.add(el);
    out.push({ id: `p${out.length}`, name, el });
  };
  for (const [sel, name] of PARTS) {
    const el = doc.querySelector<HTMLElement>(sel);
    if (el) add(el, name);
  }
  for (const el of doc.querySelectorAll<HTMLElement>('[data-testid^="level-"]')) {
    const m = /^level-(\d+)$/.exec(el.dataset.testid ?? '');
    if (m) add(el, `Level panel L${m[1]}`);
  }
  for (const el of doc.querySelectorAll<HTMLElement>('[id^="vmcs-panel-"]')) {
    const role = (el.dataset.testid ?? '').replace(/^vmcs-/, '') || el.id.slice('vmcs-panel-'.length);
    add(el, `VMCS panel ${role}`);
  }
  for (const el of doc.querySelectorAll<HTMLElement>('[data-picture]')) add(el, el.dataset.picture!);
  return out;
}

/** "soft-vnmi-vmcs-panel-vmcs01-step12.png" */
export function pictureFileName(scenario: string, target: string, step: number, ext: 'svg' | 'png'): string {
  const slug = target
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return `${scenario}-${slug}-step${step}.${ext}`;
}
