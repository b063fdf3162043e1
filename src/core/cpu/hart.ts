// What the interpreter works on for one step: the processor, its local APIC, the memory and
// program of the level that runs, and a scratch record the step fills in for the trace.
import type { Program } from '../asm/ir';
import type { ApicState } from './apic';
import type { DInstr } from './decoded';
import type { Memory } from './memory';
import type { CpuState } from './state';

/** The event a step produced (EventKind and kind-specific data; see engine/view.ts). */
export interface StepRecord {
  kind: number;
  rip: number;
  d0: number;
  d1: number;
  d2: number;
}

export interface Hart {
  cpu: CpuState;
  apic: ApicState;
  mem: Memory;
  prog: Program;
  /** The program's instructions as the interpreter runs them (decoded.ts). */
  code: DInstr[];
  level: number;
  /** Cycles counted by the TSC so far (the engine advances it). */
  tsc: number;
  out: StepRecord;
}

export function newStepRecord(): StepRecord {
  return { kind: 0, rip: 0, d0: 0, d1: 0, d2: 0 };
}
