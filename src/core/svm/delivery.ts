// Event delivery in an SVM guest: the exception intercepts (exit 0x40 + vector), EXITINTINFO
// for an event whose delivery an intercept interrupted, NMI masking (real NMIs, EVENTINJ NMIs,
// vNMI) and IRET (AMD APM vol. 2 "Exception Intercepts", "Event Injection" / EXITINTINFO,
// "NMI Virtualization"). cpu/deliver.ts calls these when `h.svm.guest`.
import { EventType } from '../engine/view';
import type { Hart } from '../cpu/hart';
import { EVTINJ, INT_CTL, INTERCEPT, SvmEventType } from './bits';
import { intercepted } from './state';
import { SvmExit } from './exit-codes';
import { svmExit, type SvmExitInfo } from './vmexit';

function isException(type: number): boolean {
  return (
    type === EventType.HW_EXCEPTION || type === EventType.SW_EXCEPTION || type === EventType.PRIV_SW_EXCEPTION
  );
}

/** "Exception Intercepts": is this exception intercepted (intercept vector 2, bit = vector)? */
export function svmExceptionIntercepted(h: Hart, vector: number, type: number): boolean {
  if (!isException(type) || vector > 31) return false;
  return ((h.svm.interceptExceptions >>> vector) & 1) === 1;
}

/** The SVM event-type encoding (EVENTINJ / EXITINTINFO) of a lab event type. */
export function svmEventType(type: number): number {
  switch (type) {
    case EventType.EXTINT:
      return SvmEventType.INTR;
    case EventType.NMI:
      return SvmEventType.NMI;
    case EventType.SW_INT:
      return SvmEventType.SOFT_INT;
    default:
      // Hardware exceptions, INT3/INTO and ICEBP are all exceptions (type 3) on SVM.
      return SvmEventType.EXCEPTION;
  }
}

/** An EXITINTINFO word: vector, type, EV, V. */
export function exitIntInfo(vector: number, type: number, withErr: boolean): number {
  return (
    ((vector & 0xff) |
      (svmEventType(type) << 8) |
      (withErr ? EVTINJ.SVM_EVTINJ_VALID_ERR : 0) |
      EVTINJ.SVM_EVTINJ_VALID) >>>
    0
  );
}

export interface OuterEvent {
  v: number;
  t: number;
  err: number;
  withErr: boolean;
}

/**
 * A #VMEXIT decided while delivering: an intercepted exception (`outer` is the event whose
 * delivery raised it, for EXITINTINFO), or the shutdown intercept (code SHUTDOWN). For the
 * event VMRUN injects it is kept for the next step, so the trace shows the VMRUN, then the
 * #VMEXIT (as the VMX model does).
 */
export function svmDeliveryExit(h: Hart, info: SvmExitInfo, injected: boolean, rip: number): void {
  h.cpu.rip = rip;
  if (!injected) {
    svmExit(h, info);
    return;
  }
  h.svm.pendingExit = {
    code: info.code,
    info1: info.info1 ?? 0,
    info2: info.info2 ?? 0,
    intInfo: info.intInfo ?? 0,
    intErr: info.intErr ?? 0,
  };
}

/** The exit of an intercepted exception: EXITINFO1 = its error code (APM "Exception Intercepts"). */
export function exceptionExitInfo(
  vector: number,
  err: number,
  withErr: boolean,
  outer: OuterEvent | null,
): SvmExitInfo {
  return {
    code: SvmExit.EXCP_BASE + vector,
    info1: withErr ? err >>> 0 : 0,
    intInfo: outer ? exitIntInfo(outer.v, outer.t, outer.withErr) : 0,
    intErr: outer && outer.withErr ? outer.err >>> 0 : 0,
  };
}

/**
 * NMI blocking after an NMI is delivered to the guest: with V_NMI_ENABLE the delivered NMI
 * (virtual or injected) sets V_NMI_MASK; without vNMI an NMI injected through EVENTINJ does
 * not block further NMIs (facts §2.7) while a physical NMI taken by the guest blocks NMIs as
 * on bare metal (until IRET).
 */
export function svmNmiDelivered(h: Hart, injected: boolean): void {
  const svm = h.svm;
  if (svm.intCtl & INT_CTL.V_NMI_ENABLE_MASK) svm.intCtl |= INT_CTL.V_NMI_BLOCKING_MASK;
  else if (!injected) h.cpu.nmiBlocked = true;
}

/** IRET in the guest ends blocking by NMI and, with vNMI, clears V_NMI_MASK. */
export function svmIret(h: Hart): void {
  h.cpu.nmiBlocked = false;
  if (h.svm.intCtl & INT_CTL.V_NMI_ENABLE_MASK) h.svm.intCtl &= ~INT_CTL.V_NMI_BLOCKING_MASK;
}

/**
 * An intercepted exception the guest raised (not during another delivery). AMD APM "Exception
 * Intercepts": EXITINFO1 = the error code. nRIP is written for the exceptions an instruction
 * raises as its effect (INT3, INTO, ICEBP: the return address) and is 0 after the others.
 * `h.cpu.rip` is the RIP to save.
 */
export function svmExceptionExit(
  h: Hart,
  vector: number,
  err: number,
  withErr: boolean,
  nextRip: number,
): void {
  svmExit(h, { ...exceptionExitInfo(vector, err, withErr, null), nextRip });
}

/**
 * An intercepted fault raised while delivering `outer`: EXITINTINFO holds `outer` (a #DF is
 * never reported as interrupting a delivery, as for VMX).
 */
export function svmNestedFaultExit(
  h: Hart,
  vector: number,
  err: number,
  withErr: boolean,
  outer: OuterEvent,
  opts: { injected?: boolean },
  rip: number,
): void {
  const o = vector !== 8 ? outer : null;
  svmDeliveryExit(h, exceptionExitInfo(vector, err, withErr, o), opts.injected === true, rip);
}

/**
 * A fault while delivering #DF in the guest: #NP intercepted (EXITINTINFO = the #DF), else the
 * shutdown, which the SHUTDOWN intercept turns into #VMEXIT(0x7F) (APM "Shutdown Intercept").
 * Returns false when neither is intercepted (the processor shuts down).
 */
export function svmDoubleFaultExit(h: Hart, injected: boolean, rip: number): boolean {
  const NP = 11;
  const DF = 8;
  if (svmExceptionIntercepted(h, NP, EventType.HW_EXCEPTION)) {
    const outer = { v: DF, t: EventType.HW_EXCEPTION, err: 0, withErr: true };
    svmDeliveryExit(h, exceptionExitInfo(NP, (DF << 3) | 3, true, outer), injected, rip);
    return true;
  }
  if (intercepted(h.svm, INTERCEPT.INTERCEPT_SHUTDOWN)) {
    svmDeliveryExit(h, { code: SvmExit.SHUTDOWN }, injected, rip);
    return true;
  }
  return false;
}
