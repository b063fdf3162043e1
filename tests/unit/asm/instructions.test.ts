import { describe, it, expect } from 'vitest';
import { Cond, Op, type Instr } from '../../../src/core/asm';
import { one, program } from './helpers';

const reg = (r: number, size: 4 | 8 = 8) => ({ k: 0, reg: r, size });
const imm = (lo: number, hi = 0) => ({ k: 1, lo, hi });
const mem = (base: number, disp: number, size: 1 | 2 | 4 | 8) => ({ k: 2, base, disp, size });

/** op, a, b, len of an instruction. */
function shape(i: Instr) {
  return { op: i.op, a: i.a, b: i.b, len: i.len };
}

describe('mov', () => {
  it('takes r, r', () => {
    expect(shape(one('mov rax, rbx'))).toEqual({ op: Op.MOV, a: reg(0), b: reg(3), len: 3 });
    expect(shape(one('mov r15d, esi'))).toEqual({ op: Op.MOV, a: reg(15, 4), b: reg(6, 4), len: 3 });
  });
  it('takes r, imm', () => {
    expect(shape(one('mov rcx, 0x1F'))).toEqual({ op: Op.MOV, a: reg(1), b: imm(0x1f), len: 5 });
    expect(shape(one('mov eax, 1_000_000'))).toEqual({ op: Op.MOV, a: reg(0, 4), b: imm(1000000), len: 5 });
  });
  it('takes r, mem and mem, r', () => {
    expect(shape(one('mov rax, [rbx+8]'))).toEqual({ op: Op.MOV, a: reg(0), b: mem(3, 8, 8), len: 4 });
    expect(shape(one('mov [rsp-16], edx'))).toEqual({ op: Op.MOV, a: mem(4, -16, 4), b: reg(2, 4), len: 4 });
  });
  it('takes mem, imm with the size keyword', () => {
    expect(shape(one('mov qword [rdi], -2'))).toEqual({
      op: Op.MOV,
      a: mem(7, 0, 8),
      b: imm(0xfffffffe, 0xffffffff),
      len: 7,
    });
    expect(shape(one('mov byte ptr [rdi], 0xff'))).toEqual({
      op: Op.MOV,
      a: mem(7, 0, 1),
      b: imm(0xff),
      len: 3,
    });
    expect(shape(one('mov word [rdi], 0xffff'))).toEqual({
      op: Op.MOV,
      a: mem(7, 0, 2),
      b: imm(0xffff),
      len: 5,
    });
    expect(shape(one('mov dword [rdi], 7'))).toEqual({ op: Op.MOV, a: mem(7, 0, 4), b: imm(7), len: 6 });
  });
  it('takes ss, r as MOV_SS with the register in a', () => {
    expect(shape(one('mov ss, rax'))).toEqual({ op: Op.MOV_SS, a: reg(0), b: null, len: 2 });
    expect(shape(one('mov SS, r9d'))).toEqual({ op: Op.MOV_SS, a: reg(9, 4), b: null, len: 3 });
  });
});

describe('lea', () => {
  it('takes r64, mem', () => {
    expect(shape(one('lea rsi, [rbp-8]'))).toEqual({ op: Op.LEA, a: reg(6), b: mem(5, -8, 8), len: 4 });
    const p = program('lea rax, [buf]\nbuf: .db 1');
    expect(p.instrs[0].b).toEqual(mem(-1, p.labels.buf, 8));
  });
});

describe('arithmetic and logic', () => {
  const ops: [string, number][] = [
    ['add', Op.ADD],
    ['sub', Op.SUB],
    ['and', Op.AND],
    ['or', Op.OR],
    ['xor', Op.XOR],
    ['cmp', Op.CMP],
  ];
  it.each(ops)('%s takes every form', (mn, op) => {
    expect(shape(one(`${mn} rax, rcx`))).toEqual({ op, a: reg(0), b: reg(1), len: 3 });
    expect(shape(one(`${mn} rdx, 3`))).toEqual({ op, a: reg(2), b: imm(3), len: 4 });
    expect(shape(one(`${mn} rdx, [rsi]`))).toEqual({ op, a: reg(2), b: mem(6, 0, 8), len: 3 });
    expect(shape(one(`${mn} [rsi], edx`))).toEqual({ op, a: mem(6, 0, 4), b: reg(2, 4), len: 2 });
    expect(shape(one(`${mn} dword [rsi+4], 1000`))).toEqual({ op, a: mem(6, 4, 4), b: imm(1000), len: 7 });
  });
  it('sign-extends a negative immediate to 64 bits', () => {
    expect(one('sub rsp, -8').b).toEqual(imm(0xfffffff8, 0xffffffff));
  });
});

