// RDMSR/WRMSR for the MSRs this lab models: the TSC, IA32_APIC_BASE, the x2APIC registers
// (cpu/x2apic.ts) and IA32_DEBUGCTL (cpu/debug.ts). Any other MSR raises #GP(0), as on hardware (SDM Vol. 2B "RDMSR", "WRMSR").
import { DEBUGCTL_SUPPORTED, IA32_DEBUGCTL } from './debug';
import type { Hart } from './hart';
import { x2apicRead, x2apicWrite } from './x2apic';
import { svmRdmsr, svmWrmsr } from '../svm/msr';

export { MSR } from './x2apic';

export const msrValue = { lo: 0, hi: 0 };

/** Returns false for #GP. */
export function rdmsr(h: Hart, index: number): boolean {
  if (index === IA32_DEBUGCTL) {
    msrValue.lo = h.cpu.debugctl >>> 0;
    msrValue.hi = 0;
    return true;
  }
  const svm = svmRdmsr(h, index);
  if (svm !== null) {
    msrValue.lo = svm >>> 0;
    msrValue.hi = Math.floor(svm / 0x100000000) >>> 0;
    return true;
  }
  const v = x2apicRead(h.apic, index, h.tsc);
  if (!v) return false;
  msrValue.lo = v[0] >>> 0;
  msrValue.hi = v[1] >>> 0;
  return true;
}

/** Returns false for #GP. An NMI IPI to this processor latches an NMI ("NMI Handling"). */
export function wrmsr(h: Hart, index: number, lo: number, hi: number): boolean {
  // IA32_DEBUGCTL: setting a bit the processor does not support raises #GP(0) (SDM "WRMSR").
  if (index === IA32_DEBUGCTL) {
    if (hi !== 0 || lo & ~DEBUGCTL_SUPPORTED) return false;
    h.cpu.debugctl = lo >>> 0;
    return true;
  }
  const svm = svmWrmsr(h, index, lo, hi);
  if (svm !== null) return svm;
  const r = x2apicWrite(h.apic, index, lo, hi);
  if (r.nmiToSelf) h.cpu.nmiPending = true;
  return r.ok;
}
