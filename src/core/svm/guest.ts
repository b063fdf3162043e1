// What the processor does at an instruction boundary while an SVM guest runs, in AMD's order
// (AMD APM vol. 2 "Interrupt and Exception Priority" with "Intercepts", "Virtual Interrupts",
// "NMI Virtualization", "Global Interrupt Flag"): a #VMEXIT decided during VMRUN's injection,
// the single-step trap, then — unless an interrupt shadow holds them — physical NMI (its
// intercept, exit 0x61, or delivery to the guest), virtual NMI (V_NMI), physical INTR (its
// intercept, exit 0x60, or delivery), then the virtual interrupt V_IRQ (the VINTR intercept,
// exit 0x64, or delivery of int_vector). Neither exit 0x60 nor 0x61 consumes its event: it
// stays pending at the processor for the host (facts §2.6).
import { EventType } from '../engine/view';
import { acknowledge, deliverableVector } from '../cpu/apic';
import { singleStepDue } from '../cpu/boundary-events';
import { takeDebugTrap } from '../cpu/debug';
import { Vector, deliverEvent } from '../cpu/deliver';
import type { Hart } from '../cpu/hart';
import { RFLAGS, Shadow } from '../cpu/state';
import { HW, beginBoundary, decided, hw, hwApic, hwIntCtl, hwIntercept, nextCheck } from '../causes/why';
import { INT_CTL, INTERCEPT, V_INTR_PRIO_SHIFT } from './bits';
import { SvmExit } from './exit-codes';
import { intercepted } from './state';
import { svmExit } from './vmexit';

export const SvmBoundary = {
  NONE: 0,
  PENDING_EXIT: 1,
  DEBUG_TRAP: 2,
  NMI_EXIT: 3,
  NMI_DELIVERY: 4,
  VNMI_DELIVERY: 5,
  INTR_EXIT: 6,
  INTR_DELIVERY: 7,
  VINTR_EXIT: 8,
  VIRQ_DELIVERY: 9,
} as const;

/**
 * "Physical (INTR) Interrupt Masking in EFLAGS": with V_INTR_MASKING = 1 physical interrupts
 * are masked by the host's IF at VMRUN, else by the guest's IF.
 */
export function physicalIntrMasked(h: Hart): boolean {
  const svm = h.svm;
  if (hwIntCtl(h, INT_CTL.V_INTR_MASKING_MASK, svm.intCtl) & INT_CTL.V_INTR_MASKING_MASK) return !svm.hostIf;
  return !hw(h, HW.RFLAGS_IF, h.cpu.rflags & RFLAGS.IF);
}

/**
 * "Virtual Interrupt Delivery": V_IRQ is taken when the guest's IF = 1 and its priority
 * V_INTR_PRIO is above V_TPR (unless V_IGN_TPR).
 */
export function virqDeliverable(h: Hart): boolean {
  const c = h.svm.intCtl;
  if (
    !(hwIntCtl(h, INT_CTL.V_IRQ_MASK, c) & INT_CTL.V_IRQ_MASK) ||
    !hw(h, HW.RFLAGS_IF, h.cpu.rflags & RFLAGS.IF)
  )
    return false;
  if (hwIntCtl(h, INT_CTL.V_IGN_TPR_MASK, c) & INT_CTL.V_IGN_TPR_MASK) return true;
  return (
    ((hwIntCtl(h, INT_CTL.V_INTR_PRIO_MASK, c) >>> V_INTR_PRIO_SHIFT) & 0xf) >
    (hwIntCtl(h, INT_CTL.V_TPR_MASK, c) & INT_CTL.V_TPR_MASK)
  );
}

/** With vGIF (V_GIF_ENABLE), V_GIF = 0 holds the guest's interrupts and NMIs (docs/svm.md). */
function vgifBlocks(h: Hart): boolean {
  const c = h.svm.intCtl;
  return (c & INT_CTL.V_GIF_ENABLE_MASK) !== 0 && (c & INT_CTL.V_GIF_MASK) === 0;
}