describe('test', () => {
  it('takes r, r; r, imm; mem, r; mem, imm', () => {
    expect(shape(one('test rax, rax'))).toEqual({ op: Op.TEST, a: reg(0), b: reg(0), len: 3 });
    expect(shape(one('test ecx, 0x200'))).toEqual({ op: Op.TEST, a: reg(1, 4), b: imm(0x200), len: 6 });
    expect(shape(one('test [rbx], rcx'))).toEqual({ op: Op.TEST, a: mem(3, 0, 8), b: reg(1), len: 3 });
    expect(shape(one('test byte [rbx], 1'))).toEqual({ op: Op.TEST, a: mem(3, 0, 1), b: imm(1), len: 3 });
  });
});

describe('shifts', () => {
  it('take r|mem by an immediate count', () => {
    expect(shape(one('shl rax, 4'))).toEqual({ op: Op.SHL, a: reg(0), b: imm(4), len: 4 });
    expect(shape(one('shr dword [rbx], 1'))).toEqual({ op: Op.SHR, a: mem(3, 0, 4), b: imm(1), len: 2 });
    expect(one('shl rax, 255').b).toEqual(imm(255));
  });
  it('take r|mem by CL, encoded as register 1 (size 4) in b', () => {
    expect(shape(one('shl r10, cl'))).toEqual({ op: Op.SHL, a: reg(10), b: reg(1, 4), len: 3 });
    expect(shape(one('shr qword [rbx], CL'))).toEqual({ op: Op.SHR, a: mem(3, 0, 8), b: reg(1, 4), len: 3 });
  });
});

describe('inc and dec', () => {
  it('take r|mem', () => {
    expect(shape(one('inc r12'))).toEqual({ op: Op.INC, a: reg(12), b: null, len: 3 });
    expect(shape(one('dec dword [rax]'))).toEqual({ op: Op.DEC, a: mem(0, 0, 4), b: null, len: 2 });
  });
});

describe('branches', () => {
  it('jmp, call and ret', () => {
    const p = program('start: jmp next\nnext: call start\nret');
    expect(p.instrs.map((i) => [i.op, i.n, i.len, i.cond])).toEqual([
      [Op.JMP, 0x1002, 2, -1],
      [Op.CALL, 0x1000, 5, -1],
      [Op.RET, 0, 1, -1],
    ]);
  });
  const aliases: [string, number][] = [
    ['jo', Cond.O],
    ['jno', Cond.NO],
    ['jb', Cond.B],
    ['jc', Cond.B],
    ['jnae', Cond.B],
    ['jae', Cond.AE],
    ['jnb', Cond.AE],
    ['jnc', Cond.AE],
    ['je', Cond.E],
    ['jz', Cond.E],
    ['jne', Cond.NE],
    ['jnz', Cond.NE],
    ['jbe', Cond.BE],
    ['jna', Cond.BE],
    ['ja', Cond.A],
    ['jnbe', Cond.A],
    ['js', Cond.S],
    ['jns', Cond.NS],
    ['jl', Cond.L],
    ['jnge', Cond.L],
    ['jge', Cond.GE],
    ['jnl', Cond.GE],
    ['jle', Cond.LE],
    ['jng', Cond.LE],
    ['jg', Cond.G],
    ['jnle', Cond.G],
  ];
  it.each(aliases)('%s is JCC with condition %i', (mn, cond) => {
    const i = program(`top: ${mn} top`).instrs[0];
    expect([i.op, i.cond, i.n, i.len, i.text]).toEqual([Op.JCC, cond, 0x1000, 2, `${mn} top`]);
  });
  it('accepts a numeric target', () => {
    expect(one('jmp 0x1000').n).toBe(0x1000);
  });
});

describe('stack', () => {
  it('push r64|imm|mem, pop r64|mem', () => {
    expect(shape(one('push rbp'))).toEqual({ op: Op.PUSH, a: reg(5), b: null, len: 1 });
    expect(shape(one('push -1'))).toEqual({ op: Op.PUSH, a: imm(0xffffffff, 0xffffffff), b: null, len: 2 });
    expect(shape(one('push qword [rsp+8]'))).toEqual({ op: Op.PUSH, a: mem(4, 8, 8), b: null, len: 4 });
    expect(shape(one('pop r11'))).toEqual({ op: Op.POP, a: reg(11), b: null, len: 2 });
    expect(shape(one('pop [rbx]'))).toEqual({ op: Op.POP, a: mem(3, 0, 8), b: null, len: 2 });
  });
  it('pushes 8 bytes even from a label that marks smaller data', () => {
    const p = program('push [w]\nw: .dw 1');
    expect(p.instrs[0].a).toEqual(mem(-1, p.labels.w, 8));
  });
  it('pushf/pushfq and popf/popfq', () => {
    const p = program('pushf\npushfq\npopf\npopfq');
    expect(p.instrs.map((i) => [i.op, i.len])).toEqual([
      [Op.PUSHF, 1],
      [Op.PUSHF, 1],
      [Op.POPF, 1],
      [Op.POPF, 1],
    ]);
  });
});

