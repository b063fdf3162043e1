// The control registers CR0, CR3, CR4 and CR8 in 64-bit mode, as MOV to and from them reads
// and writes them (SDM Vol. 2B "MOV—Move to/from Control Registers", Vol. 3A "Control
// Registers", Vol. 3C "VMX-Fixed Bits in CR0" / "...in CR4"). Values are 64-bit, held as two
// unsigned 32-bit halves. CR8 is the local APIC's TPR[7:4] (SDM "Task Priority in IA-32e Mode").
import type { Hart } from './hart';
import { CR0, CR4 } from './state';

/** An SVM guest with V_INTR_MASKING reads and writes V_TPR as CR8, not the APIC's TPR. */
function svmCr8IsVtpr(h: Hart): boolean {
  return h.svm.guest && (h.svm.intCtl & (1 << 24)) !== 0;
}

/** The CR0 bits that exist; the other low bits are reserved and read as 0, ET is always 1. */
export const CR0_DEFINED =
  (CR0.PE | CR0.MP | CR0.EM | CR0.TS | CR0.ET | CR0.NE | CR0.WP | CR0.AM | CR0.NW | CR0.CD | CR0.PG) >>> 0;

/**
 * The CR4 bits the lab's processor supports: VME, PVI, TSD, DE, PSE, PAE, MCE, PGE, PCE,
 * OSFXSR, OSXMMEXCPT, UMIP, VMXE, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE. Others (LA57, SMXE,
 * CET...) are reserved: setting one is #GP(0).
 */
export const CR4_SUPPORTED = 0x00772fff;

/** MAXPHYADDR (CPUID.80000008H:EAX[7:0]): CR3 bits 63:36 are reserved. */
export const MAXPHYADDR = 36;

/** IA32_VMX_CR0_FIXED0 / CR4_FIXED0: bits that must be 1 in VMX operation (no unrestricted guest). */
export const VMX_CR0_FIXED0 = (CR0.PE | CR0.NE | CR0.PG) >>> 0;
export const VMX_CR4_FIXED0 = CR4.VMXE;
/** IA32_VMX_CR0_FIXED1 / CR4_FIXED1: bits that may be 1 in VMX operation (low halves). */
export const VMX_CR0_FIXED1 = 0xffffffff;
export const VMX_CR4_FIXED1 = CR4_SUPPORTED;

/** A control register's value as a JS number (CR3 stays below 2^36). */
export function readCr(h: Hart, cr: number): number {
  const c = h.cpu;
  switch (cr) {
    case 0:
      return c.cr0;
    case 3:
      return c.cr3;
    case 4:
      return c.cr4;
    default:
      // With V_INTR_MASKING an SVM guest's CR8 is V_TPR (AMD APM "Virtual Interrupt Control").
      if (svmCr8IsVtpr(h)) return h.svm.intCtl & 0xf;
      return (h.apic.tpr >>> 4) & 0xf; // CR8 = TPR[7:4]
  }
}

/**
 * The #GP(0) checks of MOV to CRn in 64-bit mode at CPL 0 for the value `lo`/`hi` (for CR0
 * and CR4 in VMX non-root operation: the value after the host-owned bits were kept). Returns
 * true when the move faults. `vmxOn`: in VMX operation the VMX-fixed bits must keep their values.
 */
export function movToCrFaults(h: Hart, cr: number, lo: number, hi: number, vmxOn: boolean): boolean {
  const c = h.cpu;
  switch (cr) {
    case 0: {
      // Bits 63:32 reserved; PG without PE; NW without CD; clearing PG in 64-bit mode (IA-32e
      // mode would be left) or while CR4.PCIDE = 1.
      if (hi !== 0) return true;
      const v = lo >>> 0;
      if (v & CR0.PG && !(v & CR0.PE)) return true;
      if (v & CR0.NW && !(v & CR0.CD)) return true;
      if (!(v & CR0.PG)) return true;
      if (vmxOn && (v & VMX_CR0_FIXED0) >>> 0 !== VMX_CR0_FIXED0) return true;
      return false;
    }
    case 3:
      // Bits 63:MAXPHYADDR reserved; with CR4.PCIDE = 1, bit 63 is the no-flush hint instead.
      return ((c.cr4 & CR4.PCIDE ? hi & 0x7fffffff : hi) & ~((1 << (MAXPHYADDR - 32)) - 1)) !== 0;
    case 4: {
      if (hi !== 0 || (lo & ~CR4_SUPPORTED) !== 0) return true;
      // CR4.VMXE is reserved on an AMD processor (arch "svm", docs/svm.md).
      if (h.svm.available && lo & CR4.VMXE) return true;
      // Leaving IA-32e mode by clearing PAE; PCIDE 0 -> 1 with CR3[11:0] != 0.
      if (!(lo & CR4.PAE)) return true;
      if (lo & CR4.PCIDE && !(c.cr4 & CR4.PCIDE) && (c.cr3 & 0xfff) !== 0) return true;
      if (vmxOn && (lo & VMX_CR4_FIXED0) !== VMX_CR4_FIXED0) return true;
      return false;
    }
    default:
      return hi !== 0 || (lo & ~0xf) !== 0; // CR8: bits 63:4 reserved
  }
}

/** MOV to CRn once the checks passed. */
export function writeCr(h: Hart, cr: number, lo: number, hi: number): void {
  const c = h.cpu;
  switch (cr) {
    case 0:
      c.cr0 = ((lo & CR0_DEFINED) | CR0.ET) >>> 0;
      break;
    case 3:
      c.cr3 = (hi & ((1 << (MAXPHYADDR - 32)) - 1)) * 0x100000000 + (lo >>> 0);
      break;
    case 4:
      c.cr4 = lo >>> 0;
      break;
    default:
      if (svmCr8IsVtpr(h)) h.svm.intCtl = ((h.svm.intCtl & ~0xf) | (lo & 0xf)) >>> 0;
      else h.apic.tpr = (lo & 0xf) << 4;
  }
}
