// RDMSR/WRMSR for the MSRs this lab models: the TSC, IA32_APIC_BASE and the x2APIC registers.
// Any other MSR raises #GP(0), as on hardware (SDM Vol. 2B "RDMSR", "WRMSR").
import { ICR, X2APIC, decodeIcr, eoi, ppr, requestInterrupt } from './apic';
import type { Hart } from './hart';

export const MSR = { TSC: 0x10, APIC_BASE: 0x1b } as const;

export const msrValue = { lo: 0, hi: 0 };

/** Returns false for #GP. */
export function rdmsr(h: Hart, index: number): boolean {
  const a = h.apic;
  let lo = 0,
    hi = 0;
  if (index === MSR.TSC) {
    lo = h.tsc >>> 0;
    hi = Math.floor(h.tsc / 0x100000000) >>> 0;
  } else if (index === MSR.APIC_BASE) {
    // Base 0xFEE00000, BSP (bit 8), x2APIC enable (bit 10), APIC global enable (bit 11).
    lo = 0xfee00000 | (1 << 8) | (1 << 10) | (1 << 11);
  } else if (index === X2APIC.ID) lo = a.id;
  else if (index === X2APIC.VERSION) lo = 0x50014;
  else if (index === X2APIC.TPR) lo = a.tpr;
  else if (index === X2APIC.PPR) lo = ppr(a);
  else if (index >= X2APIC.ISR0 && index < X2APIC.ISR0 + 8) lo = a.isr[index - X2APIC.ISR0];
  else if (index >= X2APIC.IRR0 && index < X2APIC.IRR0 + 8) lo = a.irr[index - X2APIC.IRR0];
  else if (index === X2APIC.ESR) lo = a.esr;
  else if (index === X2APIC.ICR) {
    lo = a.icrLo;
    hi = a.icrHi;
  } else return false;
  msrValue.lo = lo >>> 0;
  msrValue.hi = hi >>> 0;
  return true;
}

/** Returns false for #GP. */
export function wrmsr(h: Hart, index: number, lo: number, hi: number): boolean {
  const a = h.apic;
  switch (index) {
    case X2APIC.TPR:
      a.tpr = lo & 0xff;
      return true;
    case X2APIC.EOI:
      // "x2APIC Register Address Space": a non-zero write to the EOI register raises #GP.
      if (lo !== 0 || hi !== 0) return false;
      eoi(a);
      return true;
    case X2APIC.ESR:
      a.esr = 0;
      return true;
    case X2APIC.ICR: {
      a.icrLo = lo >>> 0;
      a.icrHi = hi >>> 0;
      const icr = decodeIcr(a, lo, hi);
      if (!icr.toSelf) return true; // no other processor in this machine: the IPI goes nowhere
      if (icr.mode === ICR.MODE_NMI) h.cpu.nmiPending = true;
      else if (icr.mode === ICR.MODE_FIXED) {
        if (!requestInterrupt(a, icr.vector)) a.esr |= 1 << 5; // "Send Illegal Vector"
      }
      return true;
    }
    case X2APIC.SELF_IPI:
      // "SELF IPI Register": a fixed, edge-triggered interrupt to this processor.
      if (!requestInterrupt(a, lo & 0xff)) a.esr |= 1 << 5;
      return true;
    default:
      return false;
  }
}
