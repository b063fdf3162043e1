// The vCPU's local APIC as KVM emulates it (arch/x86/kvm/lapic.c), in x2APIC mode: the guest's
// RDMSR/WRMSR of the x2APIC registers exit to KVM, which applies them to this state. The
// same IRR/ISR/TPR/PPR rules as the physical APIC (cpu/apic.ts) apply.
import { ICR, X2APIC, decodeIcr, deliverableVector, eoi, ppr, requestInterrupt } from '../../cpu/apic';
import type { KvmState } from './state';

export interface MsrWriteEffect {
  /** What happened, for the explanation. */
  what: string;
  /** The write is not to an emulated register: KVM injects #GP. */
  gp: boolean;
}

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

/** WRMSR of an x2APIC register by the guest (kvm_x2apic_msr_write → kvm_lapic_reg_write). */
export function x2apicMsrWrite(kvm: KvmState, msr: number, lo: number, hi: number): MsrWriteEffect {
  const a = kvm.lapic;
  switch (msr) {
    case X2APIC.TPR:
      a.tpr = lo & 0xff;
      kvm.reqEvent = true;
      return { what: `TPR ← 0x${a.tpr.toString(16)} (PPR 0x${ppr(a).toString(16)})`, gp: false };
    case X2APIC.EOI: {
      const v = eoi(a);
      kvm.reqEvent = true;
      return {
        what: v >= 0 ? `EOI: vector 0x${v.toString(16)} leaves the ISR` : 'EOI with nothing in service',
        gp: false,
      };
    }
    case X2APIC.ICR: {
      a.icrLo = lo >>> 0;
      a.icrHi = hi >>> 0;
      const icr = decodeIcr(a, lo, hi);
      if (!icr.toSelf) return { what: 'IPI to another vCPU (none in this VM)', gp: false };
      if (icr.mode === ICR.MODE_NMI) {
        kvmInjectNmi(kvm);
        return { what: 'self-IPI, NMI delivery: kvm_inject_nmi (nmi_queued + 1, KVM_REQ_NMI)', gp: false };
      }
      kvmApicSetIrq(kvm, icr.vector);
      return { what: `self-IPI, vector 0x${icr.vector.toString(16)}: IRR bit set, KVM_REQ_EVENT`, gp: false };
    }
    case X2APIC.SELF_IPI:
      kvmApicSetIrq(kvm, lo & 0xff);
      return {
        what: `SELF IPI, vector 0x${(lo & 0xff).toString(16)}: IRR bit set, KVM_REQ_EVENT`,
        gp: false,
      };
    case X2APIC.ESR:
      a.esr = 0;
      return { what: 'ESR cleared', gp: false };
    default:
      return { what: `MSR 0x${msr.toString(16)} is not emulated`, gp: true };
  }
}

/** RDMSR of an x2APIC register by the guest; null when KVM does not emulate it (#GP). */
export function x2apicMsrRead(kvm: KvmState, msr: number, tsc: number): [number, number] | null {
  const a = kvm.lapic;
  if (msr === 0x10) return [tsc >>> 0, Math.floor(tsc / 0x100000000) >>> 0];
  if (msr === 0x1b) return [(0xfee00000 | (1 << 8) | (1 << 10) | (1 << 11)) >>> 0, 0];
  if (msr === X2APIC.ID) return [0, 0];
  if (msr === X2APIC.VERSION) return [0x50014, 0];
  if (msr === X2APIC.TPR) return [a.tpr, 0];
  if (msr === X2APIC.PPR) return [ppr(a), 0];
  if (msr >= X2APIC.ISR0 && msr < X2APIC.ISR0 + 8) return [a.isr[msr - X2APIC.ISR0], 0];
  if (msr >= X2APIC.IRR0 && msr < X2APIC.IRR0 + 8) return [a.irr[msr - X2APIC.IRR0], 0];
  if (msr === X2APIC.ESR) return [a.esr, 0];
  if (msr === X2APIC.ICR) return [a.icrLo, a.icrHi];
  return null;
}
