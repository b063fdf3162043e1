// The way back from L2 in KVM's nested SVM (arch/x86/kvm/svm/nested.c): what the processor
// wrote into vmcb02 is synced into KVM's copy of vmcb12 after every exit of L2
// (nested_sync_control_from_vmcb02); an exit L1 intercepts, or an event for L1 while L2 runs
// (svm_check_nested_events), becomes the #VMEXIT L1 sees: vmcb12 written back, GIF = 0, L1
// resumed after its VMRUN (nested_svm_vmexit). The way in is nested-svm-run.ts.
import { hasErrorCode } from '../../cpu/deliver';
import type { Memory } from '../../cpu/memory';
import { CR0, RFLAGS, RSP } from '../../cpu/state';
import { EventType } from '../../engine/view';
import { EVTINJ, INT_CTL, INTERCEPT } from '../../svm/bits';
import { SvmExit } from '../../svm/exit-codes';
import { VMCB } from '../../svm/vmcb';
import { wr32, wr64 } from '../../svm/vmcb-memory';
import type { KvmContext } from './context';
import { hasInjectableIntr } from './lapic';
import { isIntercept } from './nested-svm';
import type { NestedCheck } from './nested-events';
import { DR6_ACTIVE_LOW, SEGMENT_SPANS, copyToL1, l1Memory, regPair, setRegPair } from './nested-svm-run';
import { KvmPhase, queueKvmException } from './state';
import {
  nestedExitOnIntr,
  nestedExitOnNmi,
  nestedFeatures,
  svmGetRflags,
  svmInterruptBlocked,
  svmIsIntercept,
  svmNmiBlocked,
  svmSetGif,
  vmcb01Rd,
  vmcb01Wr,
  vmcbRd,
  vmcbRd64,
  vmcbWr,
  vmcbWr64,
} from './svm';
import { KVM_SVM_HOST } from './svm-state';

/**
 * nested_sync_control_from_vmcb02 (svm_vcpu_run, after every exit of L2): what the processor
 * wrote into vmcb02's controls goes back into KVM's copy of vmcb12's — EVENTINJ, int_state, and
 * of int_ctl V_IRQ (unless KVM's own window had taken it over) and V_TPR, V_GIF when L1 uses
 * vGIF, V_NMI_BLOCKING and V_NMI_PENDING when L1 uses vNMI.
 */
export function nestedSyncControlFromVmcb02(c: KvmContext): void {
  const n = c.kvm.svm.nested;
  const ctl = n.ctl;
  ctl.eventInj = vmcbRd(c, VMCB.EVENT_INJ);
  ctl.eventInjErr = vmcbRd(c, VMCB.EVENT_INJ_ERR);
  ctl.intState = vmcbRd(c, VMCB.INT_STATE);
  let mask = INT_CTL.V_IRQ_MASK | INT_CTL.V_TPR_MASK;
  // svm_is_intercept: the current VMCB's (vmcb02's) VINTR intercept.
  if (svmIsIntercept(c, INTERCEPT.INTERCEPT_VINTR) && !isIntercept(ctl, INTERCEPT.INTERCEPT_VINTR))
    mask &= ~INT_CTL.V_IRQ_MASK;
  const f = nestedFeatures(c);
  if (f.vgif) mask |= INT_CTL.V_GIF_MASK;
  if (f.vnmi) mask |= INT_CTL.V_NMI_BLOCKING_MASK | INT_CTL.V_NMI_PENDING_MASK;
  ctl.intCtl = ((ctl.intCtl & ~mask) | (vmcbRd(c, VMCB.INT_CTL) & mask)) >>> 0;
}

/**
 * nested_save_pending_event_to_vmcb12: the event KVM was injecting into L2 (re-queued from
 * vmcb02's EXITINTINFO by svm_complete_interrupts) becomes vmcb12's EXITINTINFO.
 */
function pendingEventInfo(c: KvmContext, m: Memory, vmcb12: number): number {
  const k = c.kvm;
  if (k.exceptionInjected) {
    const v = k.exceptionVector;
    // exception.has_error_code: as EXITINTINFO had it for a re-queued one, else by the vector.
    const withErr = k.svm.requeuedHasError ?? hasErrorCode(v, EventType.HW_EXCEPTION);
    if (withErr) wr32(m, vmcb12 + VMCB.EXIT_INT_INFO_ERR, k.exceptionErrorCode);
    return (
      (v |
        EVTINJ.SVM_EVTINJ_VALID |
        EVTINJ.SVM_EVTINJ_TYPE_EXEPT |
        (withErr ? EVTINJ.SVM_EVTINJ_VALID_ERR : 0)) >>>
      0
    );
  }
  if (k.nmiInjected) return (EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_NMI) >>> 0;
  if (k.irqInjected)
    return (
      (k.irqVector |
        EVTINJ.SVM_EVTINJ_VALID |
        (k.irqSoft ? EVTINJ.SVM_EVTINJ_TYPE_SOFT : EVTINJ.SVM_EVTINJ_TYPE_INTR)) >>>
      0
    );
  return 0;
}

