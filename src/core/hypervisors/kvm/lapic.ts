// The vCPU's local APIC as KVM emulates it (arch/x86/kvm/lapic.c), in x2APIC mode: the guest's
// RDMSR/WRMSR of the x2APIC registers exit to KVM, which applies them to this state. The
// same IRR/ISR/TPR/PPR rules as the physical APIC (cpu/apic.ts) apply.
import { X2APIC, deliverableVector, requestInterrupt } from '../../cpu/apic';
import { x2apicRead, x2apicWrite } from '../../cpu/x2apic';
import type { KvmState } from './state';

/** kvm_apic_set_irq: a fixed interrupt for the vCPU sets its IRR bit and KVM_REQ_EVENT. */
export function kvmApicSetIrq(kvm: KvmState, vector: number): boolean {
  const ok = requestInterrupt(kvm.lapic, vector);
  if (ok) kvm.reqEvent = true;
  return ok;
}

/** kvm_inject_nmi: one more NMI queued for process_nmi (KVM_REQ_NMI). */
export function kvmInjectNmi(kvm: KvmState): void {
  kvm.nmiQueued++;
  kvm.reqNmi = true;
}

/** kvm_cpu_has_injectable_intr: the emulated APIC has a vector above the PPR. */
export function hasInjectableIntr(kvm: KvmState): boolean {
  return deliverableVector(kvm.lapic) >= 0;
}

/**
 * WRMSR of an x2APIC register by the guest (kvm_x2apic_msr_write → kvm_lapic_reg_write): the
 * register file is the architectural one (cpu/x2apic.ts); KVM adds KVM_REQ_EVENT for TPR, EOI
 * and IRQs, and kvm_inject_nmi for an NMI IPI to itself. Returns false for #GP.
 */
export function x2apicMsrWrite(kvm: KvmState, msr: number, lo: number, hi: number): boolean {
  const r = x2apicWrite(kvm.lapic, msr, lo, hi);
  if (!r.ok) return false;
  if (r.nmiToSelf) kvmInjectNmi(kvm);
  if (r.irq >= 0 || msr === X2APIC.TPR || msr === X2APIC.EOI) kvm.reqEvent = true;
  return true;
}

/** RDMSR of an x2APIC register by the guest; null when KVM does not emulate it (#GP). */
export function x2apicMsrRead(kvm: KvmState, msr: number, tsc: number): [number, number] | null {
  return x2apicRead(kvm.lapic, msr, tsc);
}
