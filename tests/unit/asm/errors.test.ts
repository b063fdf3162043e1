import { describe, it, expect } from 'vitest';
import { assemble } from '../../../src/core/asm';
import { errorList, errors } from './helpers';

/** [source, the errors as `line:column message`]. */
type Case = [string, string[]];

const LEXICAL: Case[] = [
  ['assert rax == 1, "oops', ['1:18 unterminated string']],
  ['mov rax, @', ["1:10 unexpected character '@'"]],
  ['mov rax, 12abc', ["1:10 invalid number '12abc'"]],
  ['mov rax, 0x', ["1:10 invalid number '0x'"]],
  ['mov rax, 18446744073709551616', ['1:10 number 18446744073709551616 does not fit in 64 bits']],
  ['assert rax == 1, "a\\qb"', ["1:20 unknown escape '\\q' in string"]],
  ['@', ["1:1 unexpected character '@'"]],
];

const SYNTAX: Case[] = [
  ['movx rax, 1', ["1:1 unknown instruction 'movx'"]],
  ['nop\n  .foo 1', ["2:3 unknown directive '.foo'"]],
  ['mov rax 5', ["1:9 expected ',' between operands"]],
  ['mov rax,', ["1:9 expected an operand after ','"]],
  ['mov rax, [rbx', ["1:14 expected ']', found end of line"]],
  ['mov rax, []', ["1:11 expected an address inside '[ ]'"]],
  ['mov rax, [eax]', ["1:11 a memory operand needs a 64-bit base register, not 'eax'"]],
  ['inc qword rax', ["1:11 expected '[' after 'qword'"]],
  ['mov rax, [x+rbx]\nx: nop', ["1:13 register 'rbx' cannot be used in an expression"]],
  ['mov rax, "x"', ['1:10 a string can only be the message of an assert or the reason of a skip']],
  ['assert rax 5', ['1:12 expected a comparison (==, !=, <, <=, >, >=) after the first operand']],
  ['assert rax == 5, five', ["1:18 expected a message in double quotes after ','"]],
  ['assert rax == 5, "a" b', ["1:22 unexpected 'b' after the message"]],
  ['skip', ['1:5 expected the reason in double quotes after skip']],
  ['skip rax', ['1:6 expected the reason in double quotes after skip']],
  ['skip "a" b', ["1:10 unexpected 'b' after the reason"]],
  ['5 nop', ["1:1 expected an instruction or a directive, found '5'"]],
  ['rax: nop', ["1:1 'rax' is a register name and cannot be a label"]],
  ['nop\nMov: nop', ["2:1 'Mov' is an instruction name and cannot be a label"]],
  ['jne: nop', ["1:1 'jne' is an instruction name and cannot be a label"]],
  ['byte: nop', ["1:1 'byte' is a keyword and cannot be a label"]],
];

const FORMS: Case[] = [
  ['mov 5, rax', ["1:5 'mov' does not take (imm, reg)"]],
  ['mov [rax], [rbx]', ["1:12 'mov' does not take (mem, mem)"]],
  ['mov rax', ["1:1 'mov' does not take (reg)"]],
  ['mov', ["1:1 'mov' needs 2 operands"]],
  ['push', ["1:1 'push' needs 1 operand"]],
  ['nop rax', ["1:5 'nop' does not take (reg)"]],
  ['ret 8', ["1:5 'ret' does not take (imm)"]],
  ['lea rax, rbx', ["1:10 'lea' does not take (reg, reg)"]],
  ['test rax, [rbx]', ["1:11 'test' does not take (reg, mem)"]],
  ['shl rax, rbx', ["1:10 'shl' does not take (reg, reg)"]],
  ['add rax, cl', ["1:10 'add' does not take (reg, cl)"]],
  ['mov ss, [rbx]', ["1:9 'mov' does not take (ss, mem)"]],
  ['mov rax, ss', ["1:10 'mov' does not take (reg, ss)"]],
  ['jmp rax', ["1:5 'jmp' does not take (reg)"]],
  ['jne [rax]', ["1:5 'jne' does not take (mem)"]],
  ['pop 5', ["1:5 'pop' does not take (imm)"]],
  ['inc rax, 1', ["1:10 'inc' does not take (reg, imm)"]],
  ['int rax', ["1:5 'int' does not take (reg)"]],
  ['assert cl == 1', ["1:8 'assert' does not take (cl, imm)"]],
  ['mov rax, ebx', ["1:10 operand sizes differ: 'rax' is 64-bit, 'ebx' is 32-bit"]],
  ['mov eax, qword [rbx]', ["1:10 operand sizes differ: 'eax' is 32-bit, 'qword [rbx]' is 64-bit"]],
  ['lea eax, [rbx]', ["1:5 'lea' needs a 64-bit destination register, not 'eax'"]],
  ['push eax', ["1:6 'push' needs a 64-bit register, not 'eax'"]],
  ['pop dword [rbx]', ["1:5 'pop' needs a qword memory operand"]],
  ['mov rax, [rxx]', ["1:11 unknown register 'rxx'"]],
  ['mov rax, rxx', ["1:10 unknown register 'rxx'"]],
  ['mov al, 1', ["1:5 unknown register 'al'"]],
];

