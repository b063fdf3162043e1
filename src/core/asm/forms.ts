// Operand forms: which operand kinds each instruction takes, the size of each operand,
// and the range each immediate must fit. Turns a parsed instruction into an op with
// operands whose values (labels, displacements) are still to be resolved.

import { fieldByName, resolveFieldName, unknownFieldMessage } from '../vmx';
import { Op, type AsmError, type AssertOp, type Cond } from './ir';
import { jccCondition, looksLikeRegister, mnemonicOp } from './mnemonics';
import type { Expr, InstrStmt, OperandAst } from './parser';
import type { ValueRule } from './values';
import { SYSTEM_FORMS, analyzeSystem, formsText, operandKind } from './forms-system';

export type Size = 1 | 2 | 4 | 8;

/** Size of the memory operand of LIDT: a pseudo-descriptor, limit u16 and base u64. */
export const PSEUDO_DESCRIPTOR = 10;

/** An operand with its kind and size settled and its value still an expression. */
export type Spec =
  | { k: 'reg'; reg: number; size: Size }
  | { k: 'cl' }
  | { k: 'imm'; expr: Expr; rule: ValueRule; column: number }
  | {
      k: 'mem';
      base: number;
      /** Index register (-1: none) and its scale. */
      index: number;
      scale: 1 | 2 | 4 | 8;
      disp: Expr | null;
      size: Size | typeof PSEUDO_DESCRIPTOR;
      column: number;
    };

export interface Analyzed {
  op: Op;
  cond: Cond | -1;
  a: Spec | null;
  b: Spec | null;
  /** The expression behind `Instr.n`: branch target, INT vector, WORK cycle count. */
  n: { expr: Expr; rule: ValueRule; column: number } | null;
  assertOp: AssertOp | null;
  message: string | null;
}

/** What the checker needs to know of labels before layout. */
export interface LabelInfo {
  defined(name: string): boolean;
  /** Element size of the data directive right after the label, if that is what follows it. */
  dataSize(name: string): Size | undefined;
}

const ALU = ['reg,reg', 'reg,imm', 'reg,mem', 'mem,reg', 'mem,imm'];
const VALUE = ['reg', 'imm', 'mem'];

const FORMS: Record<string, string[]> = {
  mov: [...ALU, 'ss,reg', 'cr,reg', 'reg,cr', 'dr,reg', 'reg,dr'],
  lea: ['reg,mem'],
  add: ALU,
  sub: ALU,
  and: ALU,
  or: ALU,
  xor: ALU,
  cmp: ALU,
  test: ['reg,reg', 'reg,imm', 'mem,reg', 'mem,imm'],
  shl: ['reg,imm', 'reg,cl', 'mem,imm', 'mem,cl'],
  shr: ['reg,imm', 'reg,cl', 'mem,imm', 'mem,cl'],
  inc: ['reg', 'mem'],
  dec: ['reg', 'mem'],
  jmp: ['imm'],
  call: ['imm'],
  push: ['reg', 'imm', 'mem'],
  pop: ['reg', 'mem'],
  int: ['imm'],
  work: ['imm', 'reg'],
  ...SYSTEM_FORMS,
  lidt: ['mem'],
  vmxon: ['mem'],
  vmclear: ['mem'],
  vmptrld: ['mem'],
  // FIELD as an immediate is a field name (lab shorthand of the register form).
  vmread: ['reg,reg', 'mem,reg', 'reg,imm', 'mem,imm'],
  vmwrite: ['reg,reg', 'reg,mem', 'reg,imm', 'imm,reg', 'imm,mem', 'imm,imm'],
  assert: VALUE.flatMap((x) => VALUE.map((y) => `${x},${y}`)),
};

function formsOf(mnemonic: string): string[][] {
  const forms = Object.hasOwn(FORMS, mnemonic)
    ? FORMS[mnemonic]
    : jccCondition(mnemonic) !== undefined
      ? FORMS.jmp
      : [''];
  return forms.map((f) => (f === '' ? [] : f.split(',')));
}

/** Immediate range of an operation of this size (64-bit ones sign-extend an imm32). */
function immRule(size: Size): ValueRule {
  return size === 8 ? 'signed32' : size === 4 ? 'bits32' : size === 2 ? 'bits16' : 'bits8';
}