/**
 * nested_svm_vmexit: the #VMEXIT L1 sees, from vmcb02's exit information (the processor's, or
 * what KVM wrote for an exit it synthesizes). vmcb12 gets L2's state, int_state, EXITCODE,
 * EXITINFO1/2, EXITINTINFO (the event being injected into L2), nRIP, EVENTINJ = 0 and int_ctl;
 * vmcb01 becomes current with GIF = 0 (and with vNMI L2's NMI blocking and KVM's pending NMI);
 * L1 resumes after its VMRUN with its registers from vmcb01 and DR7 = 0x400; what was being
 * injected into L2 is dropped.
 */
export function nestedSvmVmexit(c: KvmContext): void {
  const { kvm } = c;
  const s = kvm.svm;
  const n = s.nested;
  const port = c.svmPort!;
  const m = l1Memory(c);
  const vmcb12 = n.vmcb12Gpa;
  const V02 = KVM_SVM_HOST.VMCB02;
  // nested_svm_vmexit_update_vmcb12.
  for (const [o, len] of SEGMENT_SPANS) copyToL1(c, m, V02, vmcb12, o, len);
  copyToL1(c, m, V02, vmcb12, 0x4cb, 1);
  wr64(m, vmcb12 + VMCB.EFER, s.efer);
  for (const o of [VMCB.CR0, VMCB.CR3, VMCB.CR2, VMCB.CR4, VMCB.DR7, VMCB.DR6, VMCB.RIP])
    wr64(m, vmcb12 + o, port.read(V02, o, 8));
  wr64(m, vmcb12 + VMCB.RFLAGS, svmGetRflags(c));
  wr64(m, vmcb12 + VMCB.RSP, regPair(c, RSP));
  wr32(m, vmcb12 + VMCB.RAX, kvm.guestRegs[0]);
  wr32(m, vmcb12 + VMCB.RAX + 4, kvm.guestRegs[1]);
  wr32(m, vmcb12 + VMCB.INT_STATE, port.read(V02, VMCB.INT_STATE, 4));
  const code = port.read(V02, VMCB.EXIT_CODE, 4);
  wr32(m, vmcb12 + VMCB.EXIT_CODE, code);
  wr32(m, vmcb12 + VMCB.EXIT_CODE_HI, port.read(V02, VMCB.EXIT_CODE_HI, 4));
  wr64(m, vmcb12 + VMCB.EXIT_INFO_1, port.read(V02, VMCB.EXIT_INFO_1, 8));
  wr64(m, vmcb12 + VMCB.EXIT_INFO_2, port.read(V02, VMCB.EXIT_INFO_2, 8));
  if (code !== SvmExit.ERR >>> 0) wr32(m, vmcb12 + VMCB.EXIT_INT_INFO, pendingEventInfo(c, m, vmcb12));
  wr64(m, vmcb12 + VMCB.NEXT_RIP, port.read(V02, VMCB.NEXT_RIP, 8));
  wr32(m, vmcb12 + VMCB.EVENT_INJ, 0);
  wr32(m, vmcb12 + VMCB.EVENT_INJ_ERR, 0);
  wr32(m, vmcb12 + VMCB.INT_CTL, n.ctl.intCtl);
  // Leave guest mode, vmcb01 current again.
  kvm.nested.guestMode = false;
  kvm.nested.runPending = false;
  n.vmcb12Gpa = 0;
  kvm.halted = false; // "in case we halted in L2"
  const intr02 = port.read(V02, VMCB.INT_CTL, 4);
  s.vmcb = KVM_SVM_HOST.VMCB01;
  if (!isIntercept(n.ctl, INTERCEPT.INTERCEPT_INTR)) kvm.reqEvent = true;
  if (s.vnmi) {
    let v01 = vmcb01Rd(c, VMCB.INT_CTL);
    v01 =
      intr02 & INT_CTL.V_NMI_BLOCKING_MASK
        ? v01 | INT_CTL.V_NMI_BLOCKING_MASK
        : v01 & ~INT_CTL.V_NMI_BLOCKING_MASK;
    if (kvm.nmiPending > 0) {
      kvm.nmiPending--;
      v01 |= INT_CTL.V_NMI_PENDING_MASK;
    } else v01 &= ~INT_CTL.V_NMI_PENDING_MASK;
    vmcb01Wr(c, VMCB.INT_CTL, v01);
  }
  // "On vmexit the GIF is set to false and no event can be injected in L1."
  svmSetGif(c, false);
  vmcbWr(c, VMCB.EXIT_INT_INFO, 0);
  // Restore L1's processor state from vmcb01: RFLAGS, EFER, CR0 | PE, CR4, RAX, RSP, RIP.
  const v01 = KVM_SVM_HOST.VMCB01;
  s.efer = port.read(v01, VMCB.EFER, 4);
  port.write(v01, VMCB.CR0, 8, (port.read(v01, VMCB.CR0, 8) | CR0.PE) >>> 0);
  setRegPair(c, 0, port.read(v01, VMCB.RAX, 8));
  setRegPair(c, RSP, port.read(v01, VMCB.RSP, 8));
  // svm->vcpu.arch.dr7 = DR7_FIXED_1: L1's breakpoints are off after the #VMEXIT, as the
  // processor's (APM "#VMEXIT").
  port.write(v01, VMCB.DR7, 8, 0x400);
  port.write(v01, 0x4cb, 1, 0);
  n.nmiL1ToL2 = false;
  kvm.nmiInjected = false;
  kvm.exceptionPending = false;
  kvm.exceptionInjected = false;
  kvm.exceptionPayload = 0;
  kvm.irqInjected = false;
  // A VMRUN single-stepped by L1: its #DB comes before L1's next instruction.
  if (port.read(v01, VMCB.RFLAGS, 8) & RFLAGS.TF) queueKvmException(kvm, 1);
  if (hasInjectableIntr(kvm) || kvm.nmiPending > 0) kvm.reqEvent = true;
  kvm.phase = KvmPhase.ENTER;
}

