import { describe, it, expect } from 'vitest';
import { Op } from '../../../src/core/asm';
import { branchLength, instrLength } from '../../../src/core/asm/lengths';
import { one } from './helpers';

// Expected lengths are those of the real encodings. They were checked against GNU as
// (`as -O1 --64`, Intel syntax, `[rip+label]` for `[label]`), except where as -O1 picks a
// shorter encoding than NASM would: `lea r8, [rsp]` (as: mov r8, rsp) and `test r64, imm`
// with a small positive imm (as: test r32, imm).
const TABLE: [string, number][] = [
  ['mov rax, rbx', 3],
  ['mov eax, ebx', 2],
  ['mov r8, rax', 3],
  ['mov r8d, eax', 3],
  ['mov eax, r9d', 3],
  ['mov rax, 5', 5],
  ['mov r8, 5', 6],
  ['mov eax, 5', 5],
  ['mov r9d, 5', 6],
  ['mov rax, -1', 7],
  ['mov rax, 0xffffffff', 5],
  ['mov rax, 0x100000000', 10],
  ['mov r8, 0x100000000', 10],
  ['mov rax, -0x80000000', 7],
  ['mov rax, -0x80000001', 10],
  ['mov rax, [rbx]', 3],
  ['mov rax, [rsp]', 4],
  ['mov rax, [rbp]', 4],
  ['mov rax, [r12]', 4],
  ['mov rax, [r13]', 4],
  ['mov rax, [rbx+8]', 4],
  ['mov rax, [rbx-8]', 4],
  ['mov rax, [rbx+0x100]', 7],
  ['mov rax, [rsp+8]', 5],
  ['mov rax, [r12+0x100]', 8],
  ['mov eax, [rbx]', 2],
  ['mov eax, [r8]', 3],
  ['mov rax, [label]', 7],
  ['mov [rbx], rax', 3],
  ['mov [rbx+8], eax', 3],
  ['mov qword [rbx], 5', 7],
  ['mov dword [rbx], 5', 6],
  ['mov word [rbx], 5', 5],
  ['mov byte [rbx], 5', 3],
  ['mov qword [label], 1', 11],
  ['lea rax, [rbx+8]', 4],
  ['lea rax, [label]', 7],
  ['lea r8, [rsp]', 4],
  ['add rax, rbx', 3],
  ['add eax, ebx', 2],
  ['sub rax, 1', 4],
  ['sub eax, 1', 3],
  ['add rax, 0x1000', 6],
  ['add eax, 0x1000', 5],
  ['add rbx, 0x1000', 7],
  ['add ebx, 0x1000', 6],
  ['and r8, 0x1000', 7],
  ['cmp rax, [rbx]', 3],
  ['cmp [rbx], rax', 3],
  ['xor dword [rbx], 1', 3],
  ['or qword [rbx], 0x1000', 7],
  ['cmp byte [rbx], 1', 3],
  ['cmp word [rbx], 1', 4],
  ['cmp word [rbx], 0x1000', 5],
  ['add eax, 0xffffffff', 3],
  ['add r8d, 1', 4],
  ['test rax, rbx', 3],
  ['test eax, eax', 2],
  ['test rax, 0x100', 6],
  ['test ebx, 0x100', 6],
  ['test rbx, 0x100', 7],
  ['test [rbx], rax', 3],
  ['test dword [rbx], 0x100', 6],
  ['test byte [rbx], 1', 3],
  ['test word [rbx], 0x100', 5],
  ['shl rax, 1', 3],
  ['shl rax, 4', 4],
  ['shr eax, cl', 2],
  ['shr qword [rbx], 2', 4],
  ['shl byte [rbx], 1', 2],
  ['inc rax', 3],
  ['inc eax', 2],
  ['dec r8d', 3],
  ['inc qword [rbx]', 3],
  ['inc dword [label]', 6],
  ['inc word [rbx]', 3],
  ['inc byte [rbx]', 2],
  ['push rax', 1],
  ['push r8', 2],
  ['pop r15', 2],
  ['push 5', 2],
  ['push 0x1000', 5],
  ['push -1', 2],
  ['push qword [rbx]', 2],
  ['push qword [r8]', 3],
  ['pop qword [rbx]', 2],
  ['push qword [label]', 6],
  ['pushfq', 1],
  ['popfq', 1],
  ['nop', 1],
  ['pause', 2],
  ['hlt', 1],
  ['sti', 1],
  ['cli', 1],
  ['iretq', 2],
  ['int 0x80', 2],
  ['int3', 1],
  ['mov ss, eax', 2],
  ['mov ss, r8d', 3],
  ['rdtsc', 2],
  ['rdmsr', 2],
  ['wrmsr', 2],
  ['ret', 1],
  ['call label', 5],
  ['pushf', 1],
  ['popf', 1],
  ['mov ss, rax', 2],
  ['mov ss, r15', 3],
  ['work 100', 5],
  ['assert rax == 1', 5],
  ['skip "not here"', 5],
  ['assert qword [label] != 0x123456789, "big"', 5],
];

