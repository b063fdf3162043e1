// What the KVM model's functions share: the context of one step and the decision record.
import type { Program } from '../../asm/ir';
import type { Hart } from '../../cpu/hart';
import { EventKind } from '../../engine/view';
import type { KvmState } from './state';

/** What kvm_check_and_inject_events did, as bits of the DECISION record's d1. */
export const Inject = {
  REINJECT_NMI: 1,
  REINJECT_IRQ: 2,
  NMI: 4,
  IRQ: 8,
  NMI_WINDOW: 16,
  IRQ_WINDOW: 32,
  IMMEDIATE_EXIT: 64,
  /** The NMI window was armed with the interrupt window (no virtual NMIs, or STI blocking). */
  NMI_WINDOW_VIA_IRQ: 128,
  /** A queued exception was injected (kvm_inject_exception). */
  EXCEPTION: 256,
} as const;

/** Host memory layout of the KVM model: VMXON region, vmcs01, and where VM exits land. */
export const KVM_HOST = { VMXON: 0x1000, VMCS01: 0x2000, VMX_VMEXIT: 0x3000, STACK: 0x8000 } as const;

export interface KvmContext {
  h: Hart;
  kvm: KvmState;
  guestLane: number;
  guest: Program;
  guestMemory: number;
  tscHz: number;
  immediateExit: 'preemption-timer' | 'self-ipi';
  /** '2008': events are evaluated on every entry (vmx_intr_assist); 'current': on KVM_REQ_EVENT. */
  era: 'current' | '2008';
  step: number;
}

/** One step's outcome: a decision was recorded, or the vCPU waits for an event. */
export type KvmStepResult = 'recorded' | 'wait' | 'stopped';

export function decide(h: Hart, fn: number, d1 = 0, d2 = 0): KvmStepResult {
  h.out.kind = EventKind.DECISION;
  h.out.rip = h.cpu.rip;
  h.out.d0 = fn;
  h.out.d1 = d1 >>> 0;
  h.out.d2 = d2 >>> 0;
  return 'recorded';
}
