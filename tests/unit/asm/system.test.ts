import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { Op } from '../../../src/core/asm';
import { errorList, one, program } from './helpers';

// Lengths checked against GNU as (`as --64`, Intel syntax) and objdump. INTO (CE) is invalid
// in 64-bit mode, so `as` refuses it; its one-byte length is that of its opcode.
const LENGTHS: [string, number][] = [
  ['ud2', 2],
  ['int1', 1],
  ['icebp', 1],
  ['into', 1],
  ['wbinvd', 2],
  ['invd', 2],
  ['rdpmc', 2],
  ['monitor', 3],
  ['mwait', 3],
  ['div ecx', 2],
  ['div rcx', 3],
  ['div r9', 3],
  ['idiv qword [rbx]', 3],
  ['idiv dword [r12+8]', 5],
  ['div byte [rbx]', 2],
  ['div word [rbx]', 3],
  ['in al, 0x80', 2],
  ['in ax, 0x80', 3],
  ['in eax, 0x80', 2],
  ['in al, dx', 1],
  ['in ax, dx', 2],
  ['in eax, dx', 1],
  ['out 0x80, al', 2],
  ['out 0x80, ax', 3],
  ['out 0x80, eax', 2],
  ['out dx, al', 1],
  ['out dx, ax', 2],
  ['out dx, eax', 1],
  ['invlpg [rbx]', 3],
  ['invlpg [r8+8]', 5],
  ['invlpg [rsp]', 4],
  ['rdrand eax', 3],
  ['rdrand rax', 4],
  ['rdrand r10', 4],
  ['rdrand r10d', 4],
  ['mov cr0, rax', 3],
  ['mov rax, cr0', 3],
  ['mov cr3, r9', 4],
  ['mov r9, cr4', 4],
  ['mov cr8, rax', 4],
  ['mov rax, cr8', 4],
  ['mov rax, [rbx+rcx*4]', 4],
  ['mov rax, [rbx+rcx*4+8]', 5],
  ['mov rax, [rbx+rcx*4+0x100]', 8],
  ['mov rax, [rbp+rcx]', 5],
  ['mov rax, [r13+rcx*2]', 5],
  ['mov rax, [rcx*8+0x10]', 8],
  ['mov rax, [rbx+r9*2]', 4],
  ['mov eax, [rsp+rcx]', 3],
  ['mov rax, [r12+r15*8+1]', 5],
  ['work rax', 5],
];

describe('new instructions: real encoding lengths', () => {
  for (const [text, len] of LENGTHS) {
    it(`${text} is ${len} bytes`, () => {
      expect(one(text).len).toBe(len);
    });
  }
});

describe('new instructions: operands', () => {
  it('in/out: the accumulator is register 0 of its size, the port an imm8 or DX', () => {
    expect(one('in al, 0x60')).toMatchObject({
      op: Op.IN,
      a: { k: 0, reg: 0, size: 1 },
      b: { k: 1, lo: 0x60, hi: 0 },
    });
    expect(one('in eax, dx')).toMatchObject({ a: { k: 0, reg: 0, size: 4 }, b: { k: 0, reg: 2, size: 2 } });
    expect(one('out dx, ax')).toMatchObject({
      op: Op.OUT,
      a: { k: 0, reg: 2, size: 2 },
      b: { k: 0, reg: 0, size: 2 },
    });
  });
  it('mov to and from CRn keeps the control register number in n', () => {
    expect(one('mov cr4, rbx')).toMatchObject({ op: Op.MOV_TO_CR, a: { k: 0, reg: 3, size: 8 }, n: 4 });
    expect(one('mov r8, cr8')).toMatchObject({ op: Op.MOV_FROM_CR, a: { k: 0, reg: 8, size: 8 }, n: 8 });
    expect(one('mov rax, cr3').text).toBe('mov rax, cr3');
  });
  it('div/idiv take a register or sized memory; invlpg an address; rdrand r32/r64', () => {
    expect(one('div rcx')).toMatchObject({ op: Op.DIV, a: { k: 0, reg: 1, size: 8 } });
    expect(one('idiv dword [rbx+4]')).toMatchObject({ op: Op.IDIV, a: { k: 2, base: 3, disp: 4, size: 4 } });
    expect(one('invlpg [rax+0x1000]')).toMatchObject({ op: Op.INVLPG, a: { k: 2, base: 0, disp: 0x1000 } });
    expect(one('rdrand ecx')).toMatchObject({ op: Op.RDRAND, a: { k: 0, reg: 1, size: 4 } });
  });
  it('work takes a register holding the cycle count', () => {
    expect(one('work rcx')).toMatchObject({ op: Op.WORK, a: { k: 0, reg: 1, size: 8 }, n: 0 });
  });
  it('index registers: [base + index*scale + disp] and [index*scale + disp]', () => {
    expect(one('mov rax, [rbx+rcx*4+8]')).toMatchObject({
      b: { k: 2, base: 3, index: 1, scale: 4, disp: 8, size: 8 },
    });
    expect(one('lea rax, [rsi*8+0x10]')).toMatchObject({
      b: { k: 2, base: -1, index: 6, scale: 8, disp: 0x10 },
    });
    expect(one('mov rax, [rbx+rcx]').b).toMatchObject({ index: 1, scale: 1 });
    expect(one('mov rax, [rbx]').b).toEqual({ k: 2, base: 3, disp: 0, size: 8 });
    expect(one('mov rax, [rbx+rcx*2-8]').text).toBe('mov rax, [rbx+rcx*2-8]');
  });
  it('* multiplies before + and - and |', () => {
    expect(one('mov rax, 2+3*4').a).toBeTruthy();
    expect(one('mov rax, 2+3*4').b).toEqual({ k: 1, lo: 14, hi: 0 });
    expect(one('mov rax, 1|2*4').b).toEqual({ k: 1, lo: 9, hi: 0 });
    expect(one('mov rax, 10-2*-3').b).toEqual({ k: 1, lo: 16, hi: 0 });
    expect(one('mov rax, [rbx+4*8]').b).toMatchObject({ disp: 32 });
    const p = program('mov rax, data + 2*4\ndata: .dq 0\n.dq 3*5, 0x10*0x10');
    expect(p.instrs[0].b).toEqual({ k: 1, lo: p.labels.data + 8, hi: 0 });
    expect([...p.image.slice(p.labels.data - p.origin + 8, p.labels.data - p.origin + 9)]).toEqual([15]);
  });
});

