// `mov drN, r64` / `mov r64, drN` (SDM Vol. 2B "MOV—Move to/from Debug Registers"): forms,
// encoded lengths (0F 23 /r and 0F 21 /r, REX.B for r8–r15) and errors.
import { describe, expect, it } from 'vitest';
import { Op } from '../../../src/core/asm/ir';
import { errorList, one } from './helpers';

describe('mov with debug registers', () => {
  it.each([
    ['mov dr0, rax', Op.MOV_TO_DR, 0, 0, 3],
    ['mov dr7, rbx', Op.MOV_TO_DR, 7, 3, 3],
    ['mov DR6, r15', Op.MOV_TO_DR, 6, 15, 4],
    ['mov rcx, dr6', Op.MOV_FROM_DR, 6, 1, 3],
    ['mov r8, dr3', Op.MOV_FROM_DR, 3, 8, 4],
    ['mov rax, dr4', Op.MOV_FROM_DR, 4, 0, 3],
  ])('%s assembles to op %i, DR%i, register %i, %i bytes', (src, op, dr, reg, len) => {
    const i = one(src);
    expect(i.op).toBe(op);
    expect(i.n).toBe(dr);
    expect(i.a).toEqual({ k: 0, reg, size: 8 });
    expect(i.b).toBeNull();
    expect(i.len).toBe(len);
  });

  it('a 32-bit register is an error naming the forms', () => {
    expect(errorList('mov dr0, eax')).toEqual([
      "1:10 'mov' with a debug register needs a 64-bit register, not 'eax' (forms: mov drN, r64 / mov r64, drN)",
    ]);
    expect(errorList('mov ecx, dr7')[0]).toMatch(/^1:5 'mov' with a debug register needs a 64-bit register/);
  });

  it('memory, immediates and DR8 are rejected', () => {
    expect(errorList('mov dr0, [rax]')).toEqual(["1:10 'mov' does not take (dr, mem)"]);
    expect(errorList('mov dr1, 5')).toEqual(["1:10 'mov' does not take (dr, imm)"]);
    expect(errorList('mov dr0, dr1')).toEqual(["1:10 'mov' does not take (dr, dr)"]);
    expect(errorList('mov dr8, rax')).toEqual(["1:5 unknown register 'dr8'"]);
  });

  it('a debug register name is reserved', () => {
    expect(errorList('dr3: nop')[0]).toMatch(/dr3.*register name/);
    expect(errorList('mov rax, 4 + dr2')).toEqual(["1:14 register 'dr2' cannot be used in an expression"]);
  });
});
