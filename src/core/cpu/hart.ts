// What the interpreter works on for one step: the processor, its local APIC and VMX state,
// the program and memory of the lane that runs, and a scratch record the step fills in.
import type { Program } from '../asm/ir';
import type { VmxCaps } from '../vmx/capabilities';
import type { VmxState } from '../vmx/state';
import type { SvmState } from '../svm/state';
import type { ApicState } from './apic';
import type { DInstr } from './decoded';
import type { Memory } from './memory';
import type { ContextBook, CpuState } from './state';
import type { WhyLog } from '../causes/why';

/** The event a step produced (EventKind and kind-specific data; see engine/view.ts). */
export interface StepRecord {
  kind: number;
  rip: number;
  d0: number;
  d1: number;
  d2: number;
}

/** The code and memory one lane runs: a program level's, or its guest's (the same program). */
export interface LaneCode {
  prog: Program;
  code: DInstr[];
  mem: Memory;
}

export interface Hart {
  cpu: CpuState;
  apic: ApicState;
  vmx: VmxState;
  /** AMD SVM: EFER.SVME, GIF, the running guest's VMCB (src/core/svm). */
  svm: SvmState;
  caps: VmxCaps;
  /** Per lane: the program it runs, or null for a lane run by a built-in model. */
  lanes: (LaneCode | null)[];
  /** The running lane's program, instructions and memory (switched at VM entry and exit). */
  mem: Memory;
  prog: Program;
  code: DInstr[];
  /** Per lane: the lab's bookkeeping of handler frames and interrupted work (views only). */
  books: ContextBook[];
  /** The lane (execution level) running now. */
  level: number;
  /** Cycles counted by the TSC so far (the engine advances it). */
  tsc: number;
  out: StepRecord;
  /** The read set of this step, recorded only while explaining it (causes/why.ts); null in a run. */
  why: WhyLog | null;
}

export function newStepRecord(): StepRecord {
  return { kind: 0, rip: 0, d0: 0, d1: 0, d2: 0 };
}

/** Make `lane` the running one: its program, instructions and memory. */
export function switchLane(h: Hart, lane: number): void {
  h.level = lane;
  const c = h.lanes[lane];
  if (c) {
    h.prog = c.prog;
    h.code = c.code;
    h.mem = c.mem;
  }
}