/** Why a name is not a field: the table's message, or why `_HIGH` does not apply. */
function fieldError(name: string): string {
  const full = name.endsWith('_HIGH') ? fieldByName(name.slice(0, -'_HIGH'.length)) : undefined;
  if (full) {
    const width = full.width === 'natural' ? 'natural-width' : `${full.width}-bit`;
    return `unknown VMCS field '${name}' (${full.name} is ${width}: only 64-bit fields have a _HIGH half)`;
  }
  return unknownFieldMessage(name);
}

export class FormChecker {
  constructor(
    readonly stmt: InstrStmt,
    private readonly line: number,
    private readonly labels: LabelInfo,
    private readonly errors: AsmError[],
  ) {}

  error(column: number, message: string): null {
    this.errors.push({ line: this.line, column, message });
    return null;
  }

  /** Checks the operand kinds against the forms; reports at the first operand that fits none. */
  kindsFit(): boolean {
    const { stmt } = this;
    const kinds = stmt.operands.map((o) => operandKind(stmt.mnemonic, o));
    const forms = formsOf(stmt.mnemonic);
    if (forms.some((f) => f.length === kinds.length && f.every((k, i) => k === kinds[i]))) return true;
    if (kinds.length === 0) {
      const n = Math.min(...forms.map((f) => f.length));
      this.error(
        stmt.column,
        `'${stmt.mnemonic}' needs ${n} operand${n === 1 ? '' : 's'}${formsText(stmt.mnemonic, stmt.operands)}`,
      );
      return false;
    }
    let column = stmt.column;
    let candidates = forms;
    for (let i = 0; i < kinds.length; i++) {
      candidates = candidates.filter((f) => f[i] === kinds[i]);
      if (candidates.length === 0) {
        column = stmt.operands[i].column;
        break;
      }
    }
    this.error(
      column,
      `'${stmt.mnemonic}' does not take (${kinds.join(', ')})${formsText(stmt.mnemonic, stmt.operands)}`,
    );
    return false;
  }

  /** Size of a memory operand: the register's, else its keyword, else its label's data, else 8. */
  memSize(m: OperandAst & { kind: 'mem' }, reg: (OperandAst & { kind: 'reg' }) | null): Size | null {
    if (reg) {
      if (m.size !== null && m.size !== reg.size) {
        return this.error(
          m.column,
          `operand sizes differ: '${reg.text}' is ${reg.size * 8}-bit, '${m.text}' is ${m.size * 8}-bit`,
        );
      }
      return reg.size;
    }
    if (m.size !== null) return m.size;
    const label = m.disp?.terms.find((t) => t.kind === 'label');
    return (label && this.labels.dataSize(label.name)) ?? 8;
  }

  mem(m: OperandAst & { kind: 'mem' }, size: Size | typeof PSEUDO_DESCRIPTOR): Spec {
    return { k: 'mem', base: m.base, index: m.index, scale: m.scale, disp: m.disp, size, column: m.column };
  }

  /** An operand given its kind, with `other` the register it pairs with, if any. */
  spec(o: OperandAst, other: OperandAst | null, rule: ValueRule): Spec | null {
    switch (o.kind) {
      case 'reg':
        return { k: 'reg', reg: o.reg, size: o.size };
      case 'cl':
        return { k: 'cl' };
      case 'imm':
        return { k: 'imm', expr: o.expr, rule, column: o.column };
      case 'mem': {
        const size = this.memSize(o, other?.kind === 'reg' ? other : null);
        return size === null ? null : this.mem(o, size);
      }
      default:
        return this.error(o.column, `'${o.text}' cannot be used here`);
    }
  }

  /** Destination and source of a two-operand instruction whose operands have one size. */
  pair(mov: boolean): [Spec, Spec] | null {
    const [x, y] = this.stmt.operands;
    if (x.kind === 'reg' && y.kind === 'reg' && x.size !== y.size) {
      return this.error(
        y.column,
        `operand sizes differ: '${x.text}' is ${x.size * 8}-bit, '${y.text}' is ${y.size * 8}-bit`,
      );
    }
    const a = this.spec(x, y, 'any');
    if (a === null) return null;
    let size: Size = 8;
    if (a.k === 'reg') size = a.size;
    else if (a.k === 'mem' && a.size !== PSEUDO_DESCRIPTOR) size = a.size;
    const rule = mov && a.k === 'reg' && size === 8 ? 'any' : immRule(size);
    const b = this.spec(y, x, rule);
    return b === null ? null : [a, b];
  }

