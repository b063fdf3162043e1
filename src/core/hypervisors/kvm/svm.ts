// KVM's SVM event hooks (arch/x86/kvm/svm/svm.c), written against the architectural interface
// only: KVM reads and writes its VMCB (vmcb01, in its own memory) and learns about the guest
// from #VMEXITs, as the kernel does. Each function is named after the kernel's; svm-ops.ts
// binds them to the kvm_x86_ops hooks x86.c calls.
import { RFLAGS } from '../../cpu/state';
import {
  EVTINJ,
  INT_CTL,
  INT_STATE,
  INTERCEPT,
  V_INTR_PRIO_SHIFT,
  interceptMask,
  interceptOffset,
} from '../../svm/bits';
import { VMCB } from '../../svm/vmcb';
import type { KvmContext } from './context';
import { KVM_SVM_HOST } from './svm-state';

/** A 32-bit (or narrower) field of vmcb01. */
export function vmcbRd(c: KvmContext, offset: number): number {
  return c.svmPort!.read(KVM_SVM_HOST.VMCB01, offset, 4);
}

export function vmcbWr(c: KvmContext, offset: number, value: number): void {
  c.svmPort!.write(KVM_SVM_HOST.VMCB01, offset, 4, value >>> 0);
}

/** A 64-bit field of vmcb01 (RIP, RSP, RAX, RFLAGS, CRs, EFER, next_rip). */
export function vmcbRd64(c: KvmContext, offset: number): number {
  return c.svmPort!.read(KVM_SVM_HOST.VMCB01, offset, 8);
}

export function vmcbWr64(c: KvmContext, offset: number, value: number): void {
  c.svmPort!.write(KVM_SVM_HOST.VMCB01, offset, 8, value);
}

/** svm_set_intercept / svm_clr_intercept / svm_is_intercept on vmcb01. */
export function svmSetIntercept(c: KvmContext, bit: number): void {
  const at = interceptOffset(bit);
  vmcbWr(c, at, vmcbRd(c, at) | interceptMask(bit));
}

export function svmClrIntercept(c: KvmContext, bit: number): void {
  const at = interceptOffset(bit);
  vmcbWr(c, at, vmcbRd(c, at) & ~interceptMask(bit));
}

export function svmIsIntercept(c: KvmContext, bit: number): boolean {
  return (vmcbRd(c, interceptOffset(bit)) & interceptMask(bit)) !== 0;
}

/** is_vnmi_enabled: vmcb01's int_ctl has V_NMI_ENABLE. */
export function isVnmiEnabled(c: KvmContext): boolean {
  return (vmcbRd(c, VMCB.INT_CTL) & INT_CTL.V_NMI_ENABLE_MASK) !== 0;
}

/**
 * gif_set: with vGIF the guest's V_GIF, else KVM's HF_GIF_MASK; KVM's guest never clears its
 * GIF here (it has no SVM of its own), so without vGIF it is set.
 */
export function gifSet(c: KvmContext): boolean {
  const intCtl = vmcbRd(c, VMCB.INT_CTL);
  if (intCtl & INT_CTL.V_GIF_ENABLE_MASK) return (intCtl & INT_CTL.V_GIF_MASK) !== 0;
  return true;
}

/**
 * svm_get_rflags: the VMCB's RFLAGS, with the TF and RF KVM set for its NMI single-step hidden
 * unless the guest had them.
 */
export function svmGetRflags(c: KvmContext): number {
  let rflags = vmcbRd(c, VMCB.RFLAGS);
  const s = c.kvm.svm;
  if (s.nmiSinglestep) {
    if (!(s.nmiSinglestepGuestRflags & RFLAGS.TF)) rflags &= ~RFLAGS.TF;
    if (!(s.nmiSinglestepGuestRflags & RFLAGS.RF)) rflags &= ~RFLAGS.RF;
  }
  return rflags >>> 0;
}

/** svm_set_rflags: during the NMI single-step KVM's TF and RF stay set. */
export function svmSetRflags(c: KvmContext, rflags: number): void {
  const v = c.kvm.svm.nmiSinglestep ? rflags | RFLAGS.TF | RFLAGS.RF : rflags;
  vmcbWr64(c, VMCB.RFLAGS, v >>> 0);
}

/** svm_get_nmi_mask: V_NMI_BLOCKING with vNMI, else the software mask svm->nmi_masked. */
export function svmGetNmiMask(c: KvmContext): boolean {
  if (isVnmiEnabled(c)) return (vmcbRd(c, VMCB.INT_CTL) & INT_CTL.V_NMI_BLOCKING_MASK) !== 0;
  return c.kvm.svm.nmiMasked;
}

