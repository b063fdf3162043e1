// The x2APIC registers as RDMSR/WRMSR see them (SDM Vol. 3A "x2APIC Register Address Space"),
// for any local APIC: the processor's own (cpu/msr.ts) and the one KVM emulates for its vCPU
// (hypervisors/kvm/lapic.ts). Pure functions of the APIC state; what an IPI to this processor
// does beyond the IRR (an NMI) is left to the caller.
import { type ApicState, ICR, X2APIC, decodeIcr, eoi, ppr, requestInterrupt } from './apic';

export const MSR = { TSC: 0x10, APIC_BASE: 0x1b } as const;

/** RDMSR: [EAX, EDX], or null for #GP (an MSR this lab does not model). */
export function x2apicRead(a: ApicState, index: number, tsc: number): [number, number] | null {
  if (index === MSR.TSC) return [tsc >>> 0, Math.floor(tsc / 0x100000000) >>> 0];
  // Base 0xFEE00000, BSP (bit 8), x2APIC enable (bit 10), APIC global enable (bit 11).
  if (index === MSR.APIC_BASE) return [(0xfee00000 | (1 << 8) | (1 << 10) | (1 << 11)) >>> 0, 0];
  if (index === X2APIC.ID) return [a.id, 0];
  if (index === X2APIC.VERSION) return [0x50014, 0];
  if (index === X2APIC.TPR) return [a.tpr, 0];
  if (index === X2APIC.PPR) return [ppr(a), 0];
  if (index >= X2APIC.ISR0 && index < X2APIC.ISR0 + 8) return [a.isr[index - X2APIC.ISR0] >>> 0, 0];
  if (index >= X2APIC.IRR0 && index < X2APIC.IRR0 + 8) return [a.irr[index - X2APIC.IRR0] >>> 0, 0];
  if (index === X2APIC.ESR) return [a.esr, 0];
  if (index === X2APIC.ICR) return [a.icrLo, a.icrHi];
  return null;
}

export interface X2apicWriteResult {
  /** false: #GP (a read-only or unmodelled register, or a non-zero EOI). */
  ok: boolean;
  /** An NMI IPI to this processor was sent: the caller latches it. */
  nmiToSelf: boolean;
  /** A fixed vector set in this APIC's IRR by a self-IPI, or -1. */
  irq: number;
  /** The vector an EOI took out of the ISR, or -1. */
  eoiVector: number;
}

/** WRMSR of an x2APIC register. */
export function x2apicWrite(a: ApicState, index: number, lo: number, hi: number): X2apicWriteResult {
  const r: X2apicWriteResult = { ok: true, nmiToSelf: false, irq: -1, eoiVector: -1 };
  switch (index) {
    case X2APIC.TPR:
      a.tpr = lo & 0xff;
      return r;
    case X2APIC.EOI:
      // "x2APIC Register Address Space": a non-zero write to the EOI register raises #GP.
      if (lo !== 0 || hi !== 0) return { ...r, ok: false };
      r.eoiVector = eoi(a);
      return r;
    case X2APIC.ESR:
      a.esr = 0;
      return r;
    case X2APIC.ICR: {
      // "Interrupt Command Register (ICR)": only this processor can be a destination here;
      // an IPI to another goes nowhere.
      a.icrLo = lo >>> 0;
      a.icrHi = hi >>> 0;
      const icr = decodeIcr(a, lo, hi);
      if (!icr.toSelf) return r;
      if (icr.mode === ICR.MODE_NMI) r.nmiToSelf = true;
      else if (icr.mode === ICR.MODE_FIXED) {
        if (requestInterrupt(a, icr.vector)) r.irq = icr.vector;
        else a.esr |= 1 << 5; // "Send Illegal Vector"
      }
      return r;
    }
    case X2APIC.SELF_IPI:
      // "SELF IPI Register": a fixed, edge-triggered interrupt to this processor.
      if (requestInterrupt(a, lo & 0xff)) r.irq = lo & 0xff;
      else a.esr |= 1 << 5;
      return r;
    default:
      return { ...r, ok: false };
  }
}