  /** PUSH/POP: 64-bit registers and memory only (the stack is 64-bit in long mode). */
  stackOperand(): Spec | null {
    const [x] = this.stmt.operands;
    const mn = this.stmt.mnemonic;
    if (x.kind === 'reg' && x.size !== 8)
      return this.error(x.column, `'${mn}' needs a 64-bit register, not '${x.text}'`);
    if (x.kind === 'mem') {
      if (x.size !== null && x.size !== 8)
        return this.error(x.column, `'${mn}' needs a qword memory operand`);
      return this.mem(x, 8);
    }
    return this.spec(x, null, 'signed32');
  }

  /**
   * An operand of a VMX instruction: a 64-bit register, or qword memory (VMX instructions
   * have no 32-bit forms in 64-bit mode: their operand size is always 64 bits).
   */
  vmxOperand(o: OperandAst): Spec | null {
    const mn = this.stmt.mnemonic;
    if (o.kind === 'reg' && o.size !== 8)
      return this.error(o.column, `'${mn}' needs a 64-bit register, not '${o.text}'`);
    if (o.kind === 'mem') {
      if (o.size !== null && o.size !== 8)
        return this.error(o.column, `'${mn}' needs a qword memory operand`);
      return this.mem(o, 8);
    }
    return this.spec(o, null, 'any');
  }

  /**
   * The VMCS-field operand of VMREAD/VMWRITE: a 64-bit register holding the encoding, or a
   * field name (`VM_EXIT_REASON`, `TSC_OFFSET_HIGH`), which becomes an immediate holding
   * the encoding.
   */
  fieldOperand(o: OperandAst): Spec | null {
    if (o.kind !== 'imm') return this.vmxOperand(o);
    const [t] = o.expr.terms;
    const mn = this.stmt.mnemonic;
    if (o.expr.terms.length !== 1 || t.kind === 'num' || t.sign < 0 || t.factors)
      return this.error(
        o.column,
        `'${mn}' needs a VMCS field name or a 64-bit register holding its encoding, found '${o.text}'`,
      );
    const access = resolveFieldName(t.name);
    if (!access) return this.error(t.column, fieldError(t.name));
    const value = BigInt(access.field.encoding + (access.high ? 1 : 0));
    const expr: Expr = {
      terms: [{ sign: 1, kind: 'num', value, name: '', column: t.column, or: false }],
      column: t.column,
      text: t.name,
    };
    return { k: 'imm', expr, rule: 'any', column: o.column };
  }

  /**
   * `mov drN, r64` and `mov r64, drN` (SDM "MOV—Move to/from Debug Registers"): in 64-bit
   * mode the operand size is always 64 bits, so a 32-bit register is an error. The register
   * is `a`, the debug register number `n`.
   */
  movDebug(r: Analyzed): Analyzed | null {
    const [x, y] = this.stmt.operands;
    const toDr = x.kind === 'dr';
    const dr = toDr ? x : y;
    const gpr = toDr ? y : x;
    if (dr.kind !== 'dr' || gpr.kind !== 'reg') return null;
    if (gpr.size !== 8)
      return this.error(
        gpr.column,
        `'mov' with a debug register needs a 64-bit register, not '${gpr.text}' (forms: mov drN, r64 / mov r64, drN)`,
      );
    r.op = toDr ? Op.MOV_TO_DR : Op.MOV_FROM_DR;
    r.a = { k: 'reg', reg: gpr.reg, size: 8 };
    const expr: Expr = {
      terms: [{ sign: 1, kind: 'num', value: BigInt(dr.n), name: '', column: dr.column, or: false }],
      column: dr.column,
      text: dr.text,
    };
    r.n = { expr, rule: 'any', column: dr.column };
    return r;
  }

  /** An operand written as an undefined register-like name (`al`, `rxx`) is a register typo. */
  unknownRegister(): boolean {
    for (const o of this.stmt.operands) {
      const t = o.kind === 'imm' && o.expr.terms.length === 1 ? o.expr.terms[0] : null;
      if (
        t?.kind === 'label' &&
        t.sign > 0 &&
        !t.factors &&
        !this.labels.defined(t.name) &&
        looksLikeRegister(t.name)
      ) {
        this.error(t.column, `unknown register '${t.name}'`);
        return true;
      }
    }
    return false;
  }

