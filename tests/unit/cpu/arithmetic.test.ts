// ADD/SUB/AND/OR/XOR/CMP/TEST, SHL/SHR and INC/DEC: results and the status flags CF, ZF, SF,
// OF and PF (SDM Vol. 1 "Status Flags"; Vol. 2 entries of each instruction), in 32 and 64 bits.
import { describe, expect, it } from 'vitest';
import { RF, STOP, cpu, label, memQ, reg, run } from '../helpers';

interface Flags {
  CF: boolean;
  ZF: boolean;
  SF: boolean;
  OF: boolean;
  PF: boolean;
}

function flagsOf(f: number): Flags {
  return {
    CF: (f & RF.CF) !== 0,
    ZF: (f & RF.ZF) !== 0,
    SF: (f & RF.SF) !== 0,
    OF: (f & RF.OF) !== 0,
    PF: (f & RF.PF) !== 0,
  };
}

function exec(lines: string[], data: string[] = []) {
  const s = run(['start:', ...lines, ...STOP, ...data]);
  return { s, rax: reg(s, 'rax'), f: flagsOf(cpu(s).rflags) };
}

const F = (on: string): Flags => ({
  CF: on.includes('C'),
  ZF: on.includes('Z'),
  SF: on.includes('S'),
  OF: on.includes('O'),
  PF: on.includes('P'),
});

// [setup and operation, expected RAX, flags that are set (C Z S O P)]
const CASES: [string, string[], bigint, string][] = [
  // 32-bit add
  ['add 32: carry out, zero', ['mov eax, 0xffffffff', 'add eax, 1'], 0n, 'CZP'],
  ['add 32: signed overflow', ['mov eax, 0x7fffffff', 'add eax, 1'], 0x80000000n, 'SOP'],
  ['add 32: even parity of the low byte', ['mov eax, 1', 'add eax, 2'], 3n, 'P'],
  ['add 32: odd parity', ['mov eax, 2', 'add eax, 5'], 7n, ''],
  [
    'add 32: negative + negative overflows to positive',
    ['mov eax, 0x80000000', 'add eax, 0x80000000'],
    0n,
    'CZOP',
  ],
  ['add 32: parity looks at the low byte only', ['mov eax, 0x100', 'add eax, 0x200'], 0x300n, 'P'],
  ['add 32: register source', ['mov eax, 0xfffffffe', 'mov ebx, 3', 'add eax, ebx'], 1n, 'C'],
  // 64-bit add
  [
    'add 64: carry from the low half into the high half',
    ['mov rax, 0xffffffff', 'add rax, 1'],
    0x100000000n,
    'P',
  ],
  ['add 64: carry out of bit 63', ['mov rax, -1', 'add rax, 1'], 0n, 'CZP'],
  ['add 64: signed overflow', ['mov rax, 0x7fffffffffffffff', 'add rax, 1'], 0x8000000000000000n, 'SOP'],
  [
    'add 64: both signs set, carry and overflow',
    ['mov rax, 0x8000000000000000', 'mov rbx, rax', 'add rax, rbx'],
    0n,
    'CZOP',
  ],
  ['add 64: negative immediate is sign-extended', ['mov rax, 5', 'add rax, -1'], 4n, 'C'],
  // 32-bit sub
  ['sub 32: borrow', ['mov eax, 0', 'sub eax, 1'], 0xffffffffn, 'CSP'],
  ['sub 32: signed overflow', ['mov eax, 0x80000000', 'sub eax, 1'], 0x7fffffffn, 'OP'],
  ['sub 32: equal gives zero', ['mov eax, 9', 'sub eax, 9'], 0n, 'ZP'],
  ['sub 32: clears the upper half', ['mov rax, -1', 'sub eax, 1'], 0xfffffffen, 'S'],
  // 64-bit sub
  [
    'sub 64: borrow from the high half, no carry out',
    ['mov rax, 0x100000000', 'sub rax, 1'],
    0xffffffffn,
    'P',
  ],
  ['sub 64: borrow out', ['xor eax, eax', 'sub rax, 1'], 0xffffffffffffffffn, 'CSP'],
  ['sub 64: signed overflow', ['mov rax, 0x8000000000000000', 'sub rax, 1'], 0x7fffffffffffffffn, 'OP'],
  [
    'sub 64: borrow into a high half of all ones',
    ['xor eax, eax', 'mov rbx, 0xffffffff00000001', 'sub rax, rbx'],
    0xffffffffn,
    'CP',
  ],
  [
    'sub 64: borrow absorbed by a larger high half',
    ['mov rax, 0xffffffff00000000', 'mov rbx, 0xfffffffe00000001', 'sub rax, rbx'],
    0xffffffffn,
    'P',
  ],
  // logic: CF and OF cleared
  ['and clears CF and OF', ['mov eax, -1', 'add eax, 1', 'mov eax, 0xf0', 'and eax, 0x3c'], 0x30n, 'P'],
  ['or clears CF', ['mov eax, -1', 'add eax, 1', 'or eax, 0x80'], 0x80n, ''],
  ['or clears OF', ['mov eax, 0x7fffffff', 'add eax, 1', 'or eax, 1'], 0x80000001n, 'S'],
  ['xor with itself zeroes', ['mov rax, -1', 'xor eax, eax'], 0n, 'ZP'],
  [
    'and 64: ZF looks at both halves',
    ['mov rax, 0x100000000', 'mov rbx, rax', 'and rax, rbx'],
    0x100000000n,
    'P',
  ],
  [
    'and 64: SF is bit 63',
    ['mov rax, -1', 'mov rbx, 0x8000000000000000', 'and rax, rbx'],
    0x8000000000000000n,
    'SP',
  ],
  ['xor 64', ['mov rax, 0xff00000000000001', 'mov rbx, 0xff00000000000001', 'xor rax, rbx'], 0n, 'ZP'],
];

