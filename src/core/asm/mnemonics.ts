// The names the language reserves: registers, instruction mnemonics (with the Jcc aliases
// of Intel's "Jcc—Jump if Condition Is Met" table), directives, size keywords, the VMX
// constants (constants.ts) and the name of the default IDT.

import { vmxConstant } from './constants';
import { Cond, DEFAULT_IDT, Op, REG32, REG64 } from './ir';

/** Jcc mnemonics and their condition codes, aliases included. */
const JCC: Record<string, Cond> = {
  jo: Cond.O,
  jno: Cond.NO,
  jb: Cond.B,
  jc: Cond.B,
  jnae: Cond.B,
  jae: Cond.AE,
  jnb: Cond.AE,
  jnc: Cond.AE,
  je: Cond.E,
  jz: Cond.E,
  jne: Cond.NE,
  jnz: Cond.NE,
  jbe: Cond.BE,
  jna: Cond.BE,
  ja: Cond.A,
  jnbe: Cond.A,
  js: Cond.S,
  jns: Cond.NS,
  jl: Cond.L,
  jnge: Cond.L,
  jge: Cond.GE,
  jnl: Cond.GE,
  jle: Cond.LE,
  jng: Cond.LE,
  jg: Cond.G,
  jnle: Cond.G,
};

/** Every other mnemonic and the op it assembles to. */
const MNEMONICS: Record<string, Op> = {
  mov: Op.MOV,
  lea: Op.LEA,
  add: Op.ADD,
  sub: Op.SUB,
  and: Op.AND,
  or: Op.OR,
  xor: Op.XOR,
  cmp: Op.CMP,
  test: Op.TEST,
  shl: Op.SHL,
  shr: Op.SHR,
  inc: Op.INC,
  dec: Op.DEC,
  jmp: Op.JMP,
  call: Op.CALL,
  ret: Op.RET,
  push: Op.PUSH,
  pop: Op.POP,
  pushf: Op.PUSHF,
  pushfq: Op.PUSHF,
  popf: Op.POPF,
  popfq: Op.POPF,
  nop: Op.NOP,
  pause: Op.PAUSE,
  hlt: Op.HLT,
  sti: Op.STI,
  cli: Op.CLI,
  iretq: Op.IRETQ,
  int: Op.INT,
  int3: Op.INT3,
  rdtsc: Op.RDTSC,
  rdmsr: Op.RDMSR,
  wrmsr: Op.WRMSR,
  work: Op.WORK,
  assert: Op.ASSERT,
  skip: Op.SKIP,
  cpuid: Op.CPUID,
  lidt: Op.LIDT,
  vmxon: Op.VMXON,
  vmxoff: Op.VMXOFF,
  vmclear: Op.VMCLEAR,
  vmptrld: Op.VMPTRLD,
  vmlaunch: Op.VMLAUNCH,
  vmresume: Op.VMRESUME,
  vmread: Op.VMREAD,
  vmwrite: Op.VMWRITE,
  vmcall: Op.VMCALL,
  ud2: Op.UD2,
  int1: Op.INT1,
  icebp: Op.INT1,
  into: Op.INTO,
  div: Op.DIV,
  idiv: Op.IDIV,
  in: Op.IN,
  out: Op.OUT,
  wbinvd: Op.WBINVD,
  invd: Op.INVD,
  invlpg: Op.INVLPG,
  rdpmc: Op.RDPMC,
  rdrand: Op.RDRAND,
  monitor: Op.MONITOR,
  mwait: Op.MWAIT,
  vmrun: Op.VMRUN,
  vmmcall: Op.VMMCALL,
  stgi: Op.STGI,
  clgi: Op.CLGI,
  vmload: Op.VMLOAD,
  vmsave: Op.VMSAVE,
};

const DIRECTIVES = [
  '.intgate',
  '.trapgate',
  '.idt',
  '.idtr',
  '.db',
  '.dw',
  '.dd',
  '.dq',
  '.zero',
  '.align',
] as const;

/** Element size of each data directive. */
const DATA_SIZE: Record<string, 1 | 2 | 4 | 8> = { '.db': 1, '.dw': 2, '.dd': 4, '.dq': 8 };

const SIZE_KEYWORDS: Record<string, 1 | 2 | 4 | 8> = { byte: 1, word: 2, dword: 4, qword: 8 };

export interface RegName {
  reg: number;
  size: 4 | 8;
}

const REGISTERS = new Map<string, RegName>();
REG64.forEach((name, reg) => REGISTERS.set(name, { reg, size: 8 }));
REG32.forEach((name, reg) => REGISTERS.set(name, { reg, size: 4 }));

/** A general register by (case-insensitive) name, or undefined. */
export function registerNamed(name: string): RegName | undefined {
  return REGISTERS.get(name.toLowerCase());
}

/** The number of a debug register name `dr0`–`dr7` (lowercase), or -1. */
export function debugRegister(lower: string): number {
  return /^dr[0-7]$/.test(lower) ? lower.charCodeAt(2) - 48 : -1;
}

/** An own entry of a table: names such as `constructor` or `__proto__` are not in any. */
function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The condition of a Jcc mnemonic (lowercase), or undefined. */
export function jccCondition(lower: string): Cond | undefined {
  return own(JCC, lower);
}

/** The op of any other mnemonic (lowercase), or undefined. */
export function mnemonicOp(lower: string): Op | undefined {
  return own(MNEMONICS, lower);
}

/** The size of a `byte|word|dword|qword` keyword (lowercase), or undefined. */
export function sizeKeyword(lower: string): 1 | 2 | 4 | 8 | undefined {
  return own(SIZE_KEYWORDS, lower);
}

/** The element size of a data directive (`.db` = 1, ...), or undefined for other names. */
export function dataElementSize(directive: string): 1 | 2 | 4 | 8 | undefined {
  return own(DATA_SIZE, directive);
}

export function isDirective(lower: string): boolean {
  return (DIRECTIVES as readonly string[]).includes(lower);
}

export function isMnemonic(lower: string): boolean {
  return mnemonicOp(lower) !== undefined || jccCondition(lower) !== undefined;
}

/** Why a name cannot be a label, or null when it can. */
export function reservedReason(name: string): string | null {
  const lower = name.toLowerCase();
  if (
    registerNamed(lower) ||
    ['cl', 'ss', 'al', 'ax', 'dx'].includes(lower) ||
    /^cr\d+$/.test(lower) ||
    debugRegister(lower) >= 0
  )
    return 'a register name';
  if (isMnemonic(lower)) return 'an instruction name';
  if (isDirective(lower)) return 'a directive name';
  if (sizeKeyword(lower) !== undefined || lower === 'ptr') return 'a keyword';
  if (vmxConstant(name)) return 'a VMCS/VMX constant';
  if (name === DEFAULT_IDT) return 'the name of the default IDT';
  return null;
}

// Names of x86 registers the lab does not have, and near misses of the ones it has: an
// undefined name of this shape is reported as an unknown register, not an undefined label.
const REGISTER_LIKE =
  /^([re][a-z]x|[re][sdb][ip]|r\d+[bwdl]?|[a-d][lhx]|[sd]il?|[sb]pl?|[c-gs]s|[re]?ip|cr\d+|dr\d+|[xyz]mm\d+)$/;

export function looksLikeRegister(name: string): boolean {
  return REGISTER_LIKE.test(name.toLowerCase());
}