const VALUES: Case[] = [
  ['add rax, 4294967296', ['1:10 immediate 4294967296 does not fit in signed 32 bits']],
  ['and rax, 0xffffffff', ['1:10 immediate 4294967295 does not fit in signed 32 bits']],
  ['mov qword [rbx], 0x80000000', ['1:18 immediate 2147483648 does not fit in signed 32 bits']],
  ['test qword [rbx], -0x80000001', ['1:19 immediate -2147483649 does not fit in signed 32 bits']],
  ['push 0x80000000', ['1:6 immediate 2147483648 does not fit in signed 32 bits']],
  ['mov eax, 0x100000000', ['1:10 immediate 4294967296 does not fit in 32 bits']],
  ['mov word [rbx], 0x10000', ['1:17 immediate 65536 does not fit in 16 bits']],
  ['mov byte [rbx], 256', ['1:17 immediate 256 does not fit in 8 bits']],
  ['mov byte [rbx], -129', ['1:17 immediate -129 does not fit in 8 bits']],
  ['mov rax, 0xffffffffffffffff+1', ['1:10 value 18446744073709551616 does not fit in 64 bits']],
  ['mov rax, [rbx+0x80000000]', ['1:10 displacement 2147483648 does not fit in signed 32 bits']],
  ['mov rax, [0x100000000]', ['1:10 address 4294967296 is out of range (0–0xffffffff)']],
  ['shl rax, 256', ['1:10 shift count 256 is out of range (0–255)']],
  ['shr rax, -1', ['1:10 shift count -1 is out of range (0–255)']],
  ['int 256', ['1:5 interrupt vector 256 is out of range (0–255)']],
  ['work 0', ['1:6 cycle count 0 is out of range (1–9007199254740991)']],
  ['jmp -5', ['1:5 branch target -5 is out of range (0–0xffffffff)']],
  ['.db 256\nnop', ['1:5 value 256 does not fit in 1 byte']],
  ['.dw 1, 0x10000\nnop', ['1:8 value 65536 does not fit in 2 bytes']],
  ['.dd -0x80000001\nnop', ['1:5 value -2147483649 does not fit in 4 bytes']],
];

const LABELS_AND_DIRECTIVES: Case[] = [
  ['jmp foo', ["1:5 undefined label 'foo'"]],
  ['mov rax, [rbx+8+bar]', ["1:17 undefined label 'bar'"]],
  ['.dq here, there\nnop', ["1:5 undefined label 'here'", "1:11 undefined label 'there'"]],
  ['nop\nnop\nloop: nop\nloop: nop', ["4:1 duplicate label 'loop' (first defined on line 3)"]],
  ['.intgate 300, h\nh: iretq', ['1:10 IDT vector 300 is out of range (0–255)']],
  ['.trapgate -1, h\nh: iretq', ['1:11 IDT vector -1 is out of range (0–255)']],
  [
    '.intgate 14, h\n.trapgate 14, h\nh: iretq',
    ['2:11 duplicate IDT gate for vector 14 (first set on line 1)'],
  ],
  ['.intgate 14, nothere\nnop', ["1:14 undefined label 'nothere'"]],
  ['.intgate 14\nnop', ["1:1 '.intgate' needs a vector and a label"]],
  ['.intgate 14, 5\nnop', ["1:14 expected a label as the gate's handler, found '5'"]],
  ['.align 3\nnop', ['1:8 alignment 3 is not a power of two']],
  ['.align 0\nnop', ['1:8 alignment 0 is not a power of two']],
  ['.align 0x20000\nnop', ['1:8 alignment 131072 is too large (at most 65536)']],
  ['x: .zero x\nnop', ["1:10 the argument of '.zero' must be a number, not a label"]],
  ['.zero\nnop', ["1:1 '.zero' needs one number"]],
  ['.zero -1\nnop', ["1:7 '.zero' count -1 is out of range (0–16777216)"]],
  ['.db\nnop', ["1:1 '.db' needs at least one value"]],
  ['', ['1:1 program has no instructions']],
  ['x: .dq 1 ; only data\n.zero 4', ['1:1 program has no instructions']],
];