/** The highest-priority event at this boundary of the guest. Pure. */
export function svmBoundaryEvent(h: Hart): number {
  const svm = h.svm;
  const cpu = h.cpu;
  // Each check notes what it reads (causes/why.ts; nothing is noted in a run).
  beginBoundary(h);
  if (hw(h, HW.PENDING_EXIT, svm.pendingExit !== null)) return decided(h, SvmBoundary.PENDING_EXIT);
  nextCheck(h);
  if (hw(h, HW.DEBUG_TRAP, singleStepDue(cpu))) return decided(h, SvmBoundary.DEBUG_TRAP);
  // The interrupt shadow (STI, MOV SS, or int_state at VMRUN; APM "Interrupt Shadows") holds
  // NMIs and interrupts, and with them their intercepts here (lab reading, docs/svm.md).
  nextCheck(h, true);
  if (
    hw(h, HW.SHADOW_STI, cpu.shadow & Shadow.STI) ||
    hw(h, HW.SHADOW_MOVSS, cpu.shadow & Shadow.MOVSS) ||
    vgifBlocks(h)
  )
    return SvmBoundary.NONE;
  // APM "Global Interrupt Flag": GIF = 0 holds INTR, NMI and the virtual interrupt pending, and
  // with them their intercepts. VMRUN sets GIF = 1, but a guest whose VMCB neither intercepts
  // CLGI nor enables vGIF clears the real GIF with its CLGI; its STGI lets the events (and
  // their #VMEXITs) in (kvm-unit-tests svm_intr_intercept_mix_gif / _nmi; Bochs gates the
  // whole external-interrupt step on GIF).
  if (!hw(h, HW.GIF, svm.gif ? 1 : 0)) return SvmBoundary.NONE;
  const c = svm.intCtl;
  nextCheck(h);
  if (hw(h, HW.NMI_PENDING, cpu.nmiPending)) {
    if (hwIntercept(h, INTERCEPT.INTERCEPT_NMI, intercepted(svm, INTERCEPT.INTERCEPT_NMI)))
      return decided(h, SvmBoundary.NMI_EXIT);
    if (!hw(h, HW.NMI_BLOCKED, cpu.nmiBlocked)) return decided(h, SvmBoundary.NMI_DELIVERY);
  }
  // "NMI Virtualization": V_NMI is taken when V_NMI_MASK is clear.
  nextCheck(h);
  if (
    hwIntCtl(h, INT_CTL.V_NMI_ENABLE_MASK, c) & INT_CTL.V_NMI_ENABLE_MASK &&
    hwIntCtl(h, INT_CTL.V_NMI_PENDING_MASK, c) & INT_CTL.V_NMI_PENDING_MASK &&
    !(hwIntCtl(h, INT_CTL.V_NMI_BLOCKING_MASK, c) & INT_CTL.V_NMI_BLOCKING_MASK)
  )
    return decided(h, SvmBoundary.VNMI_DELIVERY);
  nextCheck(h);
  if (hwApic(h, deliverableVector(h.apic)) >= 0 && !physicalIntrMasked(h)) {
    if (hwIntercept(h, INTERCEPT.INTERCEPT_INTR, intercepted(svm, INTERCEPT.INTERCEPT_INTR)))
      return decided(h, SvmBoundary.INTR_EXIT);
    return decided(h, SvmBoundary.INTR_DELIVERY);
  }
  nextCheck(h);
  if (virqDeliverable(h)) {
    // "the VINTR intercept occurs instead of and before the delivery" (facts §2.6).
    if (hwIntercept(h, INTERCEPT.INTERCEPT_VINTR, intercepted(svm, INTERCEPT.INTERCEPT_VINTR)))
      return decided(h, SvmBoundary.VINTR_EXIT);
    return decided(h, SvmBoundary.VIRQ_DELIVERY);
  }
  return SvmBoundary.NONE;
}

/** Act on the boundary's event; true when something happened (`h.out` holds it). */
export function svmBoundary(h: Hart): boolean {
  const svm = h.svm;
  const cpu = h.cpu;
  switch (svmBoundaryEvent(h)) {
    case SvmBoundary.PENDING_EXIT: {
      const p = svm.pendingExit!;
      svmExit(h, { code: p.code, info1: p.info1, info2: p.info2, intInfo: p.intInfo, intErr: p.intErr });
      return true;
    }
    case SvmBoundary.DEBUG_TRAP:
      deliverEvent(h, Vector.DB, EventType.HW_EXCEPTION, 0, cpu.rip, { debugCause: takeDebugTrap(cpu) });
      return true;
    case SvmBoundary.NMI_EXIT:
      svmExit(h, { code: SvmExit.NMI });
      return true;
    case SvmBoundary.NMI_DELIVERY:
      cpu.nmiPending = false;
      deliverEvent(h, Vector.NMI, EventType.NMI, 0, cpu.rip);
      return true;
    case SvmBoundary.VNMI_DELIVERY:
      svm.intCtl &= ~INT_CTL.V_NMI_PENDING_MASK;
      deliverEvent(h, Vector.NMI, EventType.NMI, 0, cpu.rip);
      return true;
    case SvmBoundary.INTR_EXIT:
      svmExit(h, { code: SvmExit.INTR });
      return true;
    case SvmBoundary.INTR_DELIVERY: {
      const v = deliverableVector(h.apic);
      acknowledge(h.apic, v);
      deliverEvent(h, v, EventType.EXTINT, 0, cpu.rip);
      return true;
    }
    case SvmBoundary.VINTR_EXIT:
      svmExit(h, { code: SvmExit.VINTR });
      return true;
    case SvmBoundary.VIRQ_DELIVERY:
      // Taking the virtual interrupt clears V_IRQ; it has no APIC state.
      svm.intCtl &= ~INT_CTL.V_IRQ_MASK;
      deliverEvent(h, svm.intVector, EventType.EXTINT, 0, cpu.rip);
      return true;
    default:
      return false;
  }
}

/** Whether anything at this boundary ends the guest's HLT (a delivery or a #VMEXIT). */
export function svmWakes(h: Hart): boolean {
  return svmBoundaryEvent(h) !== SvmBoundary.NONE;
}
