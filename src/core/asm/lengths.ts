// Instruction lengths: the byte count of each instruction's usual x86-64 encoding, the
// shortest form NASM would pick (Intel SDM Vol. 2, "Instruction Format": prefixes, REX,
// opcode, ModR/M, SIB, displacement, immediate). Nothing is encoded; only the length is
// needed, so that addresses, VM_EXIT_INSTRUCTION_LEN and "RIP after the instruction"
// are those of real code. The rules are tabulated in docs/assembly.md.

import { Op } from './ir';

/** An operand as far as its length is concerned; a null value is not known yet. */
export type LenOperand =
  | { k: 'reg'; reg: number; size: number }
  | { k: 'imm'; value: bigint | null }
  | { k: 'mem'; base: number; index?: number; disp: bigint | null; size: number }
  | { k: 'cl' };

const RSP = 4;
const RBP = 5;
const R12 = 12;
const R13 = 13;

/** Lab instructions are as long as a call to a helper that would implement them. */
export const LAB_INSTRUCTION_LENGTH = 5;

/** REX: needed for a 64-bit operand size (REX.W) or to reach r8–r15 (REX.R/X/B). */
function rex(size: number, ...ops: (LenOperand | null)[]): number {
  if (size === 8) return 1;
  for (const o of ops) {
    if (o?.k === 'reg' && o.reg >= 8) return 1;
    if (o?.k === 'mem' && (o.base >= 8 || (o.index ?? -1) >= 8)) return 1;
  }
  return 0;
}

/** The operand-size prefix 0x66 of a 16-bit operation. */
function opsize(size: number): number {
  return size === 2 ? 1 : 0;
}

function fitsInt8(v: bigint): boolean {
  return v >= -128n && v <= 127n;
}

/** Does the immediate fit a sign-extended imm8 at this operand size? Unknown values do. */
function immFitsInt8(value: bigint | null, size: number): boolean {
  return value === null || fitsInt8(BigInt.asIntN(Math.min(size, 8) * 8, value));
}

/**
 * ModR/M, plus SIB and displacement for a memory operand. An index register needs a SIB byte;
 * without a base it is SIB.base = 101b with mod = 00: a disp32 always follows.
 */
function modrm(o: LenOperand): number {
  if (o.k !== 'mem') return 1;
  const indexed = (o.index ?? -1) >= 0;
  if (o.base < 0) return indexed ? 1 + 1 + 4 : 1 + 4; // [index*scale + disp32] / RIP-relative disp32
  const sib = indexed || o.base === RSP || o.base === R12 ? 1 : 0;
  const needsDisp = o.base === RBP || o.base === R13; // mod=00 with these bases means "no base"
  let disp: number;
  if (o.disp === null) disp = needsDisp ? 1 : 0;
  else if (o.disp === 0n && !needsDisp) disp = 0;
  else disp = fitsInt8(BigInt.asIntN(64, o.disp)) ? 1 : 4;
  return 1 + sib + disp;
}

function sizeOf(o: LenOperand): number {
  return o.k === 'reg' || o.k === 'mem' ? o.size : 8;
}

/** Bytes of an immediate that is not an imm8: imm8 for byte operations, imm16, else imm32. */
function fullImm(size: number): number {
  return size === 1 ? 1 : size === 2 ? 2 : 4;
}

/** MOV r, imm: B8+r id (zero-extends to 64 bits), REX.W C7 /0 id (sign-extends), REX.W B8+r io. */
function movRegImm(a: { reg: number; size: number }, value: bigint | null): number {
  const short = 5 + (a.reg >= 8 ? 1 : 0);
  if (a.size === 4 || value === null) return short;
  const v = BigInt.asIntN(64, value);
  if (v >= 0n && v < 1n << 32n) return short;
  if (v >= -(1n << 31n) && v < 1n << 31n) return 7;
  return 10;
}

/**
 * Length of a non-branch instruction (for JMP/Jcc: the short form). `cr` is the control
 * register of MOV to or from CRn (CR8 needs REX.R).
 */
