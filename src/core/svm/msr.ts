// The SVM MSRs (AMD APM vol. 2 "SVM Related MSRs"): EFER (C000_0080) with SVME (bit 12),
// VM_HSAVE_PA (C001_0117, 4 KiB aligned) and VM_CR (C001_0114, read as 0: SVM not disabled).
import type { Hart } from '../cpu/hart';
import { EFER, EFER_VALID, MSR_EFER, MSR_VM_CR, MSR_VM_HSAVE_PA } from './bits';

/** The value of an SVM MSR, or null for another MSR. */
export function svmRdmsr(h: Hart, index: number): number | null {
  // An Intel processor has IA32_EFER (no SVME) and none of AMD's SVM MSRs.
  if (!h.svm.available) return index >>> 0 === MSR_EFER ? h.svm.efer : null;
  switch (index >>> 0) {
    case MSR_EFER:
      return h.svm.efer;
    case MSR_VM_HSAVE_PA:
      return h.svm.hsavePa;
    case MSR_VM_CR:
      return 0;
    default:
      return null;
  }
}

/** Write an SVM MSR: true done, false #GP, null for another MSR. */
export function svmWrmsr(h: Hart, index: number, lo: number, hi: number): boolean | null {
  if (!h.svm.available && index >>> 0 !== MSR_EFER) return null;
  switch (index >>> 0) {
    case MSR_EFER:
      // Reserved bits are #GP; LME/LMA stay as they are (the lab runs in 64-bit mode).
      if (hi !== 0 || lo & ~EFER_VALID || (!h.svm.available && lo & EFER.SVME)) return false;
      h.svm.efer = ((lo & ~0x500) | (h.svm.efer & 0x500)) >>> 0;
      return true;
    case MSR_VM_HSAVE_PA:
      // "VM_HSAVE_PA": bits 11:0 must be zero (#GP).
      if (lo & 0xfff) return false;
      h.svm.hsavePa = hi * 0x100000000 + (lo >>> 0);
      return true;
    case MSR_VM_CR:
      return true;
    default:
      return null;
  }
}