/** svm_set_iret_intercept / svm_clr_iret_intercept (never with vNMI: hardware tracks IRET). */
function svmSetIretIntercept(c: KvmContext): void {
  if (!isVnmiEnabled(c)) svmSetIntercept(c, INTERCEPT.INTERCEPT_IRET);
}

export function svmClrIretIntercept(c: KvmContext): void {
  if (!isVnmiEnabled(c)) svmClrIntercept(c, INTERCEPT.INTERCEPT_IRET);
}

/**
 * svm_set_nmi_mask: with vNMI V_NMI_BLOCKING; else the software mask, and the IRET intercept
 * that ends it (set while masked, cleared when unmasked).
 */
export function svmSetNmiMask(c: KvmContext, masked: boolean): void {
  if (isVnmiEnabled(c)) {
    const intCtl = vmcbRd(c, VMCB.INT_CTL);
    vmcbWr(
      c,
      VMCB.INT_CTL,
      masked ? intCtl | INT_CTL.V_NMI_BLOCKING_MASK : intCtl & ~INT_CTL.V_NMI_BLOCKING_MASK,
    );
    return;
  }
  c.kvm.svm.nmiMasked = masked;
  if (masked) svmSetIretIntercept(c);
  else svmClrIretIntercept(c);
}

/** The guest's interrupt shadow (int_state bit 0, SVM_INTERRUPT_SHADOW_MASK). */
function inShadow(c: KvmContext): boolean {
  return (vmcbRd(c, VMCB.INT_STATE) & INT_STATE.SVM_INTERRUPT_SHADOW_MASK) !== 0;
}

/** svm_nmi_blocked: GIF = 0, the NMI mask (V_NMI_BLOCKING or nmi_masked), the interrupt shadow. */
export function svmNmiBlocked(c: KvmContext): boolean {
  if (!gifSet(c)) return true;
  if (svmGetNmiMask(c)) return true;
  return inShadow(c);
}

/** svm_interrupt_blocked: GIF = 0, the guest's RFLAGS.IF = 0, the interrupt shadow. */
export function svmInterruptBlocked(c: KvmContext): boolean {
  if (!gifSet(c)) return true;
  if (!(svmGetRflags(c) & RFLAGS.IF)) return true;
  return inShadow(c);
}

/**
 * svm_inject_nmi: EVENTINJ = NMI. Without vNMI the processor does not block further NMIs for
 * an injected one (facts §2.7), so KVM masks them in software and intercepts the guest's IRET;
 * with vNMI the processor sets V_NMI_BLOCKING itself when it delivers the injected NMI.
 */
export function svmInjectNmi(c: KvmContext): void {
  vmcbWr(c, VMCB.EVENT_INJ, EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_NMI);
  if (!isVnmiEnabled(c)) {
    c.kvm.svm.nmiMasked = true;
    svmSetIretIntercept(c);
  }
}

/** svm_inject_irq: EVENTINJ = vector | INTR (or SOFT for a soft interrupt) | V. */
export function svmInjectIrq(c: KvmContext): void {
  const kvm = c.kvm;
  const type = kvm.irqSoft ? EVTINJ.SVM_EVTINJ_TYPE_SOFT : EVTINJ.SVM_EVTINJ_TYPE_INTR;
  vmcbWr(c, VMCB.EVENT_INJ, (kvm.irqVector & 0xff) | EVTINJ.SVM_EVTINJ_VALID | type);
}

/** svm_inject_exception: EVENTINJ = vector | EXEPT | V, with EV and event_inj_err if it has one. */
export function svmInjectException(c: KvmContext, hasErrorCode: boolean): void {
  const kvm = c.kvm;
  vmcbWr(
    c,
    VMCB.EVENT_INJ,
    (kvm.exceptionVector & 0xff) |
      EVTINJ.SVM_EVTINJ_VALID |
      EVTINJ.SVM_EVTINJ_TYPE_EXEPT |
      (hasErrorCode ? EVTINJ.SVM_EVTINJ_VALID_ERR : 0),
  );
  if (hasErrorCode) vmcbWr(c, VMCB.EVENT_INJ_ERR, kvm.exceptionErrorCode);
}

/**
 * svm_set_vintr: SVM has no interrupt-window control. KVM arms a dummy virtual interrupt —
 * V_IRQ with vector 0 and priority 0xF — and intercepts VINTR, so the processor exits (0x64) as
 * soon as the guest could take an interrupt; nothing is delivered through V_IRQ, the real
 * interrupt then goes in through EVENTINJ.
 */