export function instrLength(op: Op, a: LenOperand | null, b: LenOperand | null, cr = 0): number {
  switch (op) {
    case Op.UD2: // 0F 0B
    case Op.WBINVD: // 0F 09
    case Op.INVD: // 0F 08
    case Op.RDPMC: // 0F 33
      return 2;
    case Op.INT1: // F1
    case Op.INTO: // CE
      return 1;
    case Op.MONITOR: // 0F 01 C8
    case Op.MWAIT: // 0F 01 C9
      return 3;
    case Op.DIV: // F7 /6 (F6 /6 for a byte)
    case Op.IDIV: // F7 /7 (F6 /7)
      return a === null ? 0 : opsize(sizeOf(a)) + rex(sizeOf(a), a) + 1 + modrm(a);
    case Op.IN: // E4/E5 ib, EC/ED; 66 for AX
      return a === null || b === null ? 0 : opsize(sizeOf(a)) + (b.k === 'imm' ? 2 : 1);
    case Op.OUT: // E6/E7 ib, EE/EF; 66 for AX
      return a === null || b === null ? 0 : opsize(sizeOf(b)) + (a.k === 'imm' ? 2 : 1);
    case Op.INVLPG: // 0F 01 /7
      return a === null ? 0 : rex(4, a) + 2 + modrm(a);
    case Op.RDRAND: // 0F C7 /6 (REX.W for r64)
      return a === null ? 0 : rex(sizeOf(a), a) + 2 + 1;
    case Op.MOV_TO_CR: // 0F 22 /r: 64-bit operand without REX.W; REX.R for CR8, REX.B for r8–r15
    case Op.MOV_FROM_CR: // 0F 20 /r
      return a === null ? 0 : (cr >= 8 || (a.k === 'reg' && a.reg >= 8) ? 1 : 0) + 3;
    case Op.MOV:
      if (a === null || b === null) return 0;
      if (a.k === 'reg' && b.k === 'imm') return movRegImm(a, b.value);
      if (b.k === 'imm') return opsize(sizeOf(a)) + rex(sizeOf(a), a) + 1 + modrm(a) + fullImm(sizeOf(a));
      // 89 /r or 8B /r
      return rex(sizeOf(a), a, b) + 1 + modrm(a.k === 'mem' ? a : b);
    case Op.LEA:
      return b === null ? 0 : 1 + 1 + modrm(b); // REX.W 8D /r
    case Op.ADD:
    case Op.SUB:
    case Op.AND:
    case Op.OR:
    case Op.XOR:
    case Op.CMP: {
      if (a === null || b === null) return 0;
      const size = sizeOf(a);
      if (b.k !== 'imm') return rex(size, a, b) + 1 + modrm(a.k === 'mem' ? a : b);
      if (size === 1) return rex(size, a) + 1 + modrm(a) + 1; // 80 /n ib
      if (immFitsInt8(b.value, size)) return opsize(size) + rex(size, a) + 1 + modrm(a) + 1; // 83 /n ib
      if (a.k === 'reg' && a.reg === 0) return rex(size, a) + 1 + 4; // op eAX, id
      return opsize(size) + rex(size, a) + 1 + modrm(a) + fullImm(size); // 81 /n id
    }
    case Op.TEST: {
      if (a === null || b === null) return 0;
      const size = sizeOf(a);
      if (b.k !== 'imm') return rex(size, a, b) + 1 + modrm(a); // 85 /r
      if (a.k === 'reg' && a.reg === 0) return rex(size, a) + 1 + 4; // A9 id
      return opsize(size) + rex(size, a) + 1 + modrm(a) + fullImm(size); // F7 /0 id
    }
    case Op.SHL:
    case Op.SHR: {
      if (a === null || b === null) return 0;
      const size = sizeOf(a);
      const base = opsize(size) + rex(size, a) + 1 + modrm(a); // D1 /4 (by 1) or D3 /4 (by CL)
      if (b.k === 'imm' && b.value !== null && b.value !== 1n) return base + 1; // C1 /4 ib
      return base;
    }
    case Op.INC:
    case Op.DEC:
      return a === null ? 0 : opsize(sizeOf(a)) + rex(sizeOf(a), a) + 1 + modrm(a); // FF /0, FF /1
    case Op.PUSH:
    case Op.POP:
      if (a === null) return 0;
      if (a.k === 'reg') return 1 + (a.reg >= 8 ? 1 : 0); // 50+r / 58+r, REX.B for r8–r15
      if (a.k === 'imm') return immFitsInt8(a.value, 8) ? 2 : 5; // 6A ib / 68 id
      return rex(4, a) + 1 + modrm(a); // FF /6, 8F /0: 64-bit by default
    case Op.MOV_SS:
      return a?.k === 'reg' && a.reg >= 8 ? 3 : 2; // 8E /r
    case Op.MOV_TO_DR: // 0F 23 /r
    case Op.MOV_FROM_DR: // 0F 21 /r: REX.B for r8–r15 (the register is in r/m)
      return a?.k === 'reg' && a.reg >= 8 ? 4 : 3;
    case Op.JMP:
    case Op.JCC:
      return 2;
    case Op.CALL:
      return 5; // E8 cd
    case Op.PAUSE: // F3 90
    case Op.IRETQ: // 48 CF
    case Op.INT: // CD ib
    case Op.RDTSC: // 0F 31
    case Op.RDMSR: // 0F 32
    case Op.WRMSR: // 0F 30
      return 2;
    case Op.WORK:
    case Op.ASSERT:
    case Op.SKIP:
      return LAB_INSTRUCTION_LENGTH;
    case Op.CPUID: // 0F A2
      return 2;
    case Op.VMLAUNCH: // 0F 01 C2
    case Op.VMRESUME: // 0F 01 C3
    case Op.VMXOFF: // 0F 01 C4
    case Op.VMCALL: // 0F 01 C1
    case Op.VMRUN: // 0F 01 D8
    case Op.VMMCALL: // 0F 01 D9
    case Op.VMLOAD: // 0F 01 DA
    case Op.VMSAVE: // 0F 01 DB
    case Op.STGI: // 0F 01 DC
    case Op.CLGI: // 0F 01 DD
      return 3;
    case Op.LIDT: // 0F 01 /3
    case Op.VMPTRLD: // 0F C7 /6
      return a === null ? 0 : rex(4, a) + 2 + modrm(a);
    case Op.VMXON: // F3 0F C7 /6
    case Op.VMCLEAR: // 66 0F C7 /6
      return a === null ? 0 : 1 + rex(4, a) + 2 + modrm(a);
    // 64-bit operands without REX.W. A field given by name (an immediate) is counted as the
    // legacy register the register form would use.
    case Op.VMREAD: // 0F 78 /r: r/m64 (destination), r64 (field)
      return a === null ? 0 : rex(4, a, b) + 2 + modrm(a);
    case Op.VMWRITE: // 0F 79 /r: r64 (field), r/m64 (source; an immediate counts as a register)
      return b === null ? 0 : rex(4, a, b) + 2 + modrm(b);
    default:
      return 1; // RET C3, PUSHF 9C, POPF 9D, NOP 90, HLT F4, STI FB, CLI FA, INT3 CC
  }
}

/**
 * Length of JMP/Jcc/CALL at `addr` whose length is currently `current`: EB cb / 7x cb when
 * the displacement from the end of the short form fits int8, else E9 cd / 0F 8x cd.
 * Branches only grow, so relaxation ends.
 */
export function branchLength(op: Op, current: number, addr: number, target: number | null): number {
  if (op === Op.CALL) return 5;
  const short = 2;
  const near = op === Op.JMP ? 5 : 6;
  if (current > short) return near;
  if (target === null) return short;
  const disp = target - (addr + short);
  return disp >= -128 && disp <= 127 ? short : near;
}
