// Instruction intercepts of an SVM guest (AMD APM vol. 2 "Instruction Intercepts", "I/O
// Intercepts", "MSR Intercepts", "CRn/DRn Intercepts"): checked before the instruction
// executes, after its #UD checks. The #VMEXIT saves the instruction's RIP; with NRIPS the
// VMCB's nRIP holds the next instruction's.
import { Op } from '../asm/ir';
import type { DInstr } from '../cpu/decoded';
import type { Hart } from '../cpu/hart';
import { EFER, INTERCEPT } from './bits';
import { SvmExit } from './exit-codes';
import { hostMemory, svmExit } from './vmexit';
import { intercepted } from './state';

/**
 * "MSR Intercepts": the MSR permission map has two bits per MSR (read, then write) for
 * 0000_0000–0000_1FFF (bytes 0x000–0x7FF), C000_0000–C000_1FFF (0x800–0xFFF) and
 * C001_0000–C001_1FFF (0x1000–0x17FF); an MSR outside them is always intercepted.
 */
export function msrIntercepted(h: Hart, msr: number, write: boolean): boolean {
  const m = msr >>> 0;
  let base: number;
  if (m <= 0x1fff) base = 0;
  else if (m >= 0xc0000000 && m <= 0xc0001fff) base = 0x800;
  else if (m >= 0xc0010000 && m <= 0xc0011fff) base = 0x1000;
  else return true;
  const bit = (m & 0x1fff) * 2 + (write ? 1 : 0);
  const bytes = hostMemory(h).bytes;
  const at = h.svm.msrpm + base + (bit >> 3);
  if (at >= bytes.length) return true;
  return ((bytes[at] >> (bit & 7)) & 1) === 1;
}

/** "I/O Intercepts": one IOPM bit per port; an access of n bytes checks the bits of all n ports. */
export function ioIntercepted(h: Hart, port: number, size: number): boolean {
  const bytes = hostMemory(h).bytes;
  for (let p = port; p < port + size; p++) {
    const at = h.svm.iopm + (p >> 3);
    if (at >= bytes.length || (bytes[at] >> (p & 7)) & 1) return true;
  }
  return false;
}

/** EXITINFO1 of an IOIO intercept: TYPE (1 = IN), SZ8/16/32 (bits 4–6), A64 (bit 9), port (31:16). */
function ioExitInfo(isIn: boolean, port: number, size: number): number {
  const sz = size === 1 ? 0x10 : size === 2 ? 0x20 : 0x40;
  return ((port << 16) | 0x200 | sz | (isIn ? 1 : 0)) >>> 0;
}

