// What nesting adds to the timeline, derived from its columns and the transitions' numbers:
// - reflections: an exit of a guest that a KVM below turned into an emulated VM exit to the
//   level above it — the hardware exit (L2 → L0), the KVM's decision (nested_vmx_reflect_vmexit
//   or vmx_check_nested_events, whose first number is the exit reason that level sees), and the
//   VM entry into that level (at its VMCS's HOST_RIP). In a deeper stack one exit of L3 can be
//   reflected twice: by L0 to L1, then by L1 to L2.
// - folds: a guest's trapped instruction (VMREAD, VMWRITE, RDMSR, ...) that the KVM levels below
//   it handle alone: the exit, only KVM work below the guest, and the entry back into the same
//   guest with nothing injected.
// Pure functions of the data; no React, no scale (see nesting-marks.ts for what is drawn).
import { hypervisorFunction } from '../../core/hypervisors/functions';
import { EventKind, type ScenarioInfo, type TimelineData } from '../../core/engine/view';
import { Fn } from '../../core/hypervisors/kvm/functions';
import type { TransitionColumns } from '../../worker/protocol';
import { VALID } from './transition-text';
import { transitionTargets } from './visible-marks';

/** The decisions that emulate a VM exit to L1 (nested.c), with the reason L1 sees as d1. */
export const EMULATED_EXIT_FUNCTIONS: ReadonlySet<number> = new Set([
  Fn.nested_vmx_reflect_vmexit,
  Fn.vmx_check_nested_events,
]);

/**
 * Exit reasons of the instructions a hypervisor below emulates for its guest without the guest
 * seeing anything but the instruction's result: the VMX instructions (no VMCS shadowing),
 * RDMSR/WRMSR and CPUID. By basic exit reason, with the instruction's name.
 */
export const TRAPPED_REASONS: ReadonlyMap<number, string> = new Map([
  [10, 'CPUID'],
  [19, 'VMCLEAR'],
  [21, 'VMPTRLD'],
  [22, 'VMPTRST'],
  [23, 'VMREAD'],
  [25, 'VMWRITE'],
  [26, 'VMXOFF'],
  [27, 'VMXON'],
  [31, 'RDMSR'],
  [32, 'WRMSR'],
]);

export interface Reflection {
  /** Timeline index of the hardware exit of the guest, or -1: L0 emulated the exit without it. */
  exitIndex: number;
  /** The lane whose exit L1 sees (L2). */
  fromLane: number;
  /** Timeline index and step of L0's decision. */
  decisionIndex: number;
  decisionStep: number;
  /** The kernel function that decided (nested_vmx_reflect_vmexit, vmx_check_nested_events). */
  fn: string;
  /** The exit reason L1 sees, and the exit interruption information it gets. */
  reason: number;
  intrInfo: number;
  /** Timeline index of L0's VM entry into L1, or -1 when the run ends first. */
  entryIndex: number;
  /** The lane the exit goes to (L1). */
  toLane: number;
}

export interface Fold {
  /** The guest that executed the instruction. */
  lane: number;
  /** The levels that handled it (all KVM models), lowest first. */
  handlers: number[];
  /** Timeline indices of the exit and of the VM entry back into the guest. */
  exitIndex: number;
  entryIndex: number;
  /** The basic exit reason, and the instruction's name. */
  reason: number;
  instruction: string;
  /** The handlers' decisions, by kernel function name, each once. */
  functions: string[];
  /**
   * It follows the previous fold of its lane with only the guest's own instructions between
   * (a run of VMWRITEs): drawn as one mark with it unless zoomed in far.
   */
  followsFold: boolean;
}

export interface Nesting {
  reflections: Reflection[];
  folds: Fold[];
  /** Per timeline index: 1 when the event belongs to a fold. */
  folded: Uint8Array;
}

/** Per level: whether it is a KVM model. */
export function kvmLanesOf(info: Pick<ScenarioInfo, 'levels'>): boolean[] {
  return info.levels.map((l) => l.kind === 'kvm');
}

/** The transitions' numbers by step. */
function byStep(tr: TransitionColumns): Map<number, number> {
  const m = new Map<number, number>();
  tr.steps.forEach((s, i) => m.set(s, i));
  return m;
}

function findReflections(
  data: TimelineData,
  tr: TransitionColumns,
  at: Map<number, number>,
  targets: Int32Array,
): Reflection[] {
  const out: Reflection[] = [];
  const n = data.kinds.length;
  for (let i = 0; i < n; i++) {
    if (data.kinds[i] !== EventKind.DECISION) continue;
    const t = at.get(data.steps[i]);
    if (t === undefined || !EMULATED_EXIT_FUNCTIONS.has(tr.d0[t])) continue;
    // The KVM at level h emulates the exit for the level above it.
    const toLane = data.levels[i] + 1;
    // Forward: the VM entry into that level (after the traps the KVM's own VM entry may take).
    let entryIndex = -1;
    for (let j = i + 1; j < n; j++) {
      if (data.kinds[j] === EventKind.VMENTRY && targets[j] === toLane) {
        entryIndex = j;
        break;
      }
      if (data.levels[j] >= toLane) break;
    }
    // Backward, over the work of the levels below: the last thing a level from there up did.
    // An exit of a guest above it is the exit reflected; anything else means there was none.
    let exitIndex = -1;
    for (let j = i - 1; j >= 0; j--) {
      if (data.levels[j] < toLane) continue;
      if (data.kinds[j] === EventKind.VMEXIT && data.levels[j] > toLane) exitIndex = j;
      break;
    }
    out.push({
      exitIndex,
      fromLane: exitIndex >= 0 ? data.levels[exitIndex] : toLane + 1,
      decisionIndex: i,
      decisionStep: data.steps[i],
      fn: hypervisorFunction(tr.d0[t]).name,
      reason: tr.d1[t],
      intrInfo: tr.d2[t],
      entryIndex,
      toLane,
    });
  }
  return out;
}