  analyze(): Analyzed | null {
    const { stmt } = this;
    if (this.unknownRegister() || !this.kindsFit()) return null;
    const cond = jccCondition(stmt.mnemonic);
    const r: Analyzed = {
      op: cond !== undefined ? Op.JCC : (mnemonicOp(stmt.mnemonic) ?? Op.NOP),
      cond: cond ?? -1,
      a: null,
      b: null,
      n: null,
      assertOp: null,
      message: null,
    };
    const [x, y] = stmt.operands;
    if (x?.kind === 'cr' || y?.kind === 'cr') return analyzeSystem(this, r);
    if (x?.kind === 'ss') {
      r.op = Op.MOV_SS; // MOV Sreg, r/m: only `mov ss, reg` is in the language
      r.a = this.spec(y, null, 'any');
      return r;
    }
    if (x?.kind === 'dr' || y?.kind === 'dr') return this.movDebug(r);
    switch (r.op) {
      case Op.MOV:
      case Op.ADD:
      case Op.SUB:
      case Op.AND:
      case Op.OR:
      case Op.XOR:
      case Op.CMP:
      case Op.TEST: {
        const p = this.pair(r.op === Op.MOV);
        if (p === null) return null;
        [r.a, r.b] = p;
        return r;
      }
      case Op.LEA:
        if (x.kind === 'reg' && x.size !== 8)
          return this.error(x.column, `'lea' needs a 64-bit destination register, not '${x.text}'`);
        r.a = this.spec(x, null, 'any');
        r.b = y.kind === 'mem' ? this.mem(y, 8) : null;
        return r;
      case Op.SHL:
      case Op.SHR:
        r.a = this.spec(x, null, 'any');
        r.b = this.spec(y, null, 'count');
        return r.a && r.b ? r : null;
      case Op.INC:
      case Op.DEC:
        r.a = this.spec(x, null, 'any');
        return r.a ? r : null;
      case Op.PUSH:
      case Op.POP:
        r.a = this.stackOperand();
        return r.a ? r : null;
      case Op.JMP:
      case Op.JCC:
      case Op.CALL:
      case Op.INT:
      case Op.WORK:
        // `work reg`: the cycle count is the register's value when it executes.
        if (r.op === Op.WORK && x.kind === 'reg') {
          r.a = this.spec(x, null, 'any');
          return r;
        }
        if (x.kind !== 'imm') return null;
        r.n = {
          expr: x.expr,
          rule: r.op === Op.INT ? 'vector' : r.op === Op.WORK ? 'cycles' : 'target',
          column: x.column,
        };
        return r;
      case Op.LIDT:
        if (x.kind !== 'mem') return null;
        if (x.size !== null)
          return this.error(x.column, `'lidt' takes its 10-byte operand without a size keyword`);
        r.a = this.mem(x, PSEUDO_DESCRIPTOR);
        return r;
      case Op.VMXON:
      case Op.VMCLEAR:
      case Op.VMPTRLD:
        r.a = this.vmxOperand(x);
        return r.a ? r : null;
      case Op.VMREAD:
        r.a = this.vmxOperand(x);
        r.b = this.fieldOperand(y);
        return r.a && r.b ? r : null;
      case Op.VMWRITE:
        r.a = this.fieldOperand(x);
        r.b = this.vmxOperand(y);
        return r.a && r.b ? r : null;
      case Op.SKIP:
        r.message = stmt.message;
        return r;
      case Op.ASSERT:
        // An assertion compares values: a size keyword may differ from the register's size.
        r.a = this.spec(x, x.kind === 'mem' && x.size !== null ? null : y, 'any');
        r.b = this.spec(y, y.kind === 'mem' && y.size !== null ? null : x, 'any');
        r.assertOp = stmt.assertOp;
        r.message = stmt.message;
        return r.a && r.b ? r : null;
      default:
        return analyzeSystem(this, r);
    }
  }
}

/**
 * Checks an instruction's operands and settles their kinds and sizes. Errors go to
 * `errors`; the result is null when there was one.
 */
export function analyzeInstruction(
  stmt: InstrStmt,
  line: number,
  labels: LabelInfo,
  errors: AsmError[],
): Analyzed | null {
  return new FormChecker(stmt, line, labels, errors).analyze();
}
