// What the Xen model's functions share: the context of one step and the decision record.
import type { Program } from '../../asm/ir';
import type { Hart } from '../../cpu/hart';
import { EventKind } from '../../engine/view';
import { XEN_FN_BASE } from './functions';
import type { XenSvmPort } from './port';
import type { XenState } from './state';

export interface XenOptions {
  /** Use vNMI when the CPU has it (86a203ab8d). */
  vnmi: boolean;
  /** 86a203ab8d's short-circuit in hvm_interrupt_blocked (seed E-v3 when false). */
  vnmiShortCircuit: boolean;
  /** construct_vmcb sets the NMI intercept (false: the E-v4 misconfiguration). */
  nmiIntercept: boolean;
}

export interface XenContext {
  h: Hart;
  port: XenSvmPort;
  xen: XenState;
  options: XenOptions;
  /** The guest's program (its entry and IDT) and the size of its memory (its initial RSP). */
  guest: Program;
  guestMemory: number;
}

/** One step's outcome: a decision was recorded, the vCPU waits for an event, or it is gone. */
export type XenStepResult = 'recorded' | 'wait' | 'stopped';

/** Record a decision of the Xen function `fn` (an XenFn index). */
export function decide(h: Hart, fn: number, d1 = 0, d2 = 0): XenStepResult {
  h.out.kind = EventKind.DECISION;
  h.out.rip = h.cpu.rip;
  h.out.d0 = XEN_FN_BASE + fn;
  h.out.d1 = d1 >>> 0;
  h.out.d2 = d2 >>> 0;
  return 'recorded';
}
