// Parses one line of the language: `[label:] [instruction | directive]`. The result is a
// syntax tree whose expressions are still unresolved; see assembler.ts for the meaning.

import type { AsmError, AssertOp } from './ir';
import { vmxConstant } from './constants';
import { lexLine, type Token } from './lexer';
import {
  debugRegister,
  isDirective,
  isMnemonic,
  registerNamed,
  reservedReason,
  sizeKeyword,
} from './mnemonics';

import type { DirectiveStmt, Expr, InstrStmt, LabelDef, OperandAst, ParsedLine, Term } from './ast';

export type { DirectiveStmt, Expr, InstrStmt, LabelDef, OperandAst, ParsedLine, Term } from './ast';

class ParseError extends Error {
  constructor(
    readonly column: number,
    message: string,
  ) {
    super(message);
  }
}

/** Quotes a string back into the source form: `"a \"b\""`. */
export function quote(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

class LineParser {
  private pos = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly endColumn: number,
  ) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }
  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }
  next(): Token {
    return this.tokens[this.pos++];
  }
  here(): number {
    return this.peek()?.column ?? this.endColumn;
  }
  isPunct(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t !== undefined && t.kind === 'punct' && t.text === text;
  }
  fail(message: string, column = this.here()): never {
    throw new ParseError(column, message);
  }
  describe(t: Token | undefined): string {
    return t === undefined ? 'end of line' : `'${t.text}'`;
  }

  /** term := factor ('*' factor)* */
  term(sign: 1 | -1, or = false): Term {
    const t = this.factor(sign, or);
    while (this.isPunct('*')) {
      this.next();
      (t.factors ??= []).push(this.factor(1));
    }
    return t;
  }

  /** factor := ['+'|'-'] (number | constant | label) */
  factor(sign: 1 | -1, or = false): Term {
    while (this.isPunct('-') || this.isPunct('+')) {
      if (this.next().text === '-') sign = sign === 1 ? -1 : 1;
    }
    const t = this.peek();
    if (t?.kind === 'number') {
      this.pos++;
      return { sign, kind: 'num', value: t.value, name: '', column: t.column, or };
    }
    if (t?.kind === 'ident') {
      const lower = t.text.toLowerCase();
      if (registerNamed(lower) || lower === 'cl' || lower === 'ss' || debugRegister(lower) >= 0)
        this.fail(`register '${lower}' cannot be used in an expression`);
      this.pos++;
      const c = vmxConstant(t.text);
      if (c) return { sign, kind: 'const', value: BigInt(c.value), name: t.text, column: t.column, or };
      return { sign, kind: 'label', value: 0n, name: t.text, column: t.column, or };
    }
    return this.fail(`expected a number or a label, found ${this.describe(t)}`);
  }

  /** Continues an expression with `(+|-) term` while there is one (and `| term` if `or`). */
  termsTail(terms: Term[], or = false): void {
    while (this.isPunct('+') || this.isPunct('-') || (or && this.isPunct('|'))) {
      const text = this.next().text;
      terms.push(text === '|' ? this.term(1, true) : this.term(text === '-' ? -1 : 1));
    }
  }

  textFrom(start: number): string {
    return this.tokens
      .slice(start, this.pos)
      .map((t) => t.text)
      .join('');
  }

  expr(): Expr {
    const start = this.pos;
    const column = this.here();
    const terms = [this.term(1)];
    this.termsTail(terms, true);
    return { terms, column, text: this.textFrom(start) };
  }

  /** A 64-bit register at the cursor (consumed), or null when the next token is not a register. */
  addressRegister(): { reg: number; text: string; column: number } | null {
    const t = this.peek();
    if (t?.kind !== 'ident') return null;
    const r = registerNamed(t.text);
    if (!r) return null;
    if (r.size !== 8) this.fail(`a memory operand needs a 64-bit base register, not '${t.text}'`);
    this.pos++;
    return { reg: r.reg, text: t.text.toLowerCase(), column: t.column };
  }

  /** `*scale` after an index register: 1, 2, 4 or 8 (SIB.scale). */
  scale(): 1 | 2 | 4 | 8 {
    if (!this.isPunct('*')) return 1;
    this.next();
    const t = this.peek();
    const v = t?.kind === 'number' ? t.value : -1n;
    if (v !== 1n && v !== 2n && v !== 4n && v !== 8n)
      this.fail(`expected a scale of 1, 2, 4 or 8 after '*', found ${this.describe(t)}`);
    this.pos++;
    return Number(v) as 1 | 2 | 4 | 8;
  }

  /** An index register: any 64-bit register but RSP (SIB.index 100b means "no index"). */
  index(r: { reg: number; text: string; column: number }): number {
    if (r.reg === 4) this.fail('rsp cannot be an index register', r.column);
    return r.reg;
  }

  /** memory := '[' (base ['+' index ['*' scale]] | index '*' scale) [(+|-) disp] | disp ']' */
  memory(size: 1 | 2 | 4 | 8 | null, column: number, prefix: string): OperandAst {
    this.next(); // '['
    let base = -1;
    let index = -1;
    let scale: 1 | 2 | 4 | 8 = 1;
    let regText = '';
    let disp: Expr | null = null;
    const first = this.addressRegister();
    if (first) {
      if (this.isPunct('*')) {
        index = this.index(first);
        scale = this.scale();
        regText = `${first.text}*${scale}`;
      } else {
        base = first.reg;
        regText = first.text;
        if (this.isPunct('+') && this.peek(1)?.kind === 'ident' && registerNamed(this.peek(1)!.text)) {
          this.next();
          const second = this.addressRegister()!;
          index = this.index(second);
          scale = this.scale();
          regText += `+${second.text}` + (scale === 1 ? '' : `*${scale}`);
        }
      }
      if (this.isPunct('+') || this.isPunct('-')) {
        const start = this.pos;
        const terms: Term[] = [];
        this.termsTail(terms);
        disp = { terms, column: terms[0].column, text: this.textFrom(start) };
      }
    }
    if (!first) {
      if (this.isPunct(']')) this.fail("expected an address inside '[ ]'");
      disp = this.expr();
    } else if (this.isPunct('|')) {
      this.fail("'|' cannot follow a base register: write the displacement as a sum");
    } else if (this.peek()?.kind === 'ident' && registerNamed(this.peek()!.text)) {
      this.fail('write the index register after the base register: [base + index*scale + disp]');
    }
    if (!this.isPunct(']')) this.fail(`expected ']', found ${this.describe(this.peek())}`);
    this.next();
    const text = `${prefix}[${regText}${disp?.text ?? ''}]`;
    return { kind: 'mem', size, base, index, scale, disp, column, text };
  }

  /** A control register name (cr0–cr15): the lab has CR0, CR3, CR4 and CR8. */
  controlRegister(lower: string, column: number): OperandAst | null {
    const m = /^cr(\d+)$/.exec(lower);
    if (!m) return null;
    const cr = Number(m[1]);
    if (![0, 3, 4, 8].includes(cr))
      this.fail(`'${lower}' is not a control register of the lab (it has cr0, cr3, cr4 and cr8)`, column);
    this.pos++;
    return { kind: 'cr', cr, column, text: lower };
  }

  /** `ports`: the operands of IN/OUT, where AL, AX and DX are registers. */
  operand(ports = false): OperandAst {
    const t = this.peek();
    if (t === undefined) return this.fail('expected an operand');
    const column = t.column;
    if (t.kind === 'ident') {
      const lower = t.text.toLowerCase();
      const size = sizeKeyword(lower);
      if (size !== undefined) {
        this.pos++;
        let prefix = lower + ' ';
        if (this.peek()?.kind === 'ident' && this.peek()?.text.toLowerCase() === 'ptr') {
          this.pos++;
          prefix = lower + ' ptr ';
        }
        if (!this.isPunct('[')) this.fail(`expected '[' after '${lower}'`);
        return this.memory(size, column, prefix);
      }
      const r = registerNamed(lower);
      if (r) {
        this.pos++;
        return { kind: 'reg', reg: r.reg, size: r.size, column, text: lower };
      }
      if (lower === 'cl' || lower === 'ss') {
        this.pos++;
        return { kind: lower, column, text: lower };
      }
      if (ports && (lower === 'al' || lower === 'ax')) {
        this.pos++;
        return { kind: 'acc', size: lower === 'al' ? 1 : 2, column, text: lower };
      }
      if (ports && lower === 'dx') {
        this.pos++;
        return { kind: 'dx', column, text: lower };
      }
      const cr = this.controlRegister(lower, column);
      if (cr) return cr;
      const dr = debugRegister(lower);
      if (dr >= 0) {
        this.pos++;
        return { kind: 'dr', n: dr, column, text: lower };
      }
    }
    if (t.kind === 'punct' && t.text === '[') return this.memory(null, column, '');
    if (t.kind === 'string')
      this.fail('a string can only be the message of an assert or the reason of a skip');
    if (
      t.kind === 'number' ||
      t.kind === 'ident' ||
      (t.kind === 'punct' && (t.text === '-' || t.text === '+'))
    ) {
      const expr = this.expr();
      return { kind: 'imm', expr, column, text: expr.text };
    }
    return this.fail(`expected an operand, found '${t.text}'`);
  }

  operands(ports: boolean): OperandAst[] {
    const list: OperandAst[] = [];
    if (this.atEnd()) return list;
    for (;;) {
      list.push(this.operand(ports));
      if (this.atEnd()) return list;
      if (!this.isPunct(',')) this.fail("expected ',' between operands");
      this.next();
      if (this.atEnd()) this.fail("expected an operand after ','");
    }
  }

  /** `skip "why"`: kvm-unit-tests' report_skip, recorded as neither a pass nor a failure. */
  skip(column: number): InstrStmt {
    const m = this.peek();
    if (m?.kind !== 'string') this.fail('expected the reason in double quotes after skip');
    this.next();
    if (!this.atEnd()) this.fail(`unexpected ${this.describe(this.peek())} after the reason`);
    return {
      kind: 'instr',
      mnemonic: 'skip',
      column,
      operands: [],
      assertOp: null,
      message: m.str,
      text: `skip ${quote(m.str)}`,
    };
  }

  assertion(column: number): InstrStmt {
    const a = this.operand();
    const c = this.peek();
    if (c?.kind !== 'cmp') this.fail('expected a comparison (==, !=, <, <=, >, >=) after the first operand');
    this.next();
    const b = this.operand();
    const cond = `${a.text} ${c.text} ${b.text}`;
    let message: string | null = null;
    if (!this.atEnd()) {
      if (!this.isPunct(',')) this.fail("expected ',' before the message");
      this.next();
      const m = this.peek();
      if (m?.kind !== 'string') this.fail("expected a message in double quotes after ','");
      this.next();
      message = m.str;
      if (!this.atEnd()) this.fail(`unexpected ${this.describe(this.peek())} after the message`);
    }
    const text = `assert ${cond}` + (message === null ? '' : `, ${quote(message)}`);
    return {
      kind: 'instr',
      mnemonic: 'assert',
      column,
      operands: [a, b],
      assertOp: c.text as AssertOp,
      message: message ?? cond,
      text,
    };
  }

  directive(t: Token): DirectiveStmt {
    const name = t.text.toLowerCase();
    if (!isDirective(name)) this.fail(`unknown directive '${t.text}'`, t.column);
    const args: Expr[] = [];
    if (!this.atEnd()) {
      for (;;) {
        args.push(this.expr());
        if (this.atEnd()) break;
        if (!this.isPunct(',')) this.fail("expected ',' between values");
        this.next();
        if (this.atEnd()) this.fail("expected a value after ','");
      }
    }
    return { kind: 'directive', name, column: t.column, args };
  }

  statement(): InstrStmt | DirectiveStmt {
    const t = this.next();
    if (t.kind !== 'ident') this.fail(`expected an instruction or a directive, found '${t.text}'`, t.column);
    if (t.text.startsWith('.')) return this.directive(t);
    const mnemonic = t.text.toLowerCase();
    if (!isMnemonic(mnemonic)) this.fail(`unknown instruction '${t.text}'`, t.column);
    if (mnemonic === 'assert') return this.assertion(t.column);
    if (mnemonic === 'skip') return this.skip(t.column);
    const operands = this.operands(mnemonic === 'in' || mnemonic === 'out');
    const text = mnemonic + (operands.length ? ' ' + operands.map((o) => o.text).join(', ') : '');
    return { kind: 'instr', mnemonic, column: t.column, operands, assertOp: null, message: null, text };
  }

  labels(line: number, errors: AsmError[]): LabelDef[] {
    const labels: LabelDef[] = [];
    while (this.peek()?.kind === 'ident' && this.isPunct(':', 1)) {
      const t = this.next();
      this.next();
      const why = reservedReason(t.text);
      if (why)
        errors.push({ line, column: t.column, message: `'${t.text}' is ${why} and cannot be a label` });
      else labels.push({ name: t.text, line, column: t.column });
    }
    return labels;
  }
}

/** Parses one source line (1-based number `line`); errors are appended to `errors`. */
export function parseLine(text: string, line: number, errors: AsmError[]): ParsedLine {
  const lexed = lexLine(text, line);
  const p = new LineParser(lexed.tokens, lexed.endColumn);
  const labels = p.labels(line, errors);
  const first = p.peek();
  const hasStatement = first !== undefined || lexed.errors.length > 0;
  const hasInstruction = hasStatement && !(first?.kind === 'ident' && first.text.startsWith('.'));
  const result: ParsedLine = { line, labels, stmt: null, failed: false, hasInstruction };
  if (lexed.errors.length) {
    errors.push(...lexed.errors);
    result.failed = true;
    return result;
  }
  if (p.atEnd()) return result;
  try {
    result.stmt = p.statement();
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    errors.push({ line, column: e.column, message: e.message });
    result.failed = true;
  }
  return result;
}