/** The exit code of an intercepted instruction, or -2 when it is not intercepted. */
function interceptCode(h: Hart, ins: DInstr): { code: number; info1?: number } | null {
  const s = h.svm;
  const svme = (s.efer & EFER.SVME) !== 0;
  switch (ins.op) {
    case Op.CPUID:
      return intercepted(s, INTERCEPT.INTERCEPT_CPUID) ? { code: SvmExit.CPUID } : null;
    case Op.HLT:
      return intercepted(s, INTERCEPT.INTERCEPT_HLT) ? { code: SvmExit.HLT } : null;
    case Op.RDTSC:
      return intercepted(s, INTERCEPT.INTERCEPT_RDTSC) ? { code: SvmExit.RDTSC } : null;
    case Op.RDPMC:
      return intercepted(s, INTERCEPT.INTERCEPT_RDPMC) ? { code: SvmExit.RDPMC } : null;
    case Op.PAUSE:
      return intercepted(s, INTERCEPT.INTERCEPT_PAUSE) ? { code: SvmExit.PAUSE } : null;
    case Op.INVD:
      return intercepted(s, INTERCEPT.INTERCEPT_INVD) ? { code: SvmExit.INVD } : null;
    case Op.WBINVD:
      return intercepted(s, INTERCEPT.INTERCEPT_WBINVD) ? { code: SvmExit.WBINVD } : null;
    case Op.MONITOR:
      return intercepted(s, INTERCEPT.INTERCEPT_MONITOR) ? { code: SvmExit.MONITOR } : null;
    case Op.MWAIT:
      return intercepted(s, INTERCEPT.INTERCEPT_MWAIT) ? { code: SvmExit.MWAIT } : null;
    case Op.INVLPG:
      return intercepted(s, INTERCEPT.INTERCEPT_INVLPG) ? { code: 0x79 } : null;
    case Op.PUSHF:
      return intercepted(s, INTERCEPT.INTERCEPT_PUSHF) ? { code: 0x70 } : null;
    case Op.POPF:
      return intercepted(s, INTERCEPT.INTERCEPT_POPF) ? { code: 0x71 } : null;
    case Op.LIDT:
      return intercepted(s, INTERCEPT.INTERCEPT_LOAD_IDTR) ? { code: 0x6a } : null;
    case Op.IRETQ:
      // "IRET intercept": before the IRET executes (KVM and Xen open their NMI window with it).
      return intercepted(s, INTERCEPT.INTERCEPT_IRET) ? { code: SvmExit.IRET } : null;
    case Op.INT:
      // EXITINFO1 = the vector (decode assists).
      return intercepted(s, INTERCEPT.INTERCEPT_INTn) ? { code: SvmExit.SWINT, info1: ins.n & 0xff } : null;
    case Op.INT1:
      return intercepted(s, INTERCEPT.INTERCEPT_ICEBP) ? { code: SvmExit.ICEBP } : null;
    case Op.VMMCALL:
      return intercepted(s, INTERCEPT.INTERCEPT_VMMCALL) ? { code: SvmExit.VMMCALL } : null;
    // The SVM instructions raise #UD when EFER.SVME = 0, before their intercept is checked.
    case Op.VMRUN:
      return svme && intercepted(s, INTERCEPT.INTERCEPT_VMRUN) ? { code: SvmExit.VMRUN } : null;
    case Op.VMLOAD:
      return svme && intercepted(s, INTERCEPT.INTERCEPT_VMLOAD) ? { code: SvmExit.VMLOAD } : null;
    case Op.VMSAVE:
      return svme && intercepted(s, INTERCEPT.INTERCEPT_VMSAVE) ? { code: SvmExit.VMSAVE } : null;
    case Op.STGI:
      return svme && intercepted(s, INTERCEPT.INTERCEPT_STGI) ? { code: SvmExit.STGI } : null;
    case Op.CLGI:
      return svme && intercepted(s, INTERCEPT.INTERCEPT_CLGI) ? { code: SvmExit.CLGI } : null;
    case Op.RDMSR:
    case Op.WRMSR: {
      if (!intercepted(s, INTERCEPT.INTERCEPT_MSR_PROT)) return null;
      const w = ins.op === Op.WRMSR;
      // EXITINFO1: 0 for RDMSR, 1 for WRMSR.
      return msrIntercepted(h, h.cpu.regs[2], w) ? { code: SvmExit.MSR, info1: w ? 1 : 0 } : null;
    }
    case Op.IN:
    case Op.OUT: {
      if (!intercepted(s, INTERCEPT.INTERCEPT_IOIO_PROT)) return null;
      const isIn = ins.op === Op.IN;
      const p = isIn ? ins.b : ins.a;
      const port = p.k === 1 ? p.lo & 0xff : h.cpu.regs[4] & 0xffff;
      const size = isIn ? ins.a.size : ins.b.size;
      return ioIntercepted(h, port, size)
        ? { code: SvmExit.IOIO, info1: ioExitInfo(isIn, port, size) }
        : null;
    }
    case Op.MOV_FROM_CR:
    case Op.MOV_TO_CR: {
      // Intercept vector 0: CRn reads in bits 15:0, writes in bits 31:16 (no decode assists:
      // EXITINFO1 = 0).
      const write = ins.op === Op.MOV_TO_CR;
      const bit = ins.n + (write ? 16 : 0);
      return (s.interceptCr >>> bit) & 1
        ? { code: (write ? SvmExit.WRITE_CR0 : SvmExit.READ_CR0) + ins.n }
        : null;
    }
    case Op.MOV_FROM_DR:
    case Op.MOV_TO_DR: {
      const write = ins.op === Op.MOV_TO_DR;
      const bit = ins.n + (write ? 16 : 0);
      return (s.interceptDr >>> bit) & 1
        ? { code: (write ? SvmExit.WRITE_DR0 : SvmExit.READ_DR0) + ins.n }
        : null;
    }
    default:
      return null;
  }
}

/** Take the #VMEXIT of an intercepted instruction; false when it is not intercepted. */
export function svmInstructionIntercept(h: Hart, ins: DInstr): boolean {
  const r = interceptCode(h, ins);
  if (!r) return false;
  h.cpu.rip = ins.addr;
  svmExit(h, {
    code: r.code,
    info1: r.info1 ?? 0,
    info2: r.code === SvmExit.IOIO ? ins.addr + ins.len : 0,
    nextRip: ins.addr + ins.len,
  });
  return true;
}
