// How an instruction step ends: its record, a fault it raises, the single-step trap after it.
import { EventKind, EventType } from '../engine/view';
import type { DInstr } from './decoded';
import { Vector, deliverEvent } from './deliver';
import type { Hart } from './hart';

/** Outcome of executing one instruction. */
export const Exec = {
  /** Retired (or faulted and delivered): the step is complete. */
  DONE: 0,
  /** A `work` was cut short by the time budget: the engine raises the due event. */
  WORK_INTERRUPTED: 1,
} as const;

/** Fill the step record of a retired instruction. */
export function retire(h: Hart, ins: DInstr, index: number, kind: number = EventKind.INSTR): void {
  h.out.kind = kind;
  h.out.rip = ins.addr;
  h.out.d0 = index;
  h.out.d1 = 0;
  h.out.d2 = 0;
}

/** A fault raised by the instruction: delivered with RIP pointing at the instruction. */
export function fault(h: Hart, ins: DInstr, vector: number, errorCode: number): void {
  h.cpu.rip = ins.addr;
  deliverEvent(h, vector, EventType.HW_EXCEPTION, errorCode, ins.addr);
}

/** A fault-like #DB at the instruction (breakpoint or general detect), its causes for DR6. */
export function debugFault(h: Hart, ins: DInstr, cause: number): number {
  h.cpu.rip = ins.addr;
  deliverEvent(h, Vector.DB, EventType.HW_EXCEPTION, 0, ins.addr, { debugCause: cause });
  return Exec.DONE;
}

/** "Single-step": TF set when an instruction began makes a #DB trap due after it retires. */
export function done(h: Hart, singleStep: boolean): number {
  if (singleStep) h.cpu.dbTrapPending = true;
  return Exec.DONE;
}
