// MOV, LEA, PUSH/POP, PUSHF/POPF, CALL/RET, NOP and PAUSE on the interpreter, observed through
// registers, memory and RIP after a run.
import { describe, expect, it } from 'vitest';
import { RF, STOP, after, cpu, label, memQ, reg, rows, run } from '../helpers';

const TOP = 0x10000; // RSP at reset: the top of the default 64 KiB of memory

function exec(lines: string[], data: string[] = []) {
  return run(['start:', ...lines, ...STOP, ...data]);
}

describe('mov', () => {
  it('loads a full 64-bit immediate into a 64-bit register', () => {
    const s = exec(['mov rax, 0x1122334455667788', 'mov rbx, -2']);
    expect(reg(s, 'rax')).toBe(0x1122334455667788n);
    expect(reg(s, 'rbx')).toBe(0xfffffffffffffffen);
  });

  it('zeroes the upper half on a 32-bit register write (immediate, register and memory source)', () => {
    const s = exec(
      ['mov rax, -1', 'mov eax, 5', 'mov rbx, -1', 'mov ebx, ecx', 'mov rdx, -1', 'mov edx, [val]'],
      ['val: .dq 0xaaaaaaaa99999999'],
    );
    expect(reg(s, 'rax')).toBe(5n);
    expect(reg(s, 'rbx')).toBe(0n);
    expect(reg(s, 'rdx')).toBe(0x99999999n);
  });

  it('a 32-bit immediate to a 32-bit register is not sign-extended', () => {
    const s = exec(['mov rax, -1', 'mov eax, 0xfffffffe']);
    expect(reg(s, 'rax')).toBe(0xfffffffen);
  });

  it('reads and writes memory at a label and at base + displacement', () => {
    const s = exec(
      ['mov rax, [val]', 'mov rbx, buf', 'mov [rbx+8], rax', 'mov rcx, [rbx+8]', 'mov [rbx-8], rcx'],
      ['val: .dq 0x0123456789abcdef', 'buf: .dq 0, 0'],
    );
    expect(reg(s, 'rax')).toBe(0x0123456789abcdefn);
    expect(reg(s, 'rcx')).toBe(0x0123456789abcdefn);
    expect(memQ(s, label(s, 'buf') + 8)).toBe(0x0123456789abcdefn);
    // [buf-8] is val itself
    expect(memQ(s, label(s, 'val'))).toBe(0x0123456789abcdefn);
  });

  it('writes only the operand size to memory', () => {
    const s = exec(
      ['mov dword [a], 7', 'mov word [b], 0x1234', 'mov byte [c], 0x5a', 'mov qword [d], -2'],
      ['a: .dq -1', 'b: .dq -1', 'c: .dq -1', 'd: .dq 0'],
    );
    expect(memQ(s, label(s, 'a'))).toBe(0xffffffff00000007n);
    expect(memQ(s, label(s, 'b'))).toBe(0xffffffffffff1234n);
    expect(memQ(s, label(s, 'c'))).toBe(0xffffffffffffff5an);
    expect(memQ(s, label(s, 'd'))).toBe(0xfffffffffffffffen);
  });

  it('reads narrower memory operands zero-extended', () => {
    const s = exec(['mov rax, -1', 'mov eax, dword [v]'], ['v: .dq 0x8000000180000002']);
    expect(reg(s, 'rax')).toBe(0x80000002n);
  });

  it('does not change the arithmetic flags', () => {
    const s = exec(['xor eax, eax', 'mov eax, 5', 'mov rbx, -1']);
    expect(cpu(s).rflags & RF.ZF).toBe(RF.ZF);
  });
});

describe('lea', () => {
  it('computes the address without reading memory', () => {
    const s = exec(
      ['mov rbx, 0x100', 'lea rax, [rbx+16]', 'lea rcx, [rbx-0x20]', 'lea rdx, [val]'],
      ['val: .dq 0'],
    );
    expect(reg(s, 'rax')).toBe(0x110n);
    expect(reg(s, 'rcx')).toBe(0xe0n);
    expect(reg(s, 'rdx')).toBe(BigInt(label(s, 'val')));
  });
});

