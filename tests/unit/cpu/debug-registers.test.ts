// The debug registers and IA32_DEBUGCTL: MOV to/from DR0–DR7 (SDM Vol. 2B "MOV—Move to/from
// Debug Registers"), DR6 as a #DB reports its causes, general detect, instruction breakpoints
// and single-step on branches (SDM Vol. 3B "Debug Registers", "Debug Exceptions").
import { describe, expect, it } from 'vitest';
import { EventType, STOP, deliveries, label, memQ, reg, run } from '../helpers';

/** A #DB handler (trap gate) that saves DR6, clears TF and sets RF in the frame, then returns. */
const DB = [
  '.trapgate 1, db',
  'db:',
  'push rax',
  'mov rax, dr6',
  'mov [db_dr6], rax',
  'add qword [db_count], 1',
  'and qword [rsp+24], -257',
  'or qword [rsp+24], 0x10000',
  'pop rax',
  'iretq',
  'db_dr6: .dq 0',
  'db_count: .dq 0',
];
/** A #GP handler that records the error code and skips the 3-byte MOV DR. */
const GP = [
  '.intgate 13, gp',
  'gp:',
  'add qword [gp_count], 1',
  'add qword [rsp+8], 3',
  'add rsp, 8',
  'iretq',
  'gp_count: .dq 0',
];

function exec(lines: string[]) {
  return run(['start:', ...lines, ...STOP, ...DB, ...GP]);
}

describe('MOV to and from debug registers', () => {
  it('DR0–DR3 hold 64-bit values; DR6 and DR7 start at FFFF0FF0H and 400H', () => {
    const s = exec([
      'mov rax, 0x123456789abc',
      'mov dr2, rax',
      'mov rbx, dr2',
      'mov rcx, dr6',
      'mov rdx, dr7',
    ]);
    expect(reg(s, 'rbx')).toBe(0x123456789abcn);
    expect(reg(s, 'rcx')).toBe(0xffff0ff0n);
    expect(reg(s, 'rdx')).toBe(0x400n);
  });

  it('DR6 keeps only B3–B0, BD, BS, BT writable; DR7 bit 10 reads as 1', () => {
    const s = exec(['xor eax, eax', 'mov dr6, rax', 'mov rbx, dr6', 'mov dr7, rax', 'mov rcx, dr7']);
    expect(reg(s, 'rbx')).toBe(0xffff0ff0n);
    expect(reg(s, 'rcx')).toBe(0x400n);
    const t = exec(['mov eax, 0xffffffff', 'mov dr6, rax', 'mov rbx, dr6']);
    expect(reg(t, 'rbx')).toBe(0xffffefffn); // bit 12 stays 0
  });

  it('DR4 and DR5 are DR6 and DR7 (CR4.DE = 0)', () => {
    const s = exec(['mov eax, 0x401', 'mov dr5, rax', 'mov rbx, dr7', 'mov rcx, dr4']);
    expect(reg(s, 'rbx')).toBe(0x401n);
    expect(reg(s, 'rcx')).toBe(0xffff0ff0n);
  });

  it('a 1 in bits 63:32 of DR6 or DR7 raises #GP(0); DR0 takes it', () => {
    const s = exec([
      'mov rax, 0x100000000',
      'mov dr7, rax',
      'mov dr6, rax',
      'mov dr0, rax',
      'mov rbx, dr0',
      'mov rcx, dr7',
    ]);
    expect(memQ(s, label(s, 'gp_count'))).toBe(2n);
    expect(reg(s, 'rbx')).toBe(0x100000000n);
    expect(reg(s, 'rcx')).toBe(0x400n);
  });

  it('with DR7.GD = 1 a MOV DR is a #DB fault with DR6.BD; delivery clears GD', () => {
    const s = exec(['mov eax, 0x2400', 'mov dr7, rax', 'g: mov rbx, dr7', 'after: nop']);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.type])).toEqual([[1, EventType.HW_EXCEPTION]]);
    // a fault: the frame points at the MOV, which then runs with GD already cleared
    expect(d[0].rip).toBe(label(s, 'g'));
    expect(memQ(s, label(s, 'db_dr6')) & 0x2000n).toBe(0x2000n);
    expect(reg(s, 'rbx')).toBe(0x400n);
  });
});