describe('arithmetic and logic results and flags', () => {
  it.each(CASES)('%s', (_name, lines, rax, flags) => {
    const r = exec(lines);
    expect(r.rax).toBe(rax);
    expect(r.f).toEqual(F(flags));
  });
});

describe('cmp and test', () => {
  it('cmp sets flags as sub without writing the destination', () => {
    const r = exec(['mov eax, 5', 'cmp eax, 7']);
    expect(r.rax).toBe(5n);
    expect(r.f).toEqual(F('CS')); // 5-7 = 0xfffffffe: low byte 0xfe has 7 bits set, odd parity
  });

  it('cmp with a memory operand', () => {
    const r = exec(['mov rax, 0x100000000', 'cmp rax, [v]'], ['v: .dq 0x100000000']);
    expect(r.f).toEqual(F('ZP'));
    expect(r.rax).toBe(0x100000000n);
  });

  it('cmp 32 vs 64 bits on the same value', () => {
    expect(exec(['mov rax, 0x100000000', 'cmp eax, 1']).f.CF).toBe(true);
    expect(exec(['mov rax, 0x100000000', 'cmp rax, 1']).f.CF).toBe(false);
  });

  it('test sets flags as and without writing', () => {
    const r = exec(['mov eax, 0x80000000', 'test eax, eax']);
    expect(r.rax).toBe(0x80000000n);
    expect(r.f).toEqual(F('SP'));
    expect(exec(['mov rax, 0x100000000', 'test eax, eax']).f.ZF).toBe(true);
    expect(exec(['mov rax, 0x100000000', 'test rax, rax']).f.ZF).toBe(false);
  });

  it('test clears CF and OF', () => {
    const r = exec(['mov eax, 0x7fffffff', 'add eax, 1', 'test eax, 1']);
    expect(r.f).toEqual(F('ZP'));
  });
});

