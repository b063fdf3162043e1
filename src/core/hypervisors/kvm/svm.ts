// KVM's SVM event hooks (arch/x86/kvm/svm/svm.c), written against the architectural interface
// only: KVM reads and writes its VMCBs (vmcb01, and vmcb02 while L2 runs, in its own memory) and
// learns about the guest from #VMEXITs, as the kernel does. Each function is named after the kernel's; svm-ops.ts
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
import { hasInjectableIntr } from './lapic';
import {
  type NestedFeatures,
  type VmcbControls,
  isIntercept,
  recalcIntercepts,
  vmcbControlsFrom,
} from './nested-svm';
import { KVM_SVM_HOST } from './svm-state';

/** A 32-bit (or narrower) field of the current VMCB (svm->vmcb: vmcb01, or vmcb02 for L2). */
export function vmcbRd(c: KvmContext, offset: number): number {
  return c.svmPort!.read(c.kvm.svm.vmcb, offset, 4);
}

export function vmcbWr(c: KvmContext, offset: number, value: number): void {
  c.svmPort!.write(c.kvm.svm.vmcb, offset, 4, value >>> 0);
}

/** A 64-bit field of the current VMCB (RIP, RSP, RAX, RFLAGS, CRs, EFER, next_rip). */
export function vmcbRd64(c: KvmContext, offset: number): number {
  return c.svmPort!.read(c.kvm.svm.vmcb, offset, 8);
}

export function vmcbWr64(c: KvmContext, offset: number, value: number): void {
  c.svmPort!.write(c.kvm.svm.vmcb, offset, 8, value);
}

/** A 32-bit field of vmcb01 (svm->vmcb01.ptr), whichever VMCB is current. */
export function vmcb01Rd(c: KvmContext, offset: number): number {
  return c.svmPort!.read(KVM_SVM_HOST.VMCB01, offset, 4);
}

export function vmcb01Wr(c: KvmContext, offset: number, value: number): void {
  c.svmPort!.write(KVM_SVM_HOST.VMCB01, offset, 4, value >>> 0);
}

/** is_guest_mode: KVM runs L2 (vmcb02 is current). */
export function isGuestMode(c: KvmContext): boolean {
  return c.kvm.nested.guestMode;
}

/** The control fields of the VMCB at `vmcb` in KVM's memory, as nested.c caches them. */
export function readControls(c: KvmContext, vmcb: number): VmcbControls {
  const p = c.svmPort!;
  return vmcbControlsFrom(
    (o) => p.read(vmcb, o, 4),
    (o) => p.read(vmcb, o, 8),
  );
}

/** What KVM offers L1 of vGIF and vNMI (guest_cpu_cap_has: kvm_amd's vgif and vnmi). */
export function nestedFeatures(c: KvmContext): NestedFeatures {
  const ctl = c.kvm.svm.nested.ctl.intCtl;
  return {
    vgif: (ctl & INT_CTL.V_GIF_ENABLE_MASK) !== 0,
    vnmi: c.kvm.svm.vnmi && (ctl & INT_CTL.V_NMI_ENABLE_MASK) !== 0,
    interceptSmi: true,
  };
}

/**
 * nested_vmcb02_recalc_intercepts: vmcb02's intercepts are vmcb01's merged with vmcb12's
 * (nested-svm.ts recalcIntercepts), after every change KVM makes to vmcb01's in guest mode
 * (svm_mark_intercepts_dirty).
 */
export function recalcVmcb02Intercepts(c: KvmContext): void {
  const vmcb01 = readControls(c, KVM_SVM_HOST.VMCB01);
  const l1If = (c.svmPort!.read(KVM_SVM_HOST.VMCB01, VMCB.RFLAGS, 8) & RFLAGS.IF) !== 0;
  const words = recalcIntercepts(vmcb01, c.kvm.svm.nested.ctl, l1If, nestedFeatures(c));
  const offsets = [
    VMCB.INTERCEPT_CR,
    VMCB.INTERCEPT_DR,
    VMCB.INTERCEPT_EXCEPTIONS,
    VMCB.INTERCEPT,
    VMCB.INTERCEPT_WORD4,
  ];
  offsets.forEach((o, i) => c.svmPort!.write(KVM_SVM_HOST.VMCB02, o, 4, words[i]));
}

/**
 * svm_set_intercept / svm_clr_intercept: every intercept change is made in vmcb01; in guest
 * mode vmcb02's are recalculated from it (svm_mark_intercepts_dirty).
 */
export function svmSetIntercept(c: KvmContext, bit: number): void {
  const at = interceptOffset(bit);
  vmcb01Wr(c, at, vmcb01Rd(c, at) | interceptMask(bit));
  if (isGuestMode(c)) recalcVmcb02Intercepts(c);
}

export function svmClrIntercept(c: KvmContext, bit: number): void {
  const at = interceptOffset(bit);
  vmcb01Wr(c, at, vmcb01Rd(c, at) & ~interceptMask(bit));
  if (isGuestMode(c)) recalcVmcb02Intercepts(c);
}

/** svm_is_intercept: the bit in the current VMCB. */
export function svmIsIntercept(c: KvmContext, bit: number): boolean {
  return (vmcbRd(c, interceptOffset(bit)) & interceptMask(bit)) !== 0;
}

/**
 * is_vnmi_enabled (get_vnmi_vmcb_l1): vmcb01's V_NMI_ENABLE, outside guest mode only; while L2
 * runs, NMIs for L1 are masked in software (nmi_masked and the IRET intercept).
 */
export function isVnmiEnabled(c: KvmContext): boolean {
  if (isGuestMode(c)) return false;
  return (vmcb01Rd(c, VMCB.INT_CTL) & INT_CTL.V_NMI_ENABLE_MASK) !== 0;
}