describe('IA32_DEBUGCTL (MSR 1D9H)', () => {
  it('reads back LBR and BTF; a reserved bit raises #GP(0)', () => {
    const s = run([
      'start:',
      'mov ecx, 0x1d9',
      'mov eax, 3',
      'xor edx, edx',
      'wrmsr',
      'xor eax, eax',
      'rdmsr',
      'mov rbx, rax',
      'mov eax, 4',
      'wrmsr',
      ...STOP,
      '.intgate 13, gp',
      'gp: hlt',
    ]);
    expect(reg(s, 'rbx')).toBe(3n);
    expect(deliveries(s).map((d) => d.vector)).toEqual([13]);
  });

  it('BTF = 1: TF single-steps on taken branches only; DR6.BS reports it', () => {
    const s = run([
      'start:',
      'mov ecx, 0x1d9',
      'mov eax, 2',
      'xor edx, edx',
      'wrmsr',
      'push 0x102',
      'popf',
      'nop',
      'xor eax, eax',
      'jnz over', // not taken: no trap
      'jmp there', // taken: a #DB trap at `there`
      'over: nop',
      'there: nop',
      ...STOP,
      ...DB,
    ]);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.rip])).toEqual([[1, label(s, 'there')]]);
    expect(memQ(s, label(s, 'db_dr6'))).toBe(0xffff0ff0n | 0x4000n);
  });
});

describe('single-step and DR6', () => {
  it('a single-step #DB sets DR6.BS', () => {
    const s = exec(['push 0x102', 'popf', 'nop']);
    expect(memQ(s, label(s, 'db_dr6'))).toBe(0xffff4ff0n);
  });
});

describe('instruction breakpoints', () => {
  it('DR7 L1 with R/W = 00 at DR1 raises a #DB fault before the instruction, B1 in DR6; RF lets it run', () => {
    const s = exec([
      'lea rax, [bp]',
      'mov dr1, rax',
      'mov eax, 0x404', // L1, R/W1 = LEN1 = 00
      'mov dr7, rax',
      'mov rbx, 1',
      'bp: mov rbx, 2',
      'nop',
    ]);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.rip])).toEqual([[1, label(s, 'bp')]]);
    expect(memQ(s, label(s, 'db_dr6'))).toBe(0xffff0ff2n);
    expect(memQ(s, label(s, 'db_count'))).toBe(1n);
    expect(s.view(d[0].step).explanation.text).toMatch(/DR6 is 0xffff0ff2: B1 \(breakpoint 1\)/);
    expect(reg(s, 'rbx')).toBe(2n);
  });

  it('a data breakpoint (R/W = 01) or a disabled one does not fire', () => {
    const s = exec(['lea rax, [bp]', 'mov dr0, rax', 'mov eax, 0x10001', 'mov dr7, rax', 'bp: nop', 'nop']);
    expect(deliveries(s)).toEqual([]);
    const t = exec(['lea rax, [bp]', 'mov dr0, rax', 'bp: nop']);
    expect(deliveries(t)).toEqual([]);
  });
});

describe('RF in the pushed RFLAGS (SDM "Instruction-Breakpoint Exception Condition")', () => {
  /** Handlers that save the pushed RFLAGS (without an error code for 3 and 0x40, with one for 13). */
  const SAVE = [
    '.intgate 13, gp',
    '.intgate 3, bp',
    '.intgate 0x40, irq',
    'gp:     mov rax, [rsp+24]',
    '        mov [pushed], rax',
    '        hlt',
    'bp:     mov rax, [rsp+16]',
    '        mov [pushed], rax',
    '        hlt',
    'irq:    mov rax, [rsp+16]',
    '        mov [pushed], rax',
    '        hlt',
    'pushed: .dq 0',
  ];
  const pushed = (s: ReturnType<typeof run>) => memQ(s, label(s, 'pushed')) & 0x10000n;

  it('a fault-class exception (#GP) pushes RF = 1', () => {
    const s = run(['start:', 'mov ecx, 0x12345', 'rdmsr', ...STOP, ...SAVE]);
    expect(deliveries(s).map((d) => d.vector)).toEqual([13]);
    expect(pushed(s)).toBe(0x10000n);
  });

  it('a trap-class software exception (INT3) pushes RF = 0', () => {
    const s = run(['start:', 'int3', ...STOP, ...SAVE]);
    expect(pushed(s)).toBe(0n);
  });

  it('an interrupt in the middle of a `work` (like a REP iteration) pushes RF = 1; between instructions 0', () => {
    const mid = run(['start:', 'sti', 'work 100', ...STOP, ...SAVE], [{ at: { time: 20 }, irq: 0x40 }]);
    expect(pushed(mid)).toBe(0x10000n);
    const between = run(['start:', 'sti', 'nop', 'nop', ...STOP, ...SAVE], [{ at: { time: 2 }, irq: 0x40 }]);
    expect(deliveries(between).map((d) => d.vector)).toEqual([0x40]);
    expect(pushed(between)).toBe(0n);
  });
});
