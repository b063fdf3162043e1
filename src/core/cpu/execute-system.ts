// Execution of the instructions of issue 10 item 6 in 64-bit mode at CPL 0, each per its SDM
// Vol. 2 page: DIV/IDIV, IN/OUT, WBINVD, INVLPG, RDPMC, RDRAND, MONITOR/MWAIT, CPUID and MOV
// to/from CR0/CR3/CR4/CR8. (UD2, INTO and INT1 raise events and live in execute.ts.) VM exits
// were decided before (vmx/non-root-system.ts); here an instruction that did not exit runs.
import { Op } from '../asm/ir';
import { guestCrMerge, guestCrRead } from '../vmx/non-root-system';
import { movToCrFaults, readCr, writeCr } from './control-regs';
import { cpuidLeaf, PMU_FIXED_COUNTERS, PMU_GP_COUNTERS } from './cpuid';
import { amdCpuidLeaf } from '../svm/cpuid';
import { effectiveAddress } from './address';
import type { DInstr } from './decoded';
import type { Hart } from './hart';
import { ioRead, ioWrite } from './io-space';
import { loaded, read } from './memory';
import { ARITH_FLAGS, Activity, RFLAGS } from './state';

/** What execute.ts does next: retire and go on, or deliver the fault in `sysFault`. */
export const Sys = { NEXT: 0, FAULT: 1, UNKNOWN: 2 } as const;

/** The fault a Sys.FAULT outcome raises: vector and error code. */
export const sysFault = { vector: 0, errorCode: 0 };

function faultWith(vector: number, errorCode = 0): number {
  sysFault.vector = vector;
  sysFault.errorCode = errorCode;
  return Sys.FAULT;
}

const DE = 0;
const GP = 13;
const TWO32 = 0x100000000;

/** Write the low `size` bytes of register `r` (1 and 2 keep the other bits; 4 zero-extends). */
function setLow(h: Hart, r: number, size: number, v: number, shift = 0): void {
  const regs = h.cpu.regs;
  if (size === 4) {
    regs[2 * r] = v >>> 0;
    regs[2 * r + 1] = 0;
    return;
  }
  const mask = (size === 1 ? 0xff : 0xffff) << shift;
  regs[2 * r] = ((regs[2 * r] & ~mask) | ((v << shift) & mask)) >>> 0;
}

function reg64(h: Hart, r: number): bigint {
  return (BigInt(h.cpu.regs[2 * r + 1]) << 32n) | BigInt(h.cpu.regs[2 * r]);
}

function setReg64(h: Hart, r: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  h.cpu.regs[2 * r] = Number(u & 0xffffffffn);
  h.cpu.regs[2 * r + 1] = Number(u >> 32n);
}

/**
 * "DIV—Unsigned Divide" / "IDIV—Signed Divide": AX, DX:AX, EDX:EAX or RDX:RAX by the operand;
 * quotient to AL/AX/EAX/RAX, remainder to AH/DX/EDX/RDX. #DE when the divisor is 0 or the
 * quotient does not fit (IDIV truncates toward zero; the remainder has the dividend's sign).
 * The flags are undefined: the lab leaves them unchanged (docs/model.md).
 */
function divide(h: Hart, ins: DInstr, signed: boolean): number {
  const a = ins.a;
  const size = a.size;
  const bits = BigInt(size * 8);
  let divisor: bigint;
  if (a.k === 0) divisor = size === 8 ? reg64(h, a.reg) : BigInt(h.cpu.regs[2 * a.reg]);
  else {
    read(h.mem, effectiveAddress(h, a), size);
    divisor = (BigInt(loaded.hi) << 32n) | BigInt(loaded.lo >>> 0);
  }
  const rax = reg64(h, 0);
  const rdx = reg64(h, 2);
  let dividend: bigint;
  if (size === 1) dividend = rax & 0xffffn;
  else dividend = ((rdx & ((1n << bits) - 1n)) << bits) | (rax & ((1n << bits) - 1n));
  if (signed) {
    dividend = BigInt.asIntN(Number(bits) * 2, dividend);
    divisor = BigInt.asIntN(Number(bits), divisor);
  }
  if (divisor === 0n) return faultWith(DE);
  const q = dividend / divisor;
  const r = dividend % divisor;
  const fits = signed ? q >= -(1n << (bits - 1n)) && q < 1n << (bits - 1n) : q < 1n << bits;
  if (!fits) return faultWith(DE);
  const qu = BigInt.asUintN(Number(bits), q);
  const ru = BigInt.asUintN(Number(bits), r);
  if (size === 8) {
    setReg64(h, 0, qu);
    setReg64(h, 2, ru);
  } else if (size === 1) {
    setLow(h, 0, 1, Number(qu));
    setLow(h, 0, 1, Number(ru), 8);
  } else {
    setLow(h, 0, size, Number(qu));
    setLow(h, 2, size, Number(ru));
  }
  return Sys.NEXT;
}

/**
 * The lab's RDRAND source: a SplitMix64 sequence indexed by the number of values drawn, so that
 * a run (and a seek or a replay) gets the same values every time.
 */
export function rdrandValue(n: number): bigint {
  let z = BigInt.asUintN(64, BigInt(n + 1) * 0x9e3779b97f4a7c15n);
  z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
  z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
  return z ^ (z >> 31n);
}