describe('instruction lengths', () => {
  it.each(TABLE)('%s is %i bytes', (src, len) => {
    expect(one(src).len).toBe(len);
  });

  it('adds a SIB byte for rsp and r12 bases only', () => {
    expect(one('mov rax, [rsp+8]').len - one('mov rax, [rbx+8]').len).toBe(1);
    expect(one('mov rax, [r12+8]').len - one('mov rax, [r11+8]').len).toBe(1);
  });

  it('needs a displacement byte for rbp and r13 even when it is zero', () => {
    expect(one('inc qword [rbp]').len).toBe(4);
    expect(one('inc qword [r13]').len).toBe(4);
    expect(one('inc qword [rbp+0]').len).toBe(4);
    expect(one('inc qword [rbx+0]').len).toBe(3);
  });

  it('picks disp8 for -128..127 and disp32 beyond', () => {
    expect(one('mov rax, [rbx+127]').len).toBe(4);
    expect(one('mov rax, [rbx-128]').len).toBe(4);
    expect(one('mov rax, [rbx+128]').len).toBe(7);
    expect(one('mov rax, [rbx-129]').len).toBe(7);
  });

  it('picks imm8 for -128..127 and imm32 beyond, at the operation size', () => {
    expect(one('add rbx, 127').len).toBe(4);
    expect(one('add rbx, -128').len).toBe(4);
    expect(one('add rbx, 128').len).toBe(7);
    expect(one('add ebx, 0xffffff80').len).toBe(3); // -128 as a 32-bit value
    expect(one('add rbx, 0xffffffffffffff80').len).toBe(4); // -128 as a 64-bit value
    expect(one('push 127').len).toBe(2);
    expect(one('push 128').len).toBe(5);
  });

  it('uses the short eAX forms only for rax/eax with a large immediate', () => {
    expect(one('cmp rax, 0x1234').len).toBe(6);
    expect(one('cmp eax, 0x1234').len).toBe(5);
    expect(one('cmp rcx, 0x1234').len).toBe(7);
    expect(one('cmp rax, 1').len).toBe(4);
    expect(one('test rax, 1').len).toBe(6);
    expect(one('test eax, 1').len).toBe(5);
  });

  it('shifts by 1 without an immediate byte', () => {
    expect(one('shr rax, 1').len).toBe(3);
    expect(one('shr rax, 2').len).toBe(4);
    expect(one('shr rax, cl').len).toBe(3);
    expect(one('shr r9d, cl').len).toBe(3);
  });

  it('treats a label immediate like its address value', () => {
    // label is at 0x1000 + this instruction's length: above 127, so imm32
    expect(one('add rbx, label').len).toBe(7);
    expect(one('mov rbx, label').len).toBe(5);
    expect(one('push label').len).toBe(5);
  });

  it('computes lengths directly from operand shapes', () => {
    const rax = { k: 'reg', reg: 0, size: 8 } as const;
    expect(instrLength(Op.MOV, rax, { k: 'imm', value: null })).toBe(5);
    expect(instrLength(Op.ADD, rax, { k: 'imm', value: null })).toBe(4);
    expect(instrLength(Op.MOV, rax, { k: 'mem', base: 5, disp: null, size: 8 })).toBe(4);
    expect(instrLength(Op.NOP, null, null)).toBe(1);
    // A field given by name (an immediate) counts as a legacy register of the register form.
    const field = { k: 'imm', value: 0x4402n } as const;
    const r9 = { k: 'reg', reg: 9, size: 8 } as const;
    expect(instrLength(Op.VMREAD, rax, field)).toBe(3);
    expect(instrLength(Op.VMREAD, r9, field)).toBe(4);
    expect(instrLength(Op.VMWRITE, field, { k: 'imm', value: null })).toBe(3);
    expect(instrLength(Op.VMWRITE, field, { k: 'mem', base: 12, disp: 8n, size: 8 })).toBe(6);
    expect(branchLength(Op.JMP, 2, 0x1000, 0x1000 + 2 + 127)).toBe(2);
    expect(branchLength(Op.JMP, 2, 0x1000, 0x1000 + 2 + 128)).toBe(5);
    expect(branchLength(Op.JCC, 2, 0x1000, 0x1000 + 2 - 128)).toBe(2);
    expect(branchLength(Op.JCC, 2, 0x1000, 0x1000 + 2 - 129)).toBe(6);
    expect(branchLength(Op.JCC, 6, 0x1000, 0x1000)).toBe(6); // never shrinks
    expect(branchLength(Op.CALL, 0, 0x1000, 0x1000)).toBe(5);
  });
});
