// The vendor-neutral HVM code the SVM interrupt path calls (xen/arch/x86/hvm/hvm.c, irq.c,
// vlapic.c): which event is pending for the vCPU, whether it is blocked and why, and taking it.
// Only the SVM hooks (svm_get_interrupt_shadow) look at the VMCB.
import { RFLAGS } from '../../cpu/state';
import { acknowledge, highestIrr, highestIsr } from '../../cpu/apic';
import { INT_CTL, INT_STATE, INTERCEPT, interceptMask } from '../../svm/bits';
import { VMCB } from '../../svm/vmcb';
import { hypervisorNote } from '../../causes/why';
import type { XenContext } from './context';
import { IntBlk, IntSrc } from './functions';
import { XEN_HOST } from './port';

// The inputs of Xen's decisions, noted while a step is explained (docs/causes.md): a variable
// of the vCPU by Xen's name, or a bit of its VMCB as the byte and bit in Xen's memory (so the
// step that set it is the write that changed that byte: Xen's own, or the processor's #VMEXIT).

function xenRead(c: XenContext, name: string, value: boolean): boolean {
  if (c.h.why) hypervisorNote(c.h, c.port.lane, { k: 'xen', lane: c.port.lane, name }, value ? 1 : 0, 'Xen');
  return value;
}

function vmcbBit(c: XenContext, offset: number, mask: number, label: string, value: number): number {
  if (c.h.why) {
    const bit = 31 - Math.clz32(mask & -mask);
    const addr = XEN_HOST.VMCB + offset + (bit >> 3);
    const what = { k: 'mem' as const, lane: c.port.lane, addr, bit: bit & 7, name: `${label} of Xen's VMCB` };
    hypervisorNote(c.h, c.port.lane, what, value & mask ? 1 : 0, 'Xen');
  }
  return value;
}

/** struct hvm_intack: the source and its vector (2 for an NMI). */
export interface HvmIntack {
  source: number;
  vector: number;
}

export const INTACK_NONE: HvmIntack = { source: IntSrc.none, vector: 0 };

/** HVM_INTR_SHADOW_* (asm/hvm/hvm.h). */
export const HVM_INTR_SHADOW = { STI: 1, MOV_SS: 2, SMI: 4, NMI: 8 } as const;

/**
 * vlapic_has_pending_irq (vlapic.c): the highest vector in the IRR, unless it is not above the
 * priority class of the highest in-service vector (the TPR is checked later, by
 * hvm_interrupt_blocked).
 */
export function vlapicHasPendingIrq(c: XenContext): number {
  const a = c.xen.vlapic;
  const irr = highestIrr(a);
  if (irr < 0) return -1;
  const isr = highestIsr(a);
  if (isr >= 0 && (irr & 0xf0) <= (isr & 0xf0)) return -1;
  return irr;
}

/**
 * hvm_vcpu_has_pending_irq (irq.c): an NMI first (v->arch.nmi_pending), then the vLAPIC. The
 * model has no PIC, no MCE and no event-channel callback vector.
 */
export function hvmVcpuHasPendingIrq(c: XenContext): HvmIntack {
  if (xenRead(c, 'nmi_pending', c.xen.nmiPending)) return { source: IntSrc.nmi, vector: 2 };
  const v = vlapicHasPendingIrq(c);
  if (v >= 0) return { source: IntSrc.lapic, vector: v };
  return INTACK_NONE;
}

/**
 * svm_get_interrupt_shadow (svm/svm.c): the VMCB's interrupt shadow counts as both STI and
 * MOV-SS blocking; the NMI "shadow" is Xen's own: without vNMI the IRET intercept being set
 * (Xen's only record that an NMI handler runs), with vNMI the hardware's V_NMI_MASK
 * (86a203ab8d).
 */
