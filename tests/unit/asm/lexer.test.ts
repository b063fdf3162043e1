import { describe, it, expect } from 'vitest';
import { lexLine } from '../../../src/core/asm/lexer';
import { parseLine } from '../../../src/core/asm/parser';
import type { AsmError } from '../../../src/core/asm';
import { program } from './helpers';

const kinds = (text: string) => lexLine(text, 1).tokens.map((t) => [t.kind, t.text, t.column]);

describe('lexer', () => {
  it('splits identifiers, numbers and punctuation, with columns', () => {
    expect(kinds('loop: mov rax, [rbx+0x10]')).toEqual([
      ['ident', 'loop', 1],
      ['punct', ':', 5],
      ['ident', 'mov', 7],
      ['ident', 'rax', 11],
      ['punct', ',', 14],
      ['punct', '[', 16],
      ['ident', 'rbx', 17],
      ['punct', '+', 20],
      ['number', '0x10', 21],
      ['punct', ']', 25],
    ]);
  });
  it('ends the line at ; or # outside strings', () => {
    expect(kinds('nop ; mov rax, 1')).toEqual([['ident', 'nop', 1]]);
    expect(kinds('nop # comment')).toEqual([['ident', 'nop', 1]]);
    expect(kinds('assert rax == 1, "a;b#c" ; real comment').map((t) => t[1])).toEqual([
      'assert',
      'rax',
      '==',
      '1',
      ',',
      '"a;b#c"',
    ]);
  });
  it('reads decimal and hex numbers with underscores', () => {
    const values = (text: string) => lexLine(text, 1).tokens.map((t) => t.value);
    expect(values('123 0x1F 0X1f 1_000_000 0xffff_ffff_ffff_ffff 0')).toEqual([
      123n,
      31n,
      31n,
      1000000n,
      0xffffffffffffffffn,
      0n,
    ]);
  });
  it('reads the comparison operators', () => {
    expect(kinds('== != < <= > >=').map((t) => t[0] + ' ' + t[1])).toEqual([
      'cmp ==',
      'cmp !=',
      'cmp <',
      'cmp <=',
      'cmp >',
      'cmp >=',
    ]);
  });
  it('decodes \\" and \\\\ in strings', () => {
    const [t] = lexLine('"a\\"b\\\\c"', 1).tokens;
    expect([t.kind, t.str]).toEqual(['string', 'a"b\\c']);
  });
  it('reads | as punctuation', () => {
    expect(kinds('1|A')).toEqual([
      ['number', '1', 1],
      ['punct', '|', 2],
      ['ident', 'A', 3],
    ]);
  });
  it('reports bad characters and carries on', () => {
    const r = lexLine('mov rax, 1 = 2', 7);
    expect(r.errors).toEqual([{ line: 7, column: 12, message: "unexpected character '='" }]);
  });
});

describe('parser', () => {
  const parse = (text: string) => {
    const errors: AsmError[] = [];
    return { line: parseLine(text, 3, errors), errors };
  };
  it('reads a label and a statement on one line', () => {
    const { line, errors } = parse('  top:  inc qword [counter]');
    expect(errors).toEqual([]);
    expect(line.labels).toEqual([{ name: 'top', line: 3, column: 3 }]);
    expect(line.stmt).toMatchObject({
      kind: 'instr',
      mnemonic: 'inc',
      column: 9,
      text: 'inc qword [counter]',
    });
  });
  it('reads memory operands with a base and a signed displacement', () => {
    const { line } = parse('mov rax, [r13 - 8 + x]');
    const stmt = line.stmt;
    expect(stmt?.kind).toBe('instr');
    if (stmt?.kind !== 'instr') return;
    const m = stmt.operands[1];
    expect(m.kind).toBe('mem');
    if (m.kind !== 'mem') return;
    expect([m.base, m.size, m.disp?.terms.map((t) => [t.sign, t.kind, t.value, t.name])]).toEqual([
      13,
      null,
      [
        [-1, 'num', 8n, ''],
        [1, 'label', 0n, 'x'],
      ],
    ]);
    expect(stmt.text).toBe('mov rax, [r13-8+x]');
  });
  it('reads VMX constants as terms with their value, and marks the terms after |', () => {
    const { line } = parse('.dd INTR_INFO_VALID_MASK | x + 2 | -3');
    if (line.stmt?.kind !== 'directive') throw new Error('not a directive');
    const [e] = line.stmt.args;
    expect(e.terms.map((t) => [t.sign, t.kind, t.value, t.name, t.or])).toEqual([
      [1, 'const', 0x80000000n, 'INTR_INFO_VALID_MASK', false],
      [1, 'label', 0n, 'x', true],
      [1, 'num', 2n, '', false],
      [-1, 'num', 3n, '', true],
    ]);
    expect(e.text).toBe('INTR_INFO_VALID_MASK|x+2|-3');
  });
  it('reads directives and their values', () => {
    const { line } = parse('.DQ 1, -2, lbl+3');
    expect(line.stmt).toMatchObject({ kind: 'directive', name: '.dq', column: 1 });
    if (line.stmt?.kind !== 'directive') return;
    expect(line.stmt.args.map((a) => a.text)).toEqual(['1', '-2', 'lbl+3']);
  });
  it('accepts the size keyword with or without ptr', () => {
    const p = program('inc byte ptr [x]\ninc dword [x]\nx: .dq 0');
    expect(p.instrs.map((i) => (i.a?.k === 2 ? i.a.size : 0))).toEqual([1, 4]);
  });
  it('reads unary minus on a term', () => {
    const p = program('mov rax, -5\nmov rbx, 10 - -5\nmov rcx, -x+0x1001\nx: nop');
    expect(p.instrs[0].b).toEqual({ k: 1, lo: 0xfffffffb, hi: 0xffffffff });
    expect(p.instrs[1].b).toEqual({ k: 1, lo: 15, hi: 0 });
    expect(p.labels.x).toBeGreaterThan(0x1001);
    expect(p.instrs[2].b).toEqual({ k: 1, lo: (0x1001 - p.labels.x) >>> 0, hi: 0xffffffff });
  });
});