/**
 * get_vgif_vmcb: the VMCB whose V_GIF is L1's GIF — vmcb02 in guest mode when L1 does not use
 * vGIF itself (nested_vgif_enabled), else vmcb01. init_vmcb always enables vGIF (the lab's
 * processor has it), so HF_GIF_MASK is never used.
 */
function vgifVmcb(c: KvmContext): number {
  if (isGuestMode(c) && !nestedFeatures(c).vgif) return KVM_SVM_HOST.VMCB02;
  return KVM_SVM_HOST.VMCB01;
}

/** gif_set: V_GIF of get_vgif_vmcb. */
export function gifSet(c: KvmContext): boolean {
  return (c.svmPort!.read(vgifVmcb(c), VMCB.INT_CTL, 4) & INT_CTL.V_GIF_MASK) !== 0;
}

/** enable_gif / disable_gif: V_GIF of get_vgif_vmcb. */
function writeGif(c: KvmContext, on: boolean): void {
  const at = vgifVmcb(c);
  const v = c.svmPort!.read(at, VMCB.INT_CTL, 4);
  c.svmPort!.write(at, VMCB.INT_CTL, 4, (on ? v | INT_CTL.V_GIF_MASK : v & ~INT_CTL.V_GIF_MASK) >>> 0);
}

/**
 * svm_set_gif: GIF = 1 drops a VINTR window KVM armed for it (with vGIF the STGI intercept
 * was its window: cleared too) and re-evaluates events if any is pending; GIF = 0 just clears
 * it (the emulated #VMEXIT to L1, a failed nested VMRUN, L1's CLGI when intercepted).
 */
export function svmSetGif(c: KvmContext, on: boolean): void {
  if (on) {
    svmClrIntercept(c, INTERCEPT.INTERCEPT_STGI);
    if (svmIsIntercept(c, INTERCEPT.INTERCEPT_VINTR)) svmClearVintr(c);
    writeGif(c, true);
    const k = c.kvm;
    if (k.nmiPending > 0 || hasInjectableIntr(k)) k.reqEvent = true;
  } else writeGif(c, false);
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

/** nested_exit_on_nmi / nested_exit_on_intr: vmcb12 intercepts NMI (INTR). */
export function nestedExitOnNmi(c: KvmContext): boolean {
  return isIntercept(c.kvm.svm.nested.ctl, INTERCEPT.INTERCEPT_NMI);
}

export function nestedExitOnIntr(c: KvmContext): boolean {
  return isIntercept(c.kvm.svm.nested.ctl, INTERCEPT.INTERCEPT_INTR);
}

/**
 * svm_nmi_blocked: GIF = 0; in guest mode an NMI L1 intercepts is never blocked by L2's state
 * (it becomes a #VMEXIT); else the NMI mask (V_NMI_BLOCKING or nmi_masked) and the interrupt
 * shadow.
 */
export function svmNmiBlocked(c: KvmContext): boolean {
  if (!gifSet(c)) return true;
  if (isGuestMode(c) && nestedExitOnNmi(c)) return false;
  if (svmGetNmiMask(c)) return true;
  return inShadow(c);
}

/**
 * svm_interrupt_blocked: GIF = 0 blocks. In guest mode the IF that gates L1's interrupts is
 * L1's own (vmcb01's saved RFLAGS) when vmcb12 has V_INTR_MASKING, else L2's; an interrupt L1
 * intercepts is not held off by L2's interrupt shadow. Outside guest mode: RFLAGS.IF and the
 * shadow.
 */
export function svmInterruptBlocked(c: KvmContext): boolean {
  if (!gifSet(c)) return true;
  if (isGuestMode(c)) {
    const rflags =
      c.kvm.svm.nested.ctl.intCtl & INT_CTL.V_INTR_MASKING_MASK
        ? c.svmPort!.read(KVM_SVM_HOST.VMCB01, VMCB.RFLAGS, 8)
        : svmGetRflags(c);
    if (!(rflags & RFLAGS.IF)) return true;
    if (nestedExitOnIntr(c)) return false;
  } else if (!(svmGetRflags(c) & RFLAGS.IF)) return true;
  return inShadow(c);
}

/**
 * svm_inject_nmi: EVENTINJ = NMI. Without vNMI the processor does not block further NMIs for
 * an injected one (facts §2.7), so KVM masks them in software and intercepts the guest's IRET;
 * with vNMI the processor sets V_NMI_BLOCKING itself when it delivers the injected NMI.
 */
export function svmInjectNmi(c: KvmContext): void {
  vmcbWr(c, VMCB.EVENT_INJ, EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_NMI);
  // Re-injecting an NMI that L1 injected into L2: not KVM's to mask (svm->nmi_l1_to_l2).
  if (c.kvm.svm.nested.nmiL1ToL2) return;
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
  // In guest mode the recalculation may have dropped it: with vmcb12's V_INTR_MASKING and L1's
  // IF = 0, L1's interrupt window cannot open while L2 runs.
  if (!svmIsIntercept(c, INTERCEPT.INTERCEPT_VINTR)) return;
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
  if (isGuestMode(c)) {
    // L1's own V_IRQ for L2 (vmcb12's) comes back into vmcb02.
    vmcb01Wr(c, VMCB.INT_CTL, vmcb01Rd(c, VMCB.INT_CTL) & ~V_IRQ_INJECTION_BITS);
    const ctl = c.kvm.svm.nested.ctl;
    vmcbWr(c, VMCB.INT_CTL, vmcbRd(c, VMCB.INT_CTL) | (ctl.intCtl & V_IRQ_INJECTION_BITS));
    vmcbWr(c, VMCB.INT_VECTOR, ctl.intVector);
  }
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
