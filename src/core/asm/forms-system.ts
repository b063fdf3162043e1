// Operand forms of the instructions kvm-unit-tests' VMX tests use beside the lab's first set
// (issue 10, item 6): UD2, INT1, INTO, DIV/IDIV, IN/OUT, WBINVD, INVD, INVLPG, RDPMC, RDRAND,
// MONITOR/MWAIT and MOV to and from CR0/CR3/CR4/CR8. Each mnemonic's accepted forms are
// spelled out in its errors.

import { Op } from './ir';
import type { Analyzed, FormChecker, Spec } from './forms';
import type { Expr, OperandAst } from './parser';

/** Kind strings of the form table (forms.ts), for the new instructions. */
export const SYSTEM_FORMS: Record<string, string[]> = {
  div: ['reg', 'mem'],
  idiv: ['reg', 'mem'],
  in: ['acc,imm', 'acc,dx'],
  out: ['imm,acc', 'dx,acc'],
  invlpg: ['mem'],
  rdrand: ['reg'],
  // AMD SVM (0F 01 D8/DA/DB): RAX is implicit; NASM also accepts it written out.
  vmrun: ['', 'reg'],
  vmload: ['', 'reg'],
  vmsave: ['', 'reg'],
};

/** The accepted forms in words, as errors name them. */
const FORM_TEXT: Record<string, string> = {
  ud2: 'no operands',
  int1: 'no operands',
  into: 'no operands',
  wbinvd: 'no operands',
  invd: 'no operands',
  rdpmc: 'no operands',
  monitor: 'no operands (RAX, ECX and EDX are implicit)',
  mwait: 'no operands (EAX and ECX are implicit)',
  div: 'r32, r64, byte/word/dword/qword [mem]',
  idiv: 'r32, r64, byte/word/dword/qword [mem]',
  in: 'al|ax|eax, imm8 and al|ax|eax, dx',
  out: 'imm8, al|ax|eax and dx, al|ax|eax',
  invlpg: '[mem]',
  rdrand: 'r32, r64',
  work: 'imm (cycles), r32/r64 (cycles in a register)',
  vmrun: 'no operands or rax (RAX holds the VMCB address)',
  vmload: 'no operands or rax (RAX holds the VMCB address)',
  vmsave: 'no operands or rax (RAX holds the VMCB address)',
  vmmcall: 'no operands',
  stgi: 'no operands',
  clgi: 'no operands',
};

/** `; 'x' takes …` for the mnemonics whose forms are spelled out (and MOV with a CRn), else ''. */
export function formsText(mnemonic: string, operands: OperandAst[]): string {
  if (Object.hasOwn(FORM_TEXT, mnemonic)) return `; '${mnemonic}' takes ${FORM_TEXT[mnemonic]}`;
  if (mnemonic === 'mov' && operands.some((o) => o.kind === 'cr'))
    return "; 'mov' takes cr0|cr3|cr4|cr8, r64 and r64, cr0|cr3|cr4|cr8";
  return '';
}

/** An operand's kind for the form table: EAX is the accumulator of IN and OUT. */
export function operandKind(mnemonic: string, o: OperandAst): string {
  if ((mnemonic === 'in' || mnemonic === 'out') && o.kind === 'reg' && o.reg === 0 && o.size === 4)
    return 'acc';
  return o.kind;
}

/** A number as an expression (the control register number kept in `Instr.n`). */
function numberExpr(value: number, column: number): Expr {
  return {
    terms: [{ sign: 1, kind: 'num', value: BigInt(value), name: '', column, or: false }],
    column,
    text: String(value),
  };
}

/** The accumulator of IN/OUT: AL, AX or EAX (register 0 of that size). */
function accumulator(o: OperandAst): Spec | null {
  if (o.kind === 'acc') return { k: 'reg', reg: 0, size: o.size };
  if (o.kind === 'reg') return { k: 'reg', reg: 0, size: 4 };
  return null;
}

/** The port of IN/OUT: imm8, or DX (register 2, 16 bits). */
function port(ck: FormChecker, o: OperandAst): Spec | null {
  if (o.kind === 'dx') return { k: 'reg', reg: 2, size: 2 };
  return ck.spec(o, null, 'port');
}

/**
 * The operands of a new instruction (the kinds already fit a form); null with an error when a
 * size does not fit. Other instructions come back as they are.
 */
export function analyzeSystem(ck: FormChecker, r: Analyzed): Analyzed | null {
  const { stmt } = ck;
  const [x, y] = stmt.operands;
  if (x?.kind === 'cr' || y?.kind === 'cr') {
    // MOV CRn, r64 / MOV r64, CRn (0F 22 /r, 0F 20 /r): 64-bit registers only in 64-bit mode.
    const cr = x.kind === 'cr' ? x : (y as OperandAst & { kind: 'cr' });
    const g = x.kind === 'cr' ? y : x;
    if (g.kind === 'reg' && g.size !== 8)
      return ck.error(g.column, `'mov' to or from ${cr.text} needs a 64-bit register, not '${g.text}'`);
    r.op = x.kind === 'cr' ? Op.MOV_TO_CR : Op.MOV_FROM_CR;
    r.a = ck.spec(g, null, 'any');
    r.n = { expr: numberExpr(cr.cr, cr.column), rule: 'any', column: cr.column };
    return r.a ? r : null;
  }
  switch (r.op) {
    case Op.DIV:
    case Op.IDIV:
      // F7 /6, F7 /7 (F6 for a byte): the divisor; the dividend is (E/R)DX:(E/R)AX.
      if (x.kind === 'mem') {
        r.a = ck.mem(x, x.size ?? ck.memSize(x, null) ?? 8);
        return r;
      }
      r.a = ck.spec(x, null, 'any');
      return r.a ? r : null;
    case Op.IN:
      r.a = accumulator(x);
      r.b = port(ck, y);
      return r.a && r.b ? r : null;
    case Op.OUT:
      r.a = port(ck, x);
      r.b = accumulator(y);
      return r.a && r.b ? r : null;
    case Op.INVLPG:
      // The operand is an address; its size does not matter.
      if (x.kind !== 'mem') return null;
      r.a = ck.mem(x, 1);
      return r;
    case Op.RDRAND:
      r.a = ck.spec(x, null, 'any');
      return r.a ? r : null;
    case Op.VMRUN:
    case Op.VMLOAD:
    case Op.VMSAVE:
      // The address is always RAX (in 64-bit mode): `vmrun rax` names it, nothing else may.
      if (x && (x.kind !== 'reg' || x.reg !== 0 || x.size !== 8))
        return ck.error(
          x.column,
          `'${ck.stmt.mnemonic}' takes ${FORM_TEXT[ck.stmt.mnemonic]}, not '${x.text}'`,
        );
      r.a = null;
      return r;
    default:
      return r;
  }
}