/** What may happen below a guest during a fold: a KVM's decisions, transitions, instructions. */
const FOLDABLE_KINDS: ReadonlySet<number> = new Set([
  EventKind.DECISION,
  EventKind.VMEXIT,
  EventKind.VMENTRY,
  EventKind.INSTR,
  EventKind.WAKE,
]);

/** The round trip from the exit at `i` back into its guest, if nothing but KVM work lies between. */
function foldAt(
  data: TimelineData,
  tr: TransitionColumns,
  at: Map<number, number>,
  targets: Int32Array,
  kvmLanes: readonly boolean[],
  i: number,
): Fold | null {
  const t = at.get(data.steps[i]);
  if (t === undefined || tr.d0[t] & VALID) return null;
  const reason = tr.d0[t] & 0xffff;
  const instruction = TRAPPED_REASONS.get(reason);
  const lane = data.levels[i];
  if (!instruction || lane === 0) return null;
  const handlers = new Set<number>();
  const functions = new Set<string>();
  const n = data.kinds.length;
  let j = i + 1;
  for (; j < n && data.levels[j] < lane; j++) {
    const level = data.levels[j];
    const kind = data.kinds[j];
    if (!kvmLanes[level] || !FOLDABLE_KINDS.has(kind)) return null;
    handlers.add(level);
    const d = at.get(data.steps[j]);
    if (kind === EventKind.DECISION && d !== undefined) functions.add(hypervisorFunction(tr.d0[d]).name);
    // An entry that injects an event is something a guest sees: not folded.
    if (kind === EventKind.VMENTRY && (d === undefined || tr.d0[d] & VALID)) return null;
  }
  const entry = j - 1;
  if (j >= n || data.levels[j] !== lane || entry <= i) return null;
  if (data.kinds[entry] !== EventKind.VMENTRY || targets[entry] !== lane) return null;
  return {
    lane,
    handlers: [...handlers].sort((a, b) => a - b),
    exitIndex: i,
    entryIndex: entry,
    reason,
    instruction,
    functions: [...functions],
    followsFold: false,
  };
}

function findFolds(
  data: TimelineData,
  tr: TransitionColumns,
  at: Map<number, number>,
  targets: Int32Array,
  kvmLanes: readonly boolean[],
): Fold[] {
  const out: Fold[] = [];
  // A fold inside another (L1's VMREAD while L1 emulates L2's VMWRITE) is part of the outer one.
  let coveredTo = -1;
  for (let i = 0; i < data.kinds.length; i++) {
    if (data.kinds[i] !== EventKind.VMEXIT || i <= coveredTo) continue;
    const fold = foldAt(data, tr, at, targets, kvmLanes, i);
    if (!fold) continue;
    out.push(fold);
    coveredTo = fold.entryIndex;
  }
  const last = new Map<number, Fold>();
  for (const f of out) {
    const before = last.get(f.lane);
    if (before) {
      let quiet = true;
      for (let k = before.entryIndex + 1; k < f.exitIndex && quiet; k++)
        quiet =
          data.levels[k] === f.lane &&
          (data.kinds[k] === EventKind.INSTR || data.kinds[k] === EventKind.WAKE);
      f.followsFold = quiet;
    }
    last.set(f.lane, f);
  }
  return out;
}

const cache = new WeakMap<TimelineData, WeakMap<TransitionColumns, Map<string, Nesting>>>();

/**
 * Reflections and folds of a run (cached per pair of columns). `kvmLanes[k]`: level k is a KVM
 * model (its work may be folded away; a program's never is).
 */
export function nestingOf(data: TimelineData, tr: TransitionColumns, kvmLanes: readonly boolean[]): Nesting {
  let byTr = cache.get(data);
  if (!byTr) {
    byTr = new WeakMap();
    cache.set(data, byTr);
  }
  let byKinds = byTr.get(tr);
  if (!byKinds) {
    byKinds = new Map();
    byTr.set(tr, byKinds);
  }
  const key = kvmLanes.map((k) => (k ? 1 : 0)).join('');
  const hit = byKinds.get(key);
  if (hit) return hit;
  const at = byStep(tr);
  const targets = transitionTargets(data);
  const folds = findFolds(data, tr, at, targets, kvmLanes);
  const folded = new Uint8Array(data.kinds.length);
  for (const f of folds) folded.fill(1, f.exitIndex, f.entryIndex + 1);
  const result = { reflections: findReflections(data, tr, at, targets), folds, folded };
  byKinds.set(key, result);
  return result;
}
