// The Xen model's software state for one HVM vCPU, as plain data. Field names follow Xen's
// (struct vcpu, struct arch_vcpu, struct vlapic) so the panel and the source read side by side.
import { type ApicState, cloneApic, createApic } from '../../cpu/apic';

/** Where Xen is in its loop: svm_asm_do_resume → svm_intr_assist → VMRUN → svm_vmexit_handler. */
export const XenPhase = {
  /** svm_cpu_up and construct_vmcb. */
  SETUP: 0,
  /** svm_asm_do_resume: svm_intr_assist next. */
  RESUME: 1,
  /** svm_asm_do_resume: VMRUN next. */
  RUN: 2,
  /** After a #VMEXIT: STGI (host interrupts taken), then svm_vmexit_handler. */
  EXITED: 3,
  /** The vCPU is blocked (hvm_hlt → SCHEDOP_block) until an event is deliverable. */
  BLOCKED: 4,
  /** The vCPU is down for good: hvm_vcpu_down (HLT with IF = 0) or domain_crash. */
  DEAD: 5,
} as const;
export type XenPhase = (typeof XenPhase)[keyof typeof XenPhase];

export interface XenState {
  phase: XenPhase;
  /** 0 or 1 within SETUP (svm_cpu_up, construct_vmcb). */
  stage: number;
  /** The VMCB's vnmi_enable as construct_vmcb set it: cpu_has_svm_vnmi (and the option). */
  vnmi: boolean;
  /** v->arch.nmi_pending: an NMI for the vCPU, not yet injected. */
  nmiPending: boolean;
  /** The vCPU's virtual local APIC (x2APIC mode), emulated by Xen's vlapic.c. */
  vlapic: ApicState;
  /** domain_crash was called (VMEXIT_INVALID, an exit Xen does not handle). */
  crashed: boolean;
  /** Why the vCPU went down or the domain crashed, for the views. */
  reason: string;
  /**
   * Above L0: the guest's general registers, taken at the #VMEXIT and loaded before VMRUN (Xen's
   * own instructions use the processor's registers in between). At L0 Xen runs no code and the
   * processor keeps them.
   */
  guestRegs: Uint32Array;
}

export function createXen(vnmi: boolean): XenState {
  return {
    phase: XenPhase.SETUP,
    stage: 0,
    vnmi,
    nmiPending: false,
    vlapic: createApic(),
    crashed: false,
    reason: '',
    guestRegs: new Uint32Array(32),
  };
}

export function cloneXen(x: XenState): XenState {
  return { ...x, vlapic: cloneApic(x.vlapic), guestRegs: x.guestRegs.slice() };
}
