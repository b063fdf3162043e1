// What the KVM model's functions share: the context of one step and the decision record.
import { type HypervisorStepResult, recordDecision } from '../decision';
import type { Program } from '../../asm/ir';
import type { Hart } from '../../cpu/hart';
import type { KvmState } from './state';
import type { KvmPort } from './port';
import type { KvmX86Ops } from './x86-ops';
import type { SvmPort } from '../svm-port';

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
  /** -EBUSY for a nested reason: nested_run_pending, or L1 must see the event as a VM exit. */
  NESTED_BUSY: 512,
} as const;

/** Host memory layout of the KVM model: VMXON region, vmcs01, and where VM exits land. */
export const KVM_HOST = {
  VMXON: 0x1000,
  VMCS01: 0x2000,
  VMX_VMEXIT: 0x3000,
  SHADOW_VMCS: 0x5000,
  VMCS02: 0x6000,
  STACK: 0x8000,
  VMREAD_BITMAP: 0x9000,
  VMWRITE_BITMAP: 0xa000,
} as const;

/**
 * The lane a VMCS of the level at `owner` runs (lab bookkeeping: whose code and memory run
 * there): a KVM's vmcs02 runs the level its current vmcs12 runs (nested.l2Lane, set by
 * nested_vmx_run); any other VMCS runs the level above its owner.
 */
export function laneRunBy(kvms: readonly (KvmState | null)[], owner: number, vmcsAddr: number): number {
  const kvm = kvms[owner];
  if (kvm && vmcsAddr === KVM_HOST.VMCS02 && kvm.nested.l2Lane >= 0) return kvm.nested.l2Lane;
  return owner + 1;
}

/**
 * How KVM's nested VMX behaves where its history changed (docs/kvm.md): today's code is all
 * true but `pretendL2Ran`.
 */
export interface NestedOptions {
  /**
   * d6185f20 (2011, KVM_REQ_IMMEDIATE_EXIT): an event for L1 that must wait for a pending
   * nested entry forces an immediate exit after it. Before, nothing was done ("will be injected
   * later"), and the event waited for L2's next unrelated exit.
   */
  immediateExit: boolean;
  /** b5861e5cf2fc (2018): re-evaluate L1's pending events at nested VM entry. */
  reevaluateOnEntry: boolean;
  /**
   * Nested acknowledge-interrupt-on-exit (2014): the vector goes into vmcs12's
   * VM_EXIT_INTR_INFO. Off: the 2011 L0 that exits with no vector although L1 asked for one.
   */
  ackOnExit: boolean;
  /**
   * A broken L0 that emulates the exit to L1 right after nested_vmx_run instead of entering
   * L2 ("pretend L2 ran"): L1's injection into L2 is lost (the reason d6185f20 enters L2).
   */
  pretendL2Ran: boolean;
}

export const CURRENT_NESTED: NestedOptions = {
  immediateExit: true,
  reevaluateOnEntry: true,
  ackOnExit: true,
  pretendL2Ran: false,
};

export interface KvmContext {
  h: Hart;
  /** kvm_x86_ops: the vendor's hooks (VMX or SVM, by the scenario's arch). */
  ops: KvmX86Ops;
  /** What KVM's code does to the processor: the hardware at L0, trapping instructions above. */
  port: KvmPort;
  /** On an AMD processor (kvm_amd): the SVM side of the port (VMCBs, VMRUN, CLGI/STGI). */
  svmPort: SvmPort | null;
  /** The lane this KVM runs in (its level). */
  lane: number;
  /** The lane a VMCS of `owner` (a level above this KVM) runs: lab bookkeeping of whose code runs. */
  laneRunBy: (owner: number, vmcsAddr: number) => number;
  kvm: KvmState;
  guestLane: number;
  /** HOST_IDTR_BASE: KVM's IDT in its memory, for the host interrupts delivered to it above L0. */
  hostIdt: number;
  guest: Program;
  guestMemory: number;
  tscHz: number;
  immediateExit: 'preemption-timer' | 'self-ipi';
  /** '2008': events are evaluated on every entry (vmx_intr_assist); 'current': on KVM_REQ_EVENT. */
  era: 'current' | '2008';
  nested: NestedOptions;
  /** enable_shadow_vmcs: KVM gives L1 VMCS shadowing when the processor has it. */
  shadowVmcs: boolean;
  step: number;
}

/** One step's outcome: a decision was recorded, or the vCPU waits for an event. */
export type KvmStepResult = HypervisorStepResult;

/** Record a decision of the KVM function `fn` (an Fn index). */
export function decide(h: Hart, fn: number, d1 = 0, d2 = 0): KvmStepResult {
  return recordDecision(h, fn, d1, d2);
}
