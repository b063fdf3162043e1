// The instructions of issue 10 item 6 on bare metal, each per its SDM Vol. 2 page: #DE of
// DIV/IDIV, #UD of UD2 and INTO, INT1 as a privileged software #DB, IN/OUT on the lab's empty
// I/O space, RDRAND, RDPMC, MONITOR/MWAIT, CPUID and MOV to/from CR0/CR3/CR4/CR8.
import { describe, expect, it } from 'vitest';
import { rdrandValue } from '../../../src/core/cpu/execute-system';
import { EventKind, EventType, RF, STOP, cpu, deliveries, label, reg, rows, run } from '../helpers';

/** A program whose exceptions go to `fault:` (vectors 0, 1, 4, 6, 13), which records the vector. */
function withHandlers(body: string[], extra: string[] = []) {
  return run([
    '.intgate 0, de',
    '.intgate 1, db',
    '.intgate 6, ud',
    '.intgate 13, gp',
    'start:',
    ...body,
    'done:',
    ...STOP,
    'de: mov r15, 0',
    'jmp fault',
    'db: mov r15, 1',
    'jmp fault',
    'ud: mov r15, 6',
    'jmp fault',
    'gp: mov r15, 13',
    'fault:',
    ...STOP,
    ...extra,
  ]);
}

describe('DIV and IDIV', () => {
  const CASES: [string, string[], bigint, bigint][] = [
    [
      'div r64: RDX:RAX / r64',
      ['mov rdx, 1', 'mov rax, 5', 'mov rcx, 2', 'div rcx'],
      0x8000000000000002n,
      1n,
    ],
    [
      'div r32 zero-extends EAX and EDX',
      ['mov rdx, -1', 'mov edx, 0', 'mov rax, -1', 'mov eax, 100', 'mov ecx, 7', 'div ecx'],
      14n,
      2n,
    ],
    [
      'idiv r64 truncates toward zero, remainder has the dividend sign',
      ['mov rax, -7', 'mov rdx, -1', 'mov rcx, 2', 'idiv rcx'],
      -3n,
      -1n,
    ],
    [
      'div byte [mem]: AX / m8 -> AL quotient, AH remainder',
      ['mov eax, 1000', 'div byte [d7]'],
      (0x400n << 8n) | (1000n / 7n) | ((1000n % 7n) << 8n),
      0n,
    ],
  ];
  for (const [name, body, rax, rdx] of CASES) {
    it(name, () => {
      const s = withHandlers(body, ['d7: .db 7']);
      if (name.startsWith('div byte')) {
        // RAX[15:8] = remainder, RAX[7:0] = quotient, the rest of RAX kept (here 0).
        expect(reg(s, 'rax')).toBe(((1000n % 7n) << 8n) | (1000n / 7n));
        return;
      }
      expect(BigInt.asIntN(64, reg(s, 'rax'))).toBe(BigInt.asIntN(64, rax));
      expect(BigInt.asIntN(64, reg(s, 'rdx'))).toBe(rdx);
      expect(deliveries(s)).toEqual([]);
    });
  }
  it('#DE on a zero divisor, RIP at the DIV, registers unchanged', () => {
    const s = withHandlers(['mov rax, 5', 'mov rdx, 0', 'mov rcx, 0', 'd: div rcx']);
    const [d] = deliveries(s);
    expect(d).toMatchObject({ vector: 0, type: EventType.HW_EXCEPTION, errValid: false, rip: label(s, 'd') });
    expect(reg(s, 'rax')).toBe(5n);
  });
  it('#DE when the quotient overflows (DIV) and for INT64_MIN / -1 (IDIV)', () => {
    const a = withHandlers(['mov rdx, 2', 'mov rax, 0', 'mov rcx, 2', 'div rcx']);
    expect(deliveries(a).map((d) => d.vector)).toEqual([0]);
    const b = withHandlers(['mov rax, 0x8000000000000000', 'mov rdx, -1', 'mov rcx, -1', 'idiv rcx']);
    expect(deliveries(b).map((d) => d.vector)).toEqual([0]);
    const c = withHandlers(['mov eax, 0x100', 'mov ecx, 1', 'div byte [one]'], ['one: .db 1']);
    expect(deliveries(c).map((d) => d.vector)).toEqual([0]);
  });
  it('leaves the (undefined) flags as they were', () => {
    const s = withHandlers([
      'mov rax, -1',
      'add rax, 1',
      'mov rax, 9',
      'mov rdx, 0',
      'mov rcx, 3',
      'div rcx',
    ]);
    expect(cpu(s).rflags & (RF.CF | RF.ZF)).toBe(RF.CF | RF.ZF);
  });
});