describe('operand-less and system instructions', () => {
  const cases: [string, number, number][] = [
    ['nop', Op.NOP, 1],
    ['pause', Op.PAUSE, 2],
    ['hlt', Op.HLT, 1],
    ['sti', Op.STI, 1],
    ['cli', Op.CLI, 1],
    ['iretq', Op.IRETQ, 2],
    ['int3', Op.INT3, 1],
    ['rdtsc', Op.RDTSC, 2],
    ['rdmsr', Op.RDMSR, 2],
    ['wrmsr', Op.WRMSR, 2],
    ['ret', Op.RET, 1],
  ];
  it.each(cases)('%s', (src, op, len) => {
    const i = one(src);
    expect([i.op, i.len, i.a, i.b, i.n, i.cond, i.assertOp, i.message]).toEqual([
      op,
      len,
      null,
      null,
      0,
      -1,
      null,
      null,
    ]);
  });
  it('int N puts the vector in n', () => {
    expect([one('int 0x80').op, one('int 0x80').n, one('int 0x80').len]).toEqual([Op.INT, 0x80, 2]);
    expect(one('int 255').n).toBe(255);
    expect(one('int 0').n).toBe(0);
  });
});

describe('lab instructions', () => {
  it('work N puts the cycle count in n', () => {
    expect(shape(one('work 1000'))).toEqual({ op: Op.WORK, a: null, b: null, len: 5 });
    expect(one('work 1000').n).toBe(1000);
    expect(one('work 1').n).toBe(1);
  });
  it('assert A op B, "message"', () => {
    const i = one('assert rax == 5, "five"');
    expect([i.op, i.a, i.b, i.assertOp, i.message, i.len, i.text]).toEqual([
      Op.ASSERT,
      reg(0),
      imm(5),
      '==',
      'five',
      5,
      'assert rax == 5, "five"',
    ]);
  });
  it.each(['==', '!=', '<', '<=', '>', '>='])('assert takes %s', (cmp) => {
    expect(one(`assert rax ${cmp} rbx`).assertOp).toBe(cmp);
  });
  it('assert defaults the message to the assertion text', () => {
    expect(one('assert  ecx   >=  0x10').message).toBe('ecx >= 0x10');
  });
  it('assert reads escapes in the message', () => {
    const i = one('assert rax != 0, "say \\"hi\\" \\\\ bye"');
    expect(i.message).toBe('say "hi" \\ bye');
    expect(i.text).toBe('assert rax != 0, "say \\"hi\\" \\\\ bye"');
  });
  it('assert compares memory, labels and registers', () => {
    const p = program('assert dword [n] == rbx\nassert [n] < handler\nhandler: ret\nn: .dd 3');
    expect(p.instrs[0].a).toEqual(mem(-1, p.labels.n, 4));
    expect(p.instrs[0].b).toEqual(reg(3));
    expect(p.instrs[1].a).toEqual(mem(-1, p.labels.n, 4));
    expect(p.instrs[1].b).toEqual(imm(p.labels.handler));
  });
  it('assert sizes a memory operand from the register on the other side', () => {
    const p = program('assert ecx == [n]\nn: .dq 3');
    expect(p.instrs[0].b).toEqual(mem(-1, p.labels.n, 4));
  });
});

describe('case and text', () => {
  it('mnemonics, registers and size keywords are case-insensitive', () => {
    expect(shape(one('MOV RAX, QWORD PTR [RBX]'))).toEqual({
      op: Op.MOV,
      a: reg(0),
      b: mem(3, 0, 8),
      len: 3,
    });
    expect(one('MOV RAX, QWORD PTR [RBX]').text).toBe('mov rax, qword ptr [rbx]');
  });
  it('normalises spacing in the text', () => {
    const p = program('x:   mov   rax ,[ x + 8 ]  ; comment\n\tJNE\tx\nassert rax==5,"five"');
    expect(p.instrs.map((i) => i.text)).toEqual(['mov rax, [x+8]', 'jne x', 'assert rax == 5, "five"']);
  });
  it('records line and column of the mnemonic', () => {
    const p = program('\n  nop\nlbl: hlt');
    expect(p.instrs.map((i) => [i.line, i.column])).toEqual([
      [2, 3],
      [3, 6],
    ]);
  });
});