export function svmGetInterruptShadow(c: XenContext): number {
  const p = c.port;
  let shadow = 0;
  const shadowMask = INT_STATE.SVM_INTERRUPT_SHADOW_MASK;
  if (
    vmcbBit(c, VMCB.INT_STATE, shadowMask, 'int_state.INTERRUPT_SHADOW', p.read32(VMCB.INT_STATE)) &
    shadowMask
  )
    shadow |= HVM_INTR_SHADOW.STI | HVM_INTR_SHADOW.MOV_SS;
  const iret = interceptMask(INTERCEPT.INTERCEPT_IRET);
  const nmiMasked = xenRead(c, 'vnmi', c.xen.vnmi)
    ? (vmcbBit(c, VMCB.INT_CTL, INT_CTL.V_NMI_BLOCKING_MASK, 'int_ctl.V_NMI_MASK', p.read32(VMCB.INT_CTL)) &
        INT_CTL.V_NMI_BLOCKING_MASK) !==
      0
    : (vmcbBit(c, VMCB.INTERCEPT, iret, 'intercept IRET (the fake NMI shadow)', p.read32(VMCB.INTERCEPT)) &
        iret) !==
      0;
  if (nmiMasked) shadow |= HVM_INTR_SHADOW.NMI;
  return shadow;
}

/**
 * hvm_interrupt_blocked (hvm.c): an interrupt (not an NMI) is blocked by the guest's
 * RFLAGS.IF = 0; any event by the STI/MOV-SS shadow; an NMI by the NMI shadow; a vLAPIC
 * interrupt by the TPR. With vNMI, 86a203ab8d short-circuits the NMI shadow: a second NMI is
 * not "blocked", so it is handed to the hardware (V_NMI) instead of opening a window that
 * cannot work (lab reading of the commit's "short circuit this to not consider NMIs blocked",
 * docs/xen.md). `shortCircuited` reports whether that happened.
 */
export function hvmInterruptBlocked(
  c: XenContext,
  intack: HvmIntack,
): { blk: number; shortCircuited: boolean } {
  const p = c.port;
  if (
    intack.source !== IntSrc.nmi &&
    !(vmcbBit(c, VMCB.RFLAGS, RFLAGS.IF, 'save.rflags.IF', p.read32(VMCB.RFLAGS)) & RFLAGS.IF)
  )
    return { blk: IntBlk.rflags_ie, shortCircuited: false };
  const shadow = svmGetInterruptShadow(c);
  if (shadow & (HVM_INTR_SHADOW.STI | HVM_INTR_SHADOW.MOV_SS))
    return { blk: IntBlk.shadow, shortCircuited: false };
  if (intack.source === IntSrc.nmi) {
    if (!(shadow & HVM_INTR_SHADOW.NMI)) return { blk: IntBlk.none, shortCircuited: false };
    if (c.xen.vnmi && c.options.vnmiShortCircuit) return { blk: IntBlk.none, shortCircuited: true };
    return { blk: IntBlk.nmi_iret, shortCircuited: false };
  }
  if (intack.source === IntSrc.lapic) {
    const tpr = c.xen.vlapic.tpr & 0xf0;
    if (tpr >> 4 >= intack.vector >> 4) return { blk: IntBlk.tpr, shortCircuited: false };
  }
  return { blk: IntBlk.none, shortCircuited: false };
}

/**
 * hvm_vcpu_ack_pending_irq (irq.c): take the event. An NMI clears nmi_pending; a vLAPIC
 * interrupt moves from the IRR to the ISR (vlapic_ack_pending_irq).
 */
export function hvmVcpuAckPendingIrq(c: XenContext, intack: HvmIntack): HvmIntack {
  if (intack.source === IntSrc.nmi) {
    if (!c.xen.nmiPending) return INTACK_NONE;
    c.xen.nmiPending = false;
    return intack;
  }
  if (intack.source === IntSrc.lapic) {
    acknowledge(c.xen.vlapic, intack.vector);
    return intack;
  }
  return INTACK_NONE;
}