describe('UD2, INTO, INT1', () => {
  it('ud2 raises #UD at itself', () => {
    const s = withHandlers(['u: ud2']);
    expect(deliveries(s)[0]).toMatchObject({ vector: 6, type: EventType.HW_EXCEPTION, rip: label(s, 'u') });
  });
  it('into is invalid in 64-bit mode: #UD even with OF = 1', () => {
    const s = withHandlers(['mov eax, 0x7fffffff', 'add eax, 1', 'o: into']);
    expect(deliveries(s)[0]).toMatchObject({ vector: 6, rip: label(s, 'o') });
  });
  it('int1 delivers #DB as a privileged software exception (type 5) with RIP after it', () => {
    const s = withHandlers(['i: int1', 'after: nop']);
    expect(deliveries(s)[0]).toMatchObject({
      vector: 1,
      type: EventType.PRIV_SW_EXCEPTION,
      rip: label(s, 'after'),
    });
    expect(reg(s, 'r15')).toBe(1n);
  });
});

describe('IN and OUT', () => {
  it('an unbacked port reads all ones at the access size; AL/AX keep the other bits, EAX zero-extends', () => {
    const s = withHandlers([
      'mov rax, 0x1122334455667788',
      'in al, 0x80',
      'mov rbx, rax',
      'mov rax, 0x1122334455667788',
      'mov edx, 0x3f8',
      'in ax, dx',
      'mov rcx, rax',
      'mov rax, 0x1122334455667788',
      'in eax, dx',
      'out 0x80, al',
      'out dx, eax',
    ]);
    expect(reg(s, 'rbx')).toBe(0x11223344556677ffn);
    expect(reg(s, 'rcx')).toBe(0x112233445566ffffn);
    expect(reg(s, 'rax')).toBe(0xffffffffn);
    expect(deliveries(s)).toEqual([]);
  });
});

describe('RDRAND, RDPMC, CPUID', () => {
  it('rdrand: CF = 1, other arithmetic flags 0, the lab sequence (r32 zero-extends)', () => {
    const s = withHandlers(['mov rax, -1', 'add rax, 1', 'rdrand rbx', 'rdrand ecx']);
    expect(reg(s, 'rbx')).toBe(rdrandValue(0));
    expect(reg(s, 'rcx')).toBe(rdrandValue(1) & 0xffffffffn);
    expect(cpu(s).rflags & (RF.CF | RF.ZF | RF.SF | RF.OF | RF.PF)).toBe(RF.CF);
    expect(rdrandValue(0)).not.toBe(rdrandValue(1));
  });
  it('rdpmc reads 0 from GP counters 0-3 and fixed counters 0-2; other indexes #GP', () => {
    const ok = withHandlers([
      'mov rax, -1',
      'mov rdx, -1',
      'mov ecx, 3',
      'rdpmc',
      'mov ecx, 0x40000002',
      'rdpmc',
    ]);
    expect([reg(ok, 'rax'), reg(ok, 'rdx'), deliveries(ok).length]).toEqual([0n, 0n, 0]);
    for (const ecx of ['4', '0x40000003', '0x80000000']) {
      const s = withHandlers([`mov ecx, ${ecx}`, 'r: rdpmc']);
      expect(deliveries(s)[0]).toMatchObject({ vector: 13, errorCode: 0, rip: label(s, 'r') });
    }
  });
  it('cpuid leaf 1 reports VMX, MONITOR, RDRAND, x2APIC; leaf 0 GenuineIntel', () => {
    const s = withHandlers(['mov eax, 1', 'cpuid', 'mov r8, rcx', 'mov eax, 0', 'cpuid']);
    const ecx1 = reg(s, 'r8');
    expect([(ecx1 >> 3n) & 1n, (ecx1 >> 5n) & 1n, (ecx1 >> 21n) & 1n, (ecx1 >> 30n) & 1n]).toEqual([
      1n,
      1n,
      1n,
      1n,
    ]);
    expect([reg(s, 'rbx'), reg(s, 'rdx'), reg(s, 'rcx')]).toEqual([0x756e6547n, 0x49656e69n, 0x6c65746en]);
  });
});

describe('MONITOR and MWAIT', () => {
  it('mwait without an armed monitor does not wait', () => {
    const s = withHandlers(['mov ecx, 0', 'mwait', 'mov rbx, 7']);
    expect(reg(s, 'rbx')).toBe(7n);
  });
  it('monitor with ECX != 0 and mwait with ECX[31:1] != 0 are #GP', () => {
    expect(deliveries(withHandlers(['mov ecx, 1', 'monitor']))[0].vector).toBe(13);
    expect(deliveries(withHandlers(['mov ecx, 2', 'mwait']))[0].vector).toBe(13);
  });
  it('monitor; mwait waits like HLT until an interrupt, delivered with RIP after MWAIT', () => {
    const s = run(
      [
        '.intgate 0x30, isr',
        'start:',
        'sti',
        'mov ecx, 0',
        'monitor',
        'w: mwait',
        'after: mov rbx, 1',
        ...STOP,
        'isr: mov rcx, 5',
        'iretq',
      ],
      [{ at: { time: 500 }, irq: 0x30 }],
    );
    const [d] = deliveries(s);
    expect(d).toMatchObject({ vector: 0x30, rip: label(s, 'after'), wokeFromHlt: true });
    expect(d.time).toBeGreaterThanOrEqual(500);
    expect([reg(s, 'rbx'), reg(s, 'rcx')]).toEqual([1n, 5n]);
  });
  it('with ECX[0] = 1 and IF = 0 an interrupt ends the wait without being delivered', () => {
    const s = run(
      [
        '.intgate 0x30, isr',
        'start:',
        'cli',
        'mov ecx, 0',
        'monitor',
        'mov ecx, 1',
        'mwait',
        'after: mov rbx, 1',
        ...STOP,
        'isr: mov rcx, 5',
        'iretq',
      ],
      [{ at: { time: 500 }, irq: 0x30 }],
    );
    expect(deliveries(s)).toEqual([]);
    expect(reg(s, 'rbx')).toBe(1n);
    const wake = rows(s).find((r) => r.kind === EventKind.WAKE)!;
    expect(wake.rip).toBe(label(s, 'after'));
  });
});

