// The assembled form of a lab program: pre-decoded instructions the CPU interprets
// directly, plus the memory image, labels and IDTs. Everything here is plain data.

/** Operation codes. Numeric so that the interpreter's switch stays fast. */
export const Op = {
  MOV: 1,
  ADD: 2,
  SUB: 3,
  AND: 4,
  OR: 5,
  XOR: 6,
  SHL: 7,
  SHR: 8,
  INC: 9,
  DEC: 10,
  CMP: 11,
  TEST: 12,
  JMP: 13,
  JCC: 14,
  CALL: 15,
  RET: 16,
  PUSH: 17,
  POP: 18,
  PUSHF: 19,
  POPF: 20,
  NOP: 21,
  PAUSE: 22,
  HLT: 23,
  STI: 24,
  CLI: 25,
  IRETQ: 26,
  INT: 27,
  INT3: 28,
  MOV_SS: 29,
  RDTSC: 30,
  RDMSR: 31,
  WRMSR: 32,
  WORK: 33,
  ASSERT: 34,
  LEA: 35,
  CPUID: 36,
  LIDT: 37,
  VMXON: 38,
  VMXOFF: 39,
  VMCLEAR: 40,
  VMPTRLD: 41,
  VMLAUNCH: 42,
  VMRESUME: 43,
  VMREAD: 44,
  VMWRITE: 45,
  VMCALL: 46,
  /** The lab's `skip "why"`: a check that does not apply here (kvm-unit-tests' report_skip). */
  SKIP: 47,
  // Issue 10 item 6: the instructions kvm-unit-tests' VMX tests use (numbers 48–79).
  UD2: 48,
  /** INT1 (ICEBP, F1): #DB as a privileged software exception. */
  INT1: 49,
  INTO: 50,
  DIV: 51,
  IDIV: 52,
  IN: 53,
  OUT: 54,
  WBINVD: 55,
  INVLPG: 56,
  RDPMC: 57,
  RDRAND: 58,
  MONITOR: 59,
  MWAIT: 60,
  /** MOV CRn, r64 (`n` holds the control register's number). */
  MOV_TO_CR: 61,
  /** MOV r64, CRn (`n` holds the control register's number). */
  MOV_FROM_CR: 62,
  /** INVD (0F 08): always exits in VMX non-root operation (exit reason 13). */
  INVD: 63,
  /** `mov drN, r64` (0F 23 /r): n is the debug register. */
  MOV_TO_DR: 80,
  /** `mov r64, drN` (0F 21 /r): n is the debug register. */
  MOV_FROM_DR: 81,
  // Issue 7 item 2: AMD SVM (numbers 90–119).
  /** VMRUN (0F 01 D8): RAX = the VMCB's physical address. */
  VMRUN: 90,
  /** VMMCALL (0F 01 D9): #UD unless the VMCB intercepts it. */
  VMMCALL: 91,
  /** STGI (0F 01 DC): GIF = 1. */
  STGI: 92,
  /** CLGI (0F 01 DD): GIF = 0. */
  CLGI: 93,
  /** VMLOAD (0F 01 DA): RAX = VMCB. */
  VMLOAD: 94,
  /** VMSAVE (0F 01 DB): RAX = VMCB. */
  VMSAVE: 95,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** Mnemonic of each op, as written in the source (JCC uses its condition, see `Instr.text`). */
export const OP_NAMES: Record<Op, string> = Object.fromEntries(
  Object.entries(Op).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, ' ')]),
) as Record<Op, string>;

/** Condition codes of Jcc, Intel's order (the low nibble of the 0F 8x opcode). */
export const Cond = {
  O: 0,
  NO: 1,
  B: 2, // also C, NAE
  AE: 3, // also NC, NB
  E: 4, // also Z
  NE: 5, // also NZ
  BE: 6, // also NA
  A: 7, // also NBE
  S: 8,
  NS: 9,
  L: 12, // also NGE
  GE: 13, // also NL
  LE: 14, // also NG
  G: 15, // also NLE
} as const;
export type Cond = (typeof Cond)[keyof typeof Cond];

/** General registers by number, as in the ModRM/REX encoding. */
export const REG64 = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const; // prettier-ignore
export const REG32 = [
  'eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi',
  'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d',
] as const; // prettier-ignore

export const OperandKind = { REG: 0, IMM: 1, MEM: 2 } as const;

/**
 * A general register, 8 (64-bit) or 4 (32-bit: writes zero-extend, as in 64-bit mode). Sizes 1
 * and 2 occur only as the accumulator (AL, AX) and port (DX) operands of IN and OUT.
 */
