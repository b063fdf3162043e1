// What the timeline draws of nesting at the current zoom: a link per reflected exit (from the
// exit of L2 to L0's entry into L1, labelled with the reason L1 sees) and a fold mark per run
// of trapped round trips (folds closer than MERGE_PX are one mark, with their count); a link
// inside a fold is folded with it. Pure.
import type { TimelineData } from '../../core/engine/view';
import type { Fold, Nesting, Reflection } from './nesting';
import { VALID, eventText, exitReasonLabel } from './transition-text';

/** Folds whose marks would be closer than this (px) are drawn as one. */
export const MERGE_PX = 12;
/** A run of folds with only the guest's instructions between: one mark up to this gap (px). */
export const RUN_PX = 40;

export interface LinkMark {
  reflection: Reflection;
  /** x of the guest's hardware exit (or of L0's decision when there was none). */
  x0: number;
  /** x of L0's entry into L1 (or of the decision when the run ends first). */
  x1: number;
  /** The hardware exit is missing: L0 emulated the exit without the guest having run. */
  emulatedOnly: boolean;
  step: number;
}

export interface FoldMark {
  lane: number;
  /** The levels that handled the round trips, lowest first. */
  handlers: number[];
  x0: number;
  x1: number;
  /** Round trips folded into this mark. */
  count: number;
  firstStep: number;
  lastStep: number;
  /** Instruction → how many, in order of first appearance. */
  instructions: [string, number][];
  functions: string[];
}

export interface NestingMarks {
  links: LinkMark[];
  folds: FoldMark[];
}

/** x of a timeline index, on the current axis and zoom. */
export type XAt = (index: number) => number;

function inView(a: number, b: number, r0: number, r1: number): boolean {
  return Math.max(a, b) >= r0 - 1 && Math.min(a, b) <= r1 + 1;
}

function clusterFolds(folds: Fold[], data: TimelineData, xAt: XAt, r0: number, r1: number): FoldMark[] {
  const out: FoldMark[] = [];
  const open = new Map<
    number,
    { mark: FoldMark; counts: Map<string, number>; fns: Set<string>; handlers: Set<number> }
  >();
  const close = (lane: number) => {
    const c = open.get(lane);
    if (!c) return;
    c.mark.instructions = [...c.counts];
    c.mark.functions = [...c.fns];
    c.mark.handlers = [...c.handlers].sort((a, b) => a - b);
    out.push(c.mark);
    open.delete(lane);
  };
  for (const f of folds) {
    const x0 = xAt(f.exitIndex);
    const x1 = xAt(f.entryIndex);
    if (!inView(x0, x1, r0, r1)) continue;
    const cur = open.get(f.lane);
    const gap = cur ? x0 - cur.mark.x1 : 0;
    if (cur && gap > MERGE_PX && !(f.followsFold && gap <= RUN_PX)) close(f.lane);
    let c = open.get(f.lane);
    if (!c) {
      c = {
        mark: {
          lane: f.lane,
          handlers: [],
          x0,
          x1,
          count: 0,
          firstStep: data.steps[f.exitIndex],
          lastStep: data.steps[f.entryIndex],
          instructions: [],
          functions: [],
        },
        counts: new Map(),
        fns: new Set(),
        handlers: new Set(),
      };
      open.set(f.lane, c);
    }
    c.mark.count += 1;
    c.mark.x1 = x1;
    c.mark.lastStep = data.steps[f.entryIndex];
    c.counts.set(f.instruction, (c.counts.get(f.instruction) ?? 0) + 1);
    for (const fn of f.functions) c.fns.add(fn);
    for (const h of f.handlers) c.handlers.add(h);
  }
  for (const lane of [...open.keys()]) close(lane);
  return out.sort((a, b) => a.x0 - b.x0);
}

export function nestingMarks(
  nesting: Nesting,
  data: TimelineData,
  xAt: XAt,
  range: [number, number],
  fold: boolean,
): NestingMarks {
  const [r0, r1] = range;
  const links: LinkMark[] = [];
  for (const r of nesting.reflections) {
    if (fold && nesting.folded[r.decisionIndex]) continue;
    const xd = xAt(r.decisionIndex);
    const x0 = r.exitIndex >= 0 ? xAt(r.exitIndex) : xd;
    const x1 = r.entryIndex >= 0 ? xAt(r.entryIndex) : xd;
    if (!inView(x0, x1, r0, r1)) continue;
    links.push({ reflection: r, x0, x1, emulatedOnly: r.exitIndex < 0, step: r.decisionStep });
  }
  return { links, folds: fold ? clusterFolds(nesting.folds, data, xAt, r0, r1) : [] };
}

/** The link's label: as much of "→ L1 · 1 EXTERNAL_INTERRUPT" as the room allows. */
export function linkLabels(r: Reflection): [string, string] {
  return [`→ L${r.toLane} · ${exitReasonLabel(r.reason)}`, `→ L${r.toLane} · ${r.reason & 0xffff}`];
}

/** The tooltip of a reflection link: the three steps and what L1 reads. */
export function linkTitle(link: LinkMark, data: TimelineData): string {
  const r = link.reflection;
  const info =
    r.intrInfo & VALID
      ? `VM_EXIT_INTR_INFO 0x${(r.intrInfo >>> 0).toString(16)} (${eventText(r.intrInfo)})`
      : 'VM_EXIT_INTR_INFO not valid';
  const lines = [
    `Emulated VM exit L${r.fromLane} → L${r.toLane}: L${r.toLane} sees reason ${exitReasonLabel(r.reason)}, ${info}`,
  ];
  if (r.exitIndex >= 0)
    lines.push(
      `step ${data.steps[r.exitIndex]}: L${r.fromLane}'s VM exit to L${data.levels[r.decisionIndex]} (the hardware exit)`,
    );
  else
    lines.push(
      `no hardware exit: L${r.fromLane} did not run since L${r.toLane}'s VM entry; L${data.levels[r.decisionIndex]} emulated the exit without it`,
    );
  lines.push(
    `step ${r.decisionStep}: L${data.levels[r.decisionIndex]} · ${r.fn} (nested_vmx_vmexit writes vmcs12, loads vmcs01)`,
  );
  if (r.entryIndex >= 0)
    lines.push(`step ${data.steps[r.entryIndex]}: VM entry into L${r.toLane} at vmcs12's HOST_RIP`);
  return lines.join('\n');
}

/** "VMWRITE ×10, VMREAD" */
export function foldSummary(mark: FoldMark): string {
  return mark.instructions.map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(', ');
}

/** "L0", "L0 and L1", "L0, L1 and L2". */
function levels(lanes: number[]): string {
  const names = lanes.map((l) => `L${l}`);
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** The tooltip of a fold mark. */
export function foldTitle(mark: FoldMark): string {
  const what = `${mark.count} trapped instruction${mark.count === 1 ? '' : 's'} folded`;
  const steps =
    mark.firstStep === mark.lastStep ? `step ${mark.firstStep}` : `steps ${mark.firstStep}–${mark.lastStep}`;
  const top = mark.handlers.at(-1) ?? 0;
  const who =
    mark.handlers.length > 1
      ? `L${top} emulates them, ${levels(mark.handlers.slice(0, -1))} below it handling its own traps`
      : `L${top} handles them itself`;
  return [
    `${what} (${steps}): ${foldSummary(mark)}`,
    `Round trips from L${mark.lane} and back that L${mark.lane} sees only the result of: ${who} (${mark.functions.join(', ')}).`,
    'The step keys still stop at each of their steps; untick “fold trapped instructions” to see them drawn.',
  ].join('\n');
}