describe('MOV to and from control registers', () => {
  it('the initial CR0, CR3, CR4 and CR8', () => {
    const s = withHandlers(['mov rax, cr0', 'mov rbx, cr3', 'mov rcx, cr4', 'mov rdx, cr8']);
    expect([reg(s, 'rax'), reg(s, 'rbx'), reg(s, 'rcx'), reg(s, 'rdx')]).toEqual([
      0x80010033n,
      0n,
      0x2020n,
      0n,
    ]);
  });
  it('CR8 is TPR[7:4]: a write shows in the x2APIC TPR MSR, a TPR write in CR8', () => {
    const s = withHandlers([
      'mov rax, 9',
      'mov cr8, rax',
      'mov ecx, 0x808',
      'rdmsr',
      'mov rbx, rax',
      'mov eax, 0x50',
      'mov edx, 0',
      'wrmsr',
      'mov rdx, cr8',
    ]);
    expect([reg(s, 'rbx'), reg(s, 'rdx')]).toEqual([0x90n, 5n]);
  });
  it('CR0: reserved low bits read 0, ET stays 1; CR3 and CR4 read back', () => {
    const s = withHandlers([
      'mov rax, 0x80010023|0x40',
      'mov cr0, rax',
      'mov rbx, cr0',
      'mov rax, 0x5000',
      'mov cr3, rax',
      'mov rcx, cr3',
      'mov rax, 0x2020|0x80',
      'mov cr4, rax',
      'mov rdx, cr4',
    ]);
    expect([reg(s, 'rbx'), reg(s, 'rcx'), reg(s, 'rdx')]).toEqual([0x80010033n, 0x5000n, 0x20a0n]);
  });
  const GP: [string, string][] = [
    ['CR0 bit 32', 'mov rax, 0x180010033'],
    ['CR0.PG without PE', 'mov rax, 0x80010032'],
    ['CR0.NW without CD', 'mov rax, 0xa0010033'],
    ['clearing CR0.PG in 64-bit mode', 'mov rax, 0x00010033'],
  ];
  for (const [name, set] of GP) {
    it(`#GP(0): ${name}`, () => {
      const s = withHandlers([set, 'm: mov cr0, rax']);
      expect(deliveries(s)[0]).toMatchObject({ vector: 13, errorCode: 0, rip: label(s, 'm') });
    });
  }
  const GP_OTHER: [string, string[]][] = [
    ['CR4 reserved bit (LA57)', ['mov rax, 0x3020', 'm: mov cr4, rax']],
    ['clearing CR4.PAE', ['mov rax, 0x2000', 'm: mov cr4, rax']],
    ['CR3 bit 36 (MAXPHYADDR 36)', ['mov rax, 0x1000000000', 'm: mov cr3, rax']],
    ['CR8 bit 4', ['mov rax, 0x10', 'm: mov cr8, rax']],
  ];
  for (const [name, body] of GP_OTHER) {
    it(`#GP(0): ${name}`, () => {
      const s = withHandlers(body);
      expect(deliveries(s)[0]).toMatchObject({ vector: 13, rip: label(s, 'm') });
    });
  }
  it('in VMX operation CR0.PE/NE and CR4.VMXE cannot be cleared; VMXON needs CR4.VMXE', () => {
    const vmxon = ['vmxon [vp]'];
    const data = ['.align 4096', 'region: .dd 1', '.zero 4092', 'vp: .dq region'];
    const ne = withHandlers([...vmxon, 'mov rax, 0x80010013', 'm: mov cr0, rax'], data);
    expect(deliveries(ne)[0]).toMatchObject({ vector: 13, rip: label(ne, 'm') });
    const vmxe = withHandlers([...vmxon, 'mov rax, 0x20', 'm: mov cr4, rax'], data);
    expect(deliveries(vmxe)[0]).toMatchObject({ vector: 13, rip: label(vmxe, 'm') });
    const ok = withHandlers([...vmxon, 'mov rax, 0x80000033', 'mov cr0, rax', 'mov rbx, cr0'], data);
    expect([deliveries(ok).length, reg(ok, 'rbx')]).toEqual([0, 0x80000033n]);
    const off = withHandlers(['mov rax, 0x20', 'mov cr4, rax', 'v: vmxon [vp]'], data);
    expect(deliveries(off)[0]).toMatchObject({ vector: 6, rip: label(off, 'v') });
  });
});