describe('push and pop', () => {
  it('push reg stores at RSP-8 and pop loads and moves RSP back', () => {
    const s = exec(['mov rax, 0x1122334455667788', 'push rax', 'pop rbx']);
    expect(reg(s, 'rbx')).toBe(0x1122334455667788n);
    expect(reg(s, 'rsp')).toBe(BigInt(TOP));
    expect(memQ(s, TOP - 8)).toBe(0x1122334455667788n);
    // after the push alone
    expect(reg(s, 'rsp', 2)).toBe(BigInt(TOP - 8));
  });

  it('push imm sign-extends the 32-bit immediate', () => {
    const s = exec(['push 5', 'push -1']);
    expect(memQ(s, TOP - 8)).toBe(5n);
    expect(memQ(s, TOP - 16)).toBe(0xffffffffffffffffn);
    expect(reg(s, 'rsp')).toBe(BigInt(TOP - 16));
  });

  it('push and pop memory operands', () => {
    const s = exec(['push qword [src]', 'pop qword [dst]'], ['src: .dq 0xfeedface12345678', 'dst: .dq 0']);
    expect(memQ(s, label(s, 'dst'))).toBe(0xfeedface12345678n);
    expect(reg(s, 'rsp')).toBe(BigInt(TOP));
  });
});

describe('pushf and popf', () => {
  it('pushf pushes RFLAGS (with the fixed bit 1)', () => {
    const s = exec(['xor eax, eax', 'pushf']);
    expect(memQ(s, TOP - 8)).toBe(BigInt(RF.FIXED | RF.ZF | RF.PF));
  });

  it('popf loads the arithmetic flags and IF, keeping bit 1 set', () => {
    const s = exec(['push 0x2c5', 'popf']); // CF PF ZF SF IF... 0x2c5 = IF|SF|ZF|PF|CF
    const f = cpu(s, 2).rflags;
    expect(f).toBe(0x2c7);
    expect(cpu(s, 2).if).toBe(true);
    // popf creates no interrupt shadow
    expect(cpu(s, 2).interruptibility).toEqual({ sti: false, movss: false, nmi: false });
  });

  it('popf cannot set reserved bits', () => {
    const s = exec(['push -257', 'popf', 'cli']); // every bit but TF
    // bit 1 set, reserved bits 3, 5, 15 and bits above 21 stay 0; RF is not loaded by POPF
    const f = cpu(s, 2).rflags;
    expect(f & (1 << 3)).toBe(0);
    expect(f & (1 << 5)).toBe(0);
    expect(f & (1 << 15)).toBe(0);
    expect(f & (1 << 16)).toBe(0);
    expect(f & 2).toBe(2);
  });
});

describe('call and ret', () => {
  it('call pushes the address after the call and jumps; ret returns there', () => {
    const s = run(['start:', 'call fn', 'back:', 'mov rbx, 2', ...STOP, 'fn:', 'mov rax, 1', 'ret']);
    const r = rows(s);
    expect(r[0].rip).toBe(label(s, 'start'));
    expect(cpu(s, 1).rip).toBe(label(s, 'fn'));
    expect(reg(s, 'rsp', 1)).toBe(BigInt(TOP - 8));
    expect(memQ(s, TOP - 8, 1)).toBe(BigInt(label(s, 'back')));
    expect(cpu(s, 3).rip).toBe(label(s, 'back')); // after ret
    expect(reg(s, 'rsp', 3)).toBe(BigInt(TOP));
    expect(reg(s, 'rax')).toBe(1n);
    expect(reg(s, 'rbx')).toBe(2n);
  });

  it('nested calls return in order', () => {
    const s = run([
      'start:',
      'call f',
      ...STOP,
      'f:',
      'inc rax',
      'call g',
      'inc rax',
      'ret',
      'g:',
      'shl rax, 4',
      'ret',
    ]);
    expect(reg(s, 'rax')).toBe(0x11n);
    expect(reg(s, 'rsp')).toBe(BigInt(TOP));
    expect(s.sim.endReason).toBe('halted');
  });
});

describe('nop and pause', () => {
  it('advance RIP by their lengths (1 and 2) and change nothing else', () => {
    const s = exec(['nop', 'pause', 'nop']);
    const start = label(s, 'start');
    expect(cpu(s, 1).rip).toBe(start + 1);
    expect(cpu(s, 2).rip).toBe(start + 3);
    expect(cpu(s, 3).rip).toBe(start + 4);
    expect(after(s, start + 1)).toBe(start + 3);
    expect(s.view(3).time).toBe(3);
  });
});