describe('new instructions: wrong forms are line:column errors naming the accepted forms', () => {
  const CASES: [string, string[]][] = [
    ['ud2 rax', ["1:5 'ud2' does not take (reg); 'ud2' takes no operands"]],
    ['int1 3', ["1:6 'int1' does not take (imm); 'int1' takes no operands"]],
    ['invd rax', ["1:6 'invd' does not take (reg); 'invd' takes no operands"]],
    ['div 5', ["1:5 'div' does not take (imm); 'div' takes r32, r64, byte/word/dword/qword [mem]"]],
    ['idiv', ["1:1 'idiv' needs 1 operand; 'idiv' takes r32, r64, byte/word/dword/qword [mem]"]],
    ['in rax, dx', ["1:4 'in' does not take (reg, dx); 'in' takes al|ax|eax, imm8 and al|ax|eax, dx"]],
    ['in al, ecx', ["1:8 'in' does not take (acc, reg); 'in' takes al|ax|eax, imm8 and al|ax|eax, dx"]],
    ['out al, dx', ["1:5 'out' does not take (acc, dx); 'out' takes imm8, al|ax|eax and dx, al|ax|eax"]],
    ['in al, 0x100', ['1:8 port 256 is out of range (0–255; use dx for a 16-bit port)']],
    ['invlpg rax', ["1:8 'invlpg' does not take (reg); 'invlpg' takes [mem]"]],
    ['rdrand [rbx]', ["1:8 'rdrand' does not take (mem); 'rdrand' takes r32, r64"]],
    [
      'monitor rax',
      ["1:9 'monitor' does not take (reg); 'monitor' takes no operands (RAX, ECX and EDX are implicit)"],
    ],
    [
      'mov cr0, 5',
      ["1:10 'mov' does not take (cr, imm); 'mov' takes cr0|cr3|cr4|cr8, r64 and r64, cr0|cr3|cr4|cr8"],
    ],
    ['mov eax, cr0', ["1:5 'mov' to or from cr0 needs a 64-bit register, not 'eax'"]],
    ['mov rax, cr2', ["1:10 'cr2' is not a control register of the lab (it has cr0, cr3, cr4 and cr8)"]],
    ['mov al, 1', ["1:5 unknown register 'al'"]],
    [
      'work [rbx]',
      ["1:6 'work' does not take (mem); 'work' takes imm (cycles), r32/r64 (cycles in a register)"],
    ],
    ['mov rax, [rbx+rsp*2]', ['1:15 rsp cannot be an index register']],
    ['mov rax, [rbx+rcx*3]', ["1:19 expected a scale of 1, 2, 4 or 8 after '*', found '3'"]],
    ['mov rax, [rbx+ecx*2]', ["1:15 a memory operand needs a 64-bit base register, not 'ecx'"]],
    ['out: nop', ["1:1 'out' is an instruction name and cannot be a label"]],
    ['dx: nop', ["1:1 'dx' is a register name and cannot be a label"]],
  ];
  for (const [src, expected] of CASES) {
    it(JSON.stringify(src), () => {
      expect(errorList(src)).toEqual(expected);
    });
  }
});

describe('the example of docs/assembly.md', () => {
  it('assembles, with the lengths of the table', () => {
    const doc = readFileSync(new URL('../../../docs/assembly.md', import.meta.url), 'utf8');
    const blocks = [...doc.matchAll(/```asm\n([\s\S]*?)```/g)].map((m) => m[1]);
    const found = blocks.filter((b) => b.includes('rdrand r9'));
    expect(found).toHaveLength(1);
    const p = program(found[0]);
    expect(p.instrs.map((i) => i.len)).toEqual([2, 1, 3, 4, 2, 1, 3, 4, 3, 4, 5]);
  });
});