describe('errors', () => {
  describe.each([
    ['lexical', LEXICAL],
    ['syntax', SYNTAX],
    ['operand forms', FORMS],
    ['values', VALUES],
    ['labels and directives', LABELS_AND_DIRECTIVES],
  ] as [string, Case[]][])('%s', (_, cases) => {
    it.each(cases)('%j', (src, expected) => {
      expect(errorList(src)).toEqual(expected);
    });
  });

  it('collects errors from every line, sorted by line then column', () => {
    const src = ['jmp nowhere', 'mov rax, ebx', 'nop', 'movx', '.db 300, 400', 'add rax 1'].join('\n');
    expect(errorList(src)).toEqual([
      "1:5 undefined label 'nowhere'",
      "2:10 operand sizes differ: 'rax' is 64-bit, 'ebx' is 32-bit",
      "4:1 unknown instruction 'movx'",
      '5:5 value 300 does not fit in 1 byte',
      '5:10 value 400 does not fit in 1 byte',
      "6:9 expected ',' between operands",
    ]);
  });

  it('reports at most 50 errors, the first ones', () => {
    const src = Array.from({ length: 80 }, (_, i) => `bad${i}`).join('\n');
    const list = errors(src);
    expect(list.length).toBe(50);
    expect(list[0]).toEqual({ line: 1, column: 1, message: "unknown instruction 'bad0'" });
    expect(list[49].line).toBe(50);
  });

  it('keeps labels of a line whose statement is wrong, so that no error cascades', () => {
    expect(errorList('top: mov rax, @\njmp top')).toEqual(["1:15 unexpected character '@'"]);
    expect(errorList('top: movx\njmp top')).toEqual(["1:6 unknown instruction 'movx'"]);
  });

  it('rejects an origin outside 0..0xffffffff', () => {
    const r = assemble('nop', { origin: -1 });
    expect(r).toEqual({
      ok: false,
      errors: [{ line: 1, column: 1, message: 'origin -1 is out of range (0–0xffffffff)' }],
    });
  });

  it('rejects an image larger than 16 MiB', () => {
    expect(errorList('nop\n.zero 0xffffff\nhlt\n.zero 1')).toEqual([
      '3:1 program is larger than 16777216 bytes',
    ]);
  });

  it('never throws, whatever the input', () => {
    // Deterministic garbage made of the language's own pieces.
    const pieces = [
      'mov',
      'rax',
      ',',
      '[',
      ']',
      '+',
      '-',
      'x:',
      '"',
      '\\',
      '0x',
      '9',
      'qword',
      'jne',
      '.db',
      '.intgate',
      ';',
      '#',
      '==',
      'cl',
      'ss',
      '\n',
      ' ',
      '__proto__',
      'constructor',
      'toString',
      '.align',
      '|',
      'vmread',
      'vmwrite',
      'vmxon',
      'lidt',
      'VM_EXIT_REASON',
      'GUEST_RIPP',
      'TSC_OFFSET_HIGH',
      '.idt',
      '.idtr',
      '__idt',
      '.trapgate',
    ];
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let k = 0; k < 500; k++) {
      const src = Array.from({ length: 1 + rand(30) }, () => pieces[rand(pieces.length)]).join(
        rand(2) ? ' ' : '',
      );
      const r = assemble(src);
      if (!r.ok) {
        for (const e of r.errors) {
          expect(e.message).not.toMatch(/internal/);
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(e.column).toBeGreaterThanOrEqual(1);
        }
      }
    }
  });

  it('does not take Object.prototype names for mnemonics or keywords', () => {
    expect(errorList('constructor rax')).toEqual(["1:1 unknown instruction 'constructor'"]);
    expect(errorList('toString: nop\njmp toString\nmov rax, hasOwnProperty')).toEqual([
      "3:10 undefined label 'hasOwnProperty'",
    ]);
  });
});