export interface RegOperand {
  k: 0;
  reg: number;
  size: 1 | 2 | 4 | 8;
}
/** An immediate, held as two unsigned 32-bit halves so that 64-bit values are exact. */
export interface ImmOperand {
  k: 1;
  lo: number;
  hi: number;
}
/**
 * A memory operand: [base + index*scale + disp] where disp already includes a resolved label
 * address. base is -1 when absent (a label-only operand, encoded RIP-relative; with an index,
 * an absolute disp32). index and scale are present only when an index register is written.
 * size is 10 only for the operand of LIDT: a pseudo-descriptor (limit u16, base u64).
 */
export interface MemOperand {
  k: 2;
  base: number;
  disp: number;
  size: 1 | 2 | 4 | 8 | 10;
  index?: number;
  scale?: 1 | 2 | 4 | 8;
}
export type Operand = RegOperand | ImmOperand | MemOperand;

export type AssertOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export interface Instr {
  op: Op;
  /** Destination (or only) operand. */
  a: Operand | null;
  /** Source operand. */
  b: Operand | null;
  /** Jcc condition. */
  cond: Cond | -1;
  /**
   * Absolute target address for JMP/JCC/CALL; vector for INT; cycle count for WORK (0 when
   * `a` is a register holding it); control register number for MOV_TO_CR/MOV_FROM_CR; debug
   * register number for MOV_TO_DR/MOV_FROM_DR.
   */
  n: number;
  /** Address of the first byte. */
  addr: number;
  /** Length in bytes of its usual x86-64 encoding (see docs/assembly.md). */
  len: number;
  /** 1-based source line and column of the mnemonic. */
  line: number;
  column: number;
  /** Normalised source text of the instruction, for display ("mov rax, 5"). */
  text: string;
  /** ASSERT only: comparison and its message (SKIP: its reason). */
  assertOp: AssertOp | null;
  message: string | null;
}

export interface IdtGate {
  vector: number;
  /** Interrupt gates clear IF on delivery; trap gates leave it (SDM "IDT Descriptors"). */
  kind: 'interrupt' | 'trap';
  target: number;
  label: string;
  line: number;
}

/**
 * An IDT in the memory image: 256 64-bit gate descriptors of 16 bytes (4096 bytes) at
 * `base`, 16-byte aligned. `gates` are the gates written into it (null: a zero, not-present
 * descriptor).
 */
export interface IdtTable {
  /** The name given to `.idt`, which is also a label at `base`; `__idt` for the default table. */
  name: string;
  base: number;
  gates: (IdtGate | null)[];
}

/** Name (and label) of the default IDT, which holds the gates written before any `.idt`. */
export const DEFAULT_IDT = '__idt';
/** Bytes of an IDT: 256 gate descriptors of 16 bytes. */
export const IDT_SIZE = 4096;
/** The limit of IDTR for a full 256-entry table, as `.idtr` writes it. */
export const IDT_LIMIT = IDT_SIZE - 1;

export interface Program {
  /** Instructions in address order. */
  instrs: Instr[];
  /** Instruction index for each byte address in [origin, end): -1 where no instruction starts. */
  indexAt: Int32Array;
  labels: Record<string, number>;
  /** Initial memory contents from `origin`, code bytes included (filled with 0x90 NOPs). */
  image: Uint8Array;
  /** Load address of the first byte. */
  origin: number;
  /** First address past the image (code, data and IDTs). */
  end: number;
  /**
   * The gates of the initial IDT (the table at `idtBase`): one slot per vector, null when no
   * gate is present. The same array as that table's `gates` in `idtTables`.
   */
  idt: (IdtGate | null)[];
  /**
   * Every IDT in the image: the `.idt` tables in source order, then the default table
   * `__idt` when it is emitted (gates before the first `.idt`, or no `.idt` at all).
   */
  idtTables: IdtTable[];
  /** The initial IDTR base: the first `.idt` table in source order, else `__idt`. */
  idtBase: number;
  /** Address where execution starts: the label `start` if present, else the first instruction. */
  entry: number;
  /** The source lines, for display. */
  source: string[];
}

export interface AsmError {
  line: number;
  column: number;
  message: string;
}

export type AssembleResult = { ok: true; program: Program } | { ok: false; errors: AsmError[] };

/** Where programs are loaded (kvm-unit-tests style images also start low). */
export const DEFAULT_ORIGIN = 0x1000;
