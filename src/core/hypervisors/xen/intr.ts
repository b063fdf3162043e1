// Interrupt and NMI injection for SVM guests: xen/arch/x86/hvm/svm/intr.c. svm_intr_assist
// runs before every VMRUN (svm_asm_do_resume): it takes the highest pending event, injects it
// if the guest can take it, and otherwise opens a window (a dummy V_IRQ with the VINTR
// intercept, or for an NMI the IRET intercept Xen already set) so that the guest exits as soon
// as it can.
import { EVTINJ, INT_CTL, INTERCEPT, V_INTR_PRIO_SHIFT, interceptMask } from '../../svm/bits';
import { VMCB } from '../../svm/vmcb';
import { type XenContext, type XenStepResult, decide } from './context';
import { Assist, IntBlk, IntSrc, XenFn } from './functions';
import { type HvmIntack, hvmInterruptBlocked, hvmVcpuAckPendingIrq, hvmVcpuHasPendingIrq } from './hvm';

const IRET = interceptMask(INTERCEPT.INTERCEPT_IRET);
const VINTR = interceptMask(INTERCEPT.INTERCEPT_VINTR);

/**
 * svm_inject_nmi: with vNMI (86a203ab8d) set V_NMI and return — the processor delivers it when
 * V_NMI_MASK allows and masks further NMIs itself. Without vNMI, EVENTINJ = valid | NMI |
 * vector 2 (0x80000202), and "SVM does not virtualise the NMI mask, so we emulate it by
 * intercepting the next IRET and blocking NMI injection until the intercept triggers".
 */
export function svmInjectNmi(c: XenContext): number {
  const p = c.port;
  if (c.xen.vnmi) {
    p.write32(VMCB.INT_CTL, p.read32(VMCB.INT_CTL) | INT_CTL.V_NMI_PENDING_MASK);
    return Assist.NMI_VNMI;
  }
  p.write32(VMCB.EVENT_INJ, EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_NMI | 2);
  p.write32(VMCB.INTERCEPT, p.read32(VMCB.INTERCEPT) | IRET);
  return Assist.NMI_EVENTINJ;
}

/** svm_inject_extint: EVENTINJ = valid | external interrupt | vector. */
export function svmInjectExtint(c: XenContext, vector: number): number {
  c.port.write32(VMCB.EVENT_INJ, EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_INTR | vector);
  return Assist.EXTINT;
}

/**
 * svm_enable_intr_window: "Create a dummy virtual interrupt to intercept as soon as the guest
 * can accept the real interrupt": V_IRQ with vector 0, V_INTR_PRIO = the vector's class,
 * V_IGN_TPR unless the source is the vLAPIC, and the VINTR intercept. For an NMI while the
 * IRET intercept is set, nothing: "NMI-blocking window is handled by IRET interception. We
 * should not inject a VINTR in this case as VINTR is unaware of NMI-blocking and hence we can
 * enter an endless loop". Its TODO stands: the window needs EFLAGS.IF = 1, even for an NMI.
 */
export function svmEnableIntrWindow(c: XenContext, intack: HvmIntack): number {
  const p = c.port;
  const general1 = p.read32(VMCB.INTERCEPT);
  if (intack.source === IntSrc.nmi && general1 & IRET) return Assist.WINDOW_IRET;
  let intr = p.read32(VMCB.INT_CTL);
  intr &= ~(INT_CTL.V_INTR_PRIO_MASK | INT_CTL.V_IGN_TPR_MASK);
  intr |= INT_CTL.V_IRQ_MASK | (((intack.vector >> 4) & 0xf) << V_INTR_PRIO_SHIFT);
  if (intack.source !== IntSrc.lapic) intr |= INT_CTL.V_IGN_TPR_MASK;
  p.write32(VMCB.INT_CTL, intr);
  p.write32(VMCB.INT_VECTOR, 0);
  p.write32(VMCB.INTERCEPT, general1 | VINTR);
  return Assist.WINDOW_VINTR;
}

/**
 * svm_intr_assist: loop until an event is taken (hvm_vcpu_ack_pending_irq can find it gone);
 * an event that is blocked, or that would have to wait behind a valid EVENTINJ, opens the
 * window instead. After an injection, a second pending event opens the window for itself.
 * Record: d1 = Assist bits, d2 = source << 16 | hvm_intblk << 8 | vector.
 */
export function svmIntrAssist(c: XenContext): XenStepResult {
  const p = c.port;
  let did = 0;
  let intack: HvmIntack;
  let blk: number = IntBlk.none;
  for (;;) {
    intack = hvmVcpuHasPendingIrq(c);
    if (intack.source === IntSrc.none) return decide(c.h, XenFn.svm_intr_assist, did | Assist.NONE, 0);
    const b = hvmInterruptBlocked(c, intack);
    blk = b.blk;
    if (b.shortCircuited) did |= Assist.SHORT_CIRCUIT;
    const busy = (p.read32(VMCB.EVENT_INJ) & EVTINJ.SVM_EVTINJ_VALID) !== 0;
    if (busy || blk !== IntBlk.none) {
      if (busy) did |= Assist.EVENTINJ_BUSY;
      did |= svmEnableIntrWindow(c, intack);
      return decide(c.h, XenFn.svm_intr_assist, did, code(intack, blk));
    }
    const taken = hvmVcpuAckPendingIrq(c, intack);
    if (taken.source !== IntSrc.none) {
      intack = taken;
      break;
    }
  }
  did |= intack.source === IntSrc.nmi ? svmInjectNmi(c) : svmInjectExtint(c, intack.vector);
  const taken = intack;
  // "Is there another IRQ to queue up behind this one?"
  const next = hvmVcpuHasPendingIrq(c);
  if (next.source !== IntSrc.none) did |= svmEnableIntrWindow(c, next);
  return decide(c.h, XenFn.svm_intr_assist, did, code(taken, blk));
}

function code(intack: HvmIntack, blk: number): number {
  return (intack.source << 16) | (blk << 8) | (intack.vector & 0xff);
}