/** nested_svm_simple_vmexit: a synthesized exit (EXITCODE, EXITINFO1/2 = 0) reflected to L1. */
function simpleVmexit(c: KvmContext, code: number, info1 = 0): NestedCheck {
  vmcbWr(c, VMCB.EXIT_CODE, code);
  vmcbWr(c, VMCB.EXIT_CODE_HI, 0);
  vmcbWr64(c, VMCB.EXIT_INFO_1, info1);
  vmcbWr64(c, VMCB.EXIT_INFO_2, 0);
  nestedSvmVmexit(c);
  return { r: 'exit', reason: code, intrInfo: 0 };
}

/**
 * nested_svm_inject_exception_vmexit: EXITCODE = the exception's; EXITINFO1 = its error code
 * when it has one (else left as the last exit wrote it); #PF: EXITINFO2 = the payload or CR2;
 * #DB: the payload goes into DR6 first (kvm_deliver_exception_payload) and DR7.GD is cleared.
 */
function exceptionVmexit(c: KvmContext, v: number): NestedCheck {
  const kvm = c.kvm;
  const payload = kvm.exceptionPayload;
  kvm.exceptionPending = false;
  kvm.exceptionPayload = 0;
  const code = SvmExit.EXCP_BASE + v;
  vmcbWr(c, VMCB.EXIT_CODE, code);
  vmcbWr(c, VMCB.EXIT_CODE_HI, 0);
  if (hasErrorCode(v, EventType.HW_EXCEPTION)) vmcbWr64(c, VMCB.EXIT_INFO_1, kvm.exceptionErrorCode);
  if (v === 14) vmcbWr64(c, VMCB.EXIT_INFO_2, payload || vmcbRd64(c, VMCB.CR2));
  else if (v === 1) {
    if (payload) {
      let dr6 = ((vmcbRd64(c, VMCB.DR6) & ~0xf) | DR6_ACTIVE_LOW | payload) >>> 0;
      dr6 = (dr6 ^ (payload & DR6_ACTIVE_LOW)) & ~0x1000;
      vmcbWr64(c, VMCB.DR6, dr6 >>> 0);
    }
    vmcbWr64(c, VMCB.DR7, vmcbRd64(c, VMCB.DR7) & ~DR7_GD);
  }
  nestedSvmVmexit(c);
  return { r: 'exit', reason: code, intrInfo: 0 };
}

/** DR7.GD (general detect). */
const DR7_GD = 1 << 13;

/**
 * svm_check_nested_events: an exception queued for L2 that L1 intercepts becomes its #VMEXIT
 * (nested_svm_inject_exception_vmexit; blocked only by a pending nested run); then NMI and INTR
 * for L1, if L1 intercepts them, once not blocked (GIF, L1's IF), as SVM_EXIT_NMI / _INTR —
 * the NMI or interrupt stays pending, taken by L1 after its STGI, as on the processor; they wait
 * (-EBUSY) while a nested run is pending or an event is being re-injected.
 */
export function svmCheckNestedEvents(c: KvmContext): NestedCheck {
  const { kvm } = c;
  const blockExceptions = kvm.nested.runPending;
  const blockEvents = blockExceptions || kvm.exceptionInjected || kvm.nmiInjected || kvm.irqInjected;
  const busy = (): NestedCheck => ({ r: 'busy', why: blockExceptions ? 'run-pending' : 'reinjection' });
  const ctl = kvm.svm.nested.ctl;
  if (kvm.exceptionPending) {
    const v = kvm.exceptionVector;
    if ((ctl.intercepts[2] >>> v) & 1) {
      if (blockExceptions) return busy();
      return exceptionVmexit(c, v);
    }
    if (blockExceptions) return busy();
    return { r: 'none' };
  }
  if (kvm.nmiPending > 0 && !svmNmiBlocked(c)) {
    if (blockEvents) return busy();
    if (!nestedExitOnNmi(c)) return { r: 'none' };
    return simpleVmexit(c, SvmExit.NMI);
  }
  if (hasInjectableIntr(kvm) && !svmInterruptBlocked(c)) {
    if (blockEvents) return busy();
    if (!nestedExitOnIntr(c)) return { r: 'none' };
    return simpleVmexit(c, SvmExit.INTR);
  }
  return { r: 'none' };
}
