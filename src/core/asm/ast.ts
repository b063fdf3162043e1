// The syntax tree of one line of the language, as parser.ts builds it: expressions are
// still unresolved (see assembler.ts for their meaning).

import type { AssertOp } from './ir';

/**
 * A number, a VMX constant (its value is known when parsed) or a label, with the sign in
 * front of it.
 */
export interface Term {
  sign: 1 | -1;
  kind: 'num' | 'const' | 'label';
  value: bigint;
  /** The name of a constant or a label ('' for a number). */
  name: string;
  column: number;
  /** The term follows a `|`: it starts a new sum that is or-ed with what comes before. */
  or: boolean;
  /**
   * The factors this term is multiplied by (`2*8`, `N*-4`), each with its own sign; absent
   * when there is no `*`. `*` binds more tightly than `+`, `-` and `|`.
   */
  factors?: Term[];
}

/**
 * Sums of terms (joined by `+` and `-`) joined by `|`, which binds less tightly; a term may be
 * a product (`*` binds most tightly).
 */
export interface Expr {
  terms: Term[];
  column: number;
  text: string;
}

export type OperandAst =
  | { kind: 'reg'; reg: number; size: 4 | 8; column: number; text: string }
  | { kind: 'cl' | 'ss'; column: number; text: string }
  /** A debug register DR0–DR7 (MOV to/from debug registers only). */
  | { kind: 'dr'; n: number; column: number; text: string }
  /** IN/OUT only: the accumulator AL (size 1) or AX (size 2), and the port register DX. */
  | { kind: 'acc'; size: 1 | 2; column: number; text: string }
  | { kind: 'dx'; column: number; text: string }
  /** A control register: CR0, CR3, CR4 or CR8. */
  | { kind: 'cr'; cr: number; column: number; text: string }
  | { kind: 'imm'; expr: Expr; column: number; text: string }
  | {
      kind: 'mem';
      /** The size keyword, or null when none is written. */
      size: 1 | 2 | 4 | 8 | null;
      /** Base register number, -1 when there is none. */
      base: number;
      /** Index register number, -1 when there is none; its scale (1, 2, 4 or 8). */
      index: number;
      scale: 1 | 2 | 4 | 8;
      /** The displacement (signs included), null for a bare `[reg]`. */
      disp: Expr | null;
      column: number;
      text: string;
    };

export interface InstrStmt {
  kind: 'instr';
  /** Lowercase mnemonic. */
  mnemonic: string;
  column: number;
  operands: OperandAst[];
  /** assert only. */
  assertOp: AssertOp | null;
  message: string | null;
  /** Normalised text. */
  text: string;
}

export interface DirectiveStmt {
  kind: 'directive';
  /** Lowercase, with its dot. */
  name: string;
  column: number;
  args: Expr[];
}

export interface LabelDef {
  name: string;
  line: number;
  column: number;
}

export interface ParsedLine {
  line: number;
  labels: LabelDef[];
  stmt: InstrStmt | DirectiveStmt | null;
  /** True when the line had an error; its statement (if any) is dropped. */
  failed: boolean;
  /** True when the line holds an instruction, even one with errors (anything but a directive). */
  hasInstruction: boolean;
}