describe('shl and shr', () => {
  const SHIFTS: [string, string[], bigint, string][] = [
    ['shl 32 by 1: CF = bit out, OF = MSB xor CF', ['mov eax, 0x80000001', 'shl eax, 1'], 2n, 'CO'],
    ['shl 32 by 31', ['mov eax, 1', 'shl eax, 31'], 0x80000000n, 'SP?'],
    ['shl 32: CF is the last bit shifted out', ['mov eax, 0x10000000', 'shl eax, 4'], 0n, 'CZP?'],
    [
      'shr 32 by 1: CF = bit 0 out, OF = original MSB',
      ['mov eax, 0x80000003', 'shr eax, 1'],
      0x40000001n,
      'CO',
    ],
    ['shr 32: CF is the last bit out', ['mov eax, 0x18', 'shr eax, 4'], 1n, 'C?'],
    ['shl 64 across the halves', ['mov rax, 1', 'shl rax, 32'], 0x100000000n, 'P?'],
    ['shl 64 out of bit 63', ['mov rax, 0x8000000000000000', 'shl rax, 1'], 0n, 'CZOP'],
    ['shr 64: CF from the high half', ['mov rax, 0x100000000', 'shr rax, 33'], 0n, 'CZP?'],
    ['shr 64 across the halves', ['mov rax, 0x300000000', 'shr rax, 31'], 6n, 'P?'],
    ['shl by cl', ['mov ecx, 36', 'mov rax, 1', 'shl rax, cl'], 0x1000000000n, 'P?'],
    ['shr by cl', ['mov ecx, 4', 'mov eax, 0xf0', 'shr eax, cl'], 0xfn, 'P?'],
    ['a 32-bit count is masked to 5 bits', ['mov ecx, 33', 'mov eax, 1', 'shl eax, cl'], 2n, ''],
    ['a 64-bit count is masked to 6 bits', ['mov ecx, 65', 'mov rax, 1', 'shl rax, cl'], 2n, ''],
    ['shr 32 writes zero the upper half', ['mov rax, -1', 'shr eax, 4'], 0x0fffffffn, 'CP?'],
  ];
  // '?' marks a shift by more than one bit, after which OF is undefined (SDM "SAL/SAR/SHL/SHR").
  it.each(SHIFTS)('%s', (_name, lines, rax, flags) => {
    const r = exec(lines);
    expect(r.rax).toBe(rax);
    const want: Partial<Flags> = F(flags);
    const got: Partial<Flags> = r.f;
    if (flags.includes('?')) {
      delete want.OF;
      delete got.OF;
    }
    expect(got).toEqual(want);
  });

  it('a count of 0 leaves every flag as it was (immediate and CL)', () => {
    const before = ['mov ebx, 5', 'mov ecx, 32', 'mov eax, -1', 'add eax, 1']; // CF ZF PF set
    const imm = run(['start:', ...before, 'shl ebx, 0', ...STOP]);
    const cl = run(['start:', ...before, 'shr rbx, cl', 'shl ebx, cl', ...STOP]); // 32&63 = 32 for rbx!
    expect(flagsOf(cpu(imm, 5).rflags)).toEqual(F('CZP'));
    expect(reg(imm, 'rbx', 5)).toBe(5n);
    // shr rbx, 32 (count 32 in 64 bits) does shift; shl ebx, cl (32 & 31 = 0) then leaves flags
    expect(reg(cl, 'rbx', 5)).toBe(0n);
    expect(flagsOf(cpu(cl, 5).rflags)).toEqual(F('ZP'));
    expect(flagsOf(cpu(cl, 6).rflags)).toEqual(F('ZP'));
    const zero = run([
      'start:',
      'mov ecx, 64',
      'mov rbx, 7',
      'mov eax, -1',
      'add eax, 1',
      'shl rbx, cl',
      ...STOP,
    ]);
    expect(reg(zero, 'rbx', 5)).toBe(7n);
    expect(flagsOf(cpu(zero, 5).rflags)).toEqual(F('CZP'));
  });

  it('shifts memory operands of each size', () => {
    const { s } = exec(
      ['shl qword [q], 4', 'mov ecx, 8', 'shr dword [d], cl', 'shl byte [b], 1'],
      ['q: .dq 0x0fffffffffffffff', 'd: .dq 0xaaaaaaaa12345678', 'b: .dq 0x81'],
    );
    expect(memQ(s, label(s, 'q'))).toBe(0xfffffffffffffff0n);
    expect(memQ(s, label(s, 'd'))).toBe(0xaaaaaaaa00123456n);
    expect(memQ(s, label(s, 'b'))).toBe(0x02n);
    expect(flagsOf(cpu(s).rflags).CF).toBe(true); // bit 7 of 0x81 went out
  });
});

describe('inc and dec', () => {
  it('inc keeps CF and sets the others', () => {
    const r = exec(['mov eax, -1', 'add eax, 1', 'mov ebx, 0x7fffffff', 'inc ebx', 'mov rax, rbx']);
    expect(r.rax).toBe(0x80000000n);
    expect(r.f).toEqual(F('CSOP'));
  });

  it('dec keeps CF clear and wraps', () => {
    const r = exec(['xor eax, eax', 'dec eax']);
    expect(r.rax).toBe(0xffffffffn);
    expect(r.f).toEqual(F('SP'));
  });

  it('dec to zero sets ZF', () => {
    expect(exec(['mov eax, 1', 'dec eax']).f).toEqual(F('ZP'));
  });

  it('inc 64 carries into the high half; inc 32 wraps and clears it', () => {
    expect(exec(['mov rax, 0xffffffff', 'inc rax']).rax).toBe(0x100000000n);
    const r = exec(['mov rax, 0x1ffffffff', 'inc eax']);
    expect(r.rax).toBe(0n);
    expect(r.f).toEqual(F('ZP')); // CF not set by inc even though it wrapped
  });

  it('inc and dec memory', () => {
    const { s } = exec(['inc qword [a]', 'dec qword [b]'], ['a: .dq 0xffffffff', 'b: .dq 0']);
    expect(memQ(s, label(s, 'a'))).toBe(0x100000000n);
    expect(memQ(s, label(s, 'b'))).toBe(0xffffffffffffffffn);
  });
});