/** MOV to CRn: in non-root operation CR0/CR4 keep their host-owned bits. */
function movToCr(h: Hart, ins: DInstr): number {
  const cpu = h.cpu;
  const cr = ins.n;
  let lo = cpu.regs[2 * ins.a.reg];
  let hi = cpu.regs[2 * ins.a.reg + 1];
  if (h.vmx.nonRoot && (cr === 0 || cr === 4)) [lo, hi] = guestCrMerge(h, cr, readCr(h, cr), lo, hi);
  if (movToCrFaults(h, cr, lo, hi, h.vmx.on)) return faultWith(GP);
  writeCr(h, cr, lo, hi);
  return Sys.NEXT;
}

/** MOV from CRn: in non-root operation CR0/CR4 read their host-owned bits from the read shadow. */
function movFromCr(h: Hart, ins: DInstr): number {
  const cr = ins.n;
  const v = readCr(h, cr);
  let lo = v >>> 0;
  let hi = Math.floor(v / TWO32) >>> 0;
  if (h.vmx.nonRoot && (cr === 0 || cr === 4)) [lo, hi] = guestCrRead(h, cr, v);
  h.cpu.regs[2 * ins.a.reg] = lo;
  h.cpu.regs[2 * ins.a.reg + 1] = hi;
  return Sys.NEXT;
}

/** Execute one of the instructions of this module; Sys.UNKNOWN for any other op. */
export function executeSystem(h: Hart, ins: DInstr): number {
  const cpu = h.cpu;
  const regs = cpu.regs;
  switch (ins.op) {
    case Op.DIV:
    case Op.IDIV:
      return divide(h, ins, ins.op === Op.IDIV);
    case Op.IN: {
      // "IN—Input from Port": AL/AX/EAX from the port (imm8 or DX); EAX zero-extends into RAX.
      const port = ins.b.k === 1 ? ins.b.lo & 0xff : regs[4] & 0xffff;
      setLow(h, 0, ins.a.size, ioRead(port, ins.a.size));
      return Sys.NEXT;
    }
    case Op.OUT: {
      const port = ins.a.k === 1 ? ins.a.lo & 0xff : regs[4] & 0xffff;
      const size = ins.b.size;
      ioWrite(port, size, size === 4 ? regs[0] : regs[0] & (size === 2 ? 0xffff : 0xff));
      return Sys.NEXT;
    }
    case Op.WBINVD:
    case Op.INVD:
    case Op.INVLPG:
      // No caches and no TLB in the model: nothing visible happens (the VM exits still do).
      // "INVD": privileged (#GP(0) above CPL 0), and the lab's code always runs at CPL 0.
      return Sys.NEXT;
    case Op.RDPMC: {
      // "RDPMC": ECX[31:30] = 00b selects a general-purpose counter, 01b a fixed one; any other
      // index is #GP(0). At CPL 0 CR4.PCE does not matter. The lab's counters do not count: 0.
      const ecx = regs[2];
      const index = ecx & 0x3fffffff;
      const type = ecx >>> 30;
      if (!((type === 0 && index < PMU_GP_COUNTERS) || (type === 1 && index < PMU_FIXED_COUNTERS)))
        return faultWith(GP);
      regs[0] = regs[1] = regs[4] = regs[5] = 0;
      return Sys.NEXT;
    }
    case Op.RDRAND: {
      // "RDRAND": a random value and CF = 1; OF, SF, ZF, AF, PF cleared.
      const v = rdrandValue(cpu.rdrandCount++);
      if (ins.a.size === 8) setReg64(h, ins.a.reg, v);
      else setLow(h, ins.a.reg, 4, Number(v & 0xffffffffn));
      cpu.rflags = (cpu.rflags & ~ARITH_FLAGS) | RFLAGS.CF;
      return Sys.NEXT;
    }
    case Op.MONITOR:
      // "MONITOR": arms address monitoring at RAX; ECX holds extensions, none supported: #GP.
      if (regs[2] !== 0) return faultWith(GP);
      cpu.monitorArmed = true;
      return Sys.NEXT;
    case Op.MWAIT:
      // "MWAIT": ECX[31:1] reserved (#GP); without an armed MONITOR it does nothing. Otherwise
      // the processor waits like HLT (the lab's HLT activity state) until an event; with
      // ECX[0] = 1 a pending interrupt ends the wait even when IF = 0 (docs/model.md).
      if (regs[2] >>> 1 !== 0) return faultWith(GP);
      if (!cpu.monitorArmed) return Sys.NEXT;
      cpu.monitorArmed = false;
      cpu.activity = Activity.HLT;
      cpu.inMwait = true;
      cpu.mwaitBreak = (regs[2] & 1) === 1;
      return Sys.NEXT;
    case Op.CPUID: {
      const r = h.svm.available ? amdCpuidLeaf(regs[0], h.svm.features) : cpuidLeaf(regs[0]);
      for (let i = 0; i < 4; i++) {
        // EAX, EBX, ECX, EDX are registers 0, 3, 1, 2.
        const reg = [0, 3, 1, 2][i];
        regs[2 * reg] = r[i] >>> 0;
        regs[2 * reg + 1] = 0;
      }
      return Sys.NEXT;
    }
    case Op.MOV_TO_CR:
      return movToCr(h, ins);
    case Op.MOV_FROM_CR:
      return movFromCr(h, ins);
    default:
      return Sys.UNKNOWN;
  }
}