export function svmSetVintr(c: KvmContext): void {
  svmSetIntercept(c, INTERCEPT.INTERCEPT_VINTR);
  vmcbWr(c, VMCB.INT_VECTOR, 0);
  const intCtl = vmcbRd(c, VMCB.INT_CTL) & ~INT_CTL.V_INTR_PRIO_MASK;
  vmcbWr(c, VMCB.INT_CTL, intCtl | INT_CTL.V_IRQ_MASK | (0xf << V_INTR_PRIO_SHIFT));
}

/** V_IRQ_INJECTION_BITS_MASK: the int_ctl bits svm_set_vintr sets. */
const V_IRQ_INJECTION_BITS = INT_CTL.V_IRQ_MASK | INT_CTL.V_INTR_PRIO_MASK | INT_CTL.V_IGN_TPR_MASK;

/** svm_clear_vintr: drop the VINTR intercept and the dummy V_IRQ. */
export function svmClearVintr(c: KvmContext): void {
  svmClrIntercept(c, INTERCEPT.INTERCEPT_VINTR);
  vmcbWr(c, VMCB.INT_CTL, vmcbRd(c, VMCB.INT_CTL) & ~V_IRQ_INJECTION_BITS);
}

/**
 * svm_enable_irq_window: with vGIF (or GIF = 1) the dummy VINTR; with GIF = 0 and no vGIF the
 * STGI intercept would tell KVM instead (its guest here never clears GIF).
 */
export function svmEnableIrqWindow(c: KvmContext): void {
  if (gifSet(c) || vmcbRd(c, VMCB.INT_CTL) & INT_CTL.V_GIF_ENABLE_MASK) svmSetVintr(c);
}

/** What svm_enable_nmi_window did (the decision's Inject bits tell NMI_WINDOW from the rest). */
export type SvmNmiWindow = 'iret' | 'singlestep' | 'stgi' | 'none';

/**
 * svm_enable_nmi_window: while NMIs are masked and the IRET intercept has not fired yet, that
 * intercept is the window; once it has (awaiting_iret_completion), or when only the interrupt
 * shadow or an injection is in the way, KVM single-steps the guest (RFLAGS.TF|RF) and the #DB
 * intercept ends the window. With GIF = 0 the STGI intercept does it (with vGIF).
 */
export function svmEnableNmiWindow(c: KvmContext): SvmNmiWindow {
  const s = c.kvm.svm;
  if (svmGetNmiMask(c) && !s.awaitingIretCompletion) return isVnmiEnabled(c) ? 'none' : 'iret';
  if (!gifSet(c)) {
    svmSetIntercept(c, INTERCEPT.INTERCEPT_STGI);
    return 'stgi';
  }
  s.nmiSinglestepGuestRflags = svmGetRflags(c);
  s.nmiSinglestep = true;
  vmcbWr64(c, VMCB.RFLAGS, vmcbRd(c, VMCB.RFLAGS) | RFLAGS.TF | RFLAGS.RF);
  return 'singlestep';
}

/** disable_nmi_singlestep: KVM's TF and RF go, the guest's own stay. */
export function disableNmiSinglestep(c: KvmContext): void {
  const s = c.kvm.svm;
  s.nmiSinglestep = false;
  let rflags = vmcbRd(c, VMCB.RFLAGS);
  if (!(s.nmiSinglestepGuestRflags & RFLAGS.TF)) rflags &= ~RFLAGS.TF;
  if (!(s.nmiSinglestepGuestRflags & RFLAGS.RF)) rflags &= ~RFLAGS.RF;
  vmcbWr64(c, VMCB.RFLAGS, rflags >>> 0);
}

/**
 * svm_set_vnmi_pending: with vNMI, park the NMI in V_NMI_PENDING for the processor to deliver
 * when the guest is ready (no window, no IRET intercept); false without vNMI or when one is
 * already parked.
 */
export function svmSetVnmiPending(c: KvmContext): boolean {
  if (!isVnmiEnabled(c)) return false;
  const intCtl = vmcbRd(c, VMCB.INT_CTL);
  if (intCtl & INT_CTL.V_NMI_PENDING_MASK) return false;
  vmcbWr(c, VMCB.INT_CTL, intCtl | INT_CTL.V_NMI_PENDING_MASK);
  return true;
}

/** svm_is_vnmi_pending: an NMI is parked in V_NMI_PENDING. */
export function svmIsVnmiPending(c: KvmContext): boolean {
  if (!isVnmiEnabled(c)) return false;
  return (vmcbRd(c, VMCB.INT_CTL) & INT_CTL.V_NMI_PENDING_MASK) !== 0;
}
