// What the Xen model's functions share: the context of one step and the decision record.
import { type HypervisorStepResult, recordDecision } from '../decision';
import type { Program } from '../../asm/ir';
import type { Hart } from '../../cpu/hart';
import { XEN_FN_BASE } from './functions';
import type { XenPort } from './port';
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
  port: XenPort;
  xen: XenState;
  options: XenOptions;
  /** The guest's program (its entry and IDT) and the size of its memory (its initial RSP). */
  guest: Program;
  guestMemory: number;
}

/** One step's outcome: a decision was recorded, the vCPU waits for an event, or it is gone. */
export type XenStepResult = HypervisorStepResult;

/** Record a decision of the Xen function `fn` (an XenFn index). */
export function decide(h: Hart, fn: number, d1 = 0, d2 = 0): XenStepResult {
  return recordDecision(h, XEN_FN_BASE + fn, d1, d2);
}
