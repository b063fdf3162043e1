// RDTSC, RDMSR and WRMSR: the TSC, IA32_APIC_BASE and the x2APIC registers (TPR, PPR, EOI,
// ICR, SELF IPI, ISR/IRR, ESR), and #GP(0) for anything else (SDM Vol. 2B "RDMSR", "WRMSR";
// Vol. 3A "x2APIC Register Address Space").
import { describe, expect, it } from 'vitest';
import { EventType, type EventSpec, STOP, deliveries, label, memQ, reg, run } from '../helpers';

const wr = (msr: number, eax: number | string, edx: number | string = 0) => [
  `mov ecx, 0x${msr.toString(16)}`,
  `mov eax, ${eax}`,
  `mov edx, ${edx}`,
  'wrmsr',
];
const rd = (msr: number) => [`mov ecx, 0x${msr.toString(16)}`, 'rdmsr'];

/** A #GP handler that records the error code and the return RIP, then skips the 2-byte RDMSR/WRMSR. */
const GP = [
  '.intgate 13, gp',
  'gp:',
  'push rax',
  'mov rax, [rsp+8]',
  'mov [gp_err], rax',
  'mov rax, [rsp+16]',
  'mov [gp_rip], rax',
  'pop rax',
  'add qword [rsp+8], 2',
  'add rsp, 8',
  'iretq',
  'gp_err: .dq -1',
  'gp_rip: .dq 0',
];

function exec(lines: string[], events: EventSpec[] = [], extra: string[] = []) {
  return run(['start:', ...lines, ...STOP, ...GP, ...extra], events);
}

describe('rdtsc', () => {
  it('loads EDX:EAX with the time at the instruction and clears the upper halves', () => {
    const s = exec(['work 1000', 'mov rax, -1', 'mov rdx, -1', 'rdtsc']);
    expect(reg(s, 'rax')).toBe(1002n);
    expect(reg(s, 'rdx')).toBe(0n);
  });

  it('splits a TSC above 2^32 between EDX and EAX', () => {
    const s = exec(['work 0x100000005', 'rdtsc']);
    expect(reg(s, 'rax')).toBe(5n);
    expect(reg(s, 'rdx')).toBe(1n);
  });
});

describe('rdmsr', () => {
  it('reads IA32_TSC (0x10) like RDTSC', () => {
    const s = exec(['work 0x200000007', ...rd(0x10)]);
    expect(reg(s, 'rax')).toBe((0x200000007n + 1n) & 0xffffffffn);
    expect(reg(s, 'rdx')).toBe(2n);
  });

  it('reads IA32_APIC_BASE (0x1B): base 0xFEE00000, BSP, x2APIC and global enable', () => {
    const s = exec([...rd(0x1b)]);
    expect(reg(s, 'rax')).toBe(0xfee00d00n);
    expect(reg(s, 'rdx')).toBe(0n);
  });

  it('reads back the TPR, and the PPR follows it', () => {
    const s = exec([...wr(0x808, 0x47), ...rd(0x808), 'mov rbx, rax', ...rd(0x80a)]);
    expect(reg(s, 'rbx')).toBe(0x47n);
    expect(reg(s, 'rax')).toBe(0x47n);
    expect(s.view(s.totalSteps).levels[0].apic.tpr).toBe(0x47);
  });

  it('reads the IRR words (0x820 + vector / 32)', () => {
    const s = exec(['cli', ...wr(0x83f, 0x45), ...rd(0x822), 'mov rbx, rax', ...rd(0x820)]);
    expect(reg(s, 'rbx')).toBe(1n << 5n); // vector 0x45 = word 2, bit 5
    expect(reg(s, 'rax')).toBe(0n);
  });

  it('raises #GP(0) for an unknown MSR and for the write-only EOI, with RIP at the RDMSR', () => {
    for (const msr of [0x1234, 0x80b, 0x83f]) {
      const s = exec([...rd(msr), 'nop']);
      const d = deliveries(s);
      expect(d).toHaveLength(1);
      expect(d[0]).toMatchObject({ vector: 13, type: EventType.HW_EXCEPTION, errValid: true, errorCode: 0 });
      const rdmsrAt = label(s, 'start') + 5; // after the 5-byte mov ecx
      expect(d[0].rip).toBe(rdmsrAt);
      expect(memQ(s, label(s, 'gp_rip'))).toBe(BigInt(rdmsrAt));
      expect(memQ(s, label(s, 'gp_err'))).toBe(0n);
    }
  });
});

describe('wrmsr', () => {
  it('raises #GP(0) for an unknown MSR with the pushed RIP at the WRMSR; the handler resumes after it', () => {
    const s = exec([...wr(0x1234, 1), 'mov ebx, 7']);
    const d = deliveries(s);
    const wrmsrAt = label(s, 'start') + 15;
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      vector: 13,
      errValid: true,
      errorCode: 0,
      rip: wrmsrAt,
      handler: label(s, 'gp'),
    });
    expect(memQ(s, label(s, 'gp_rip'))).toBe(BigInt(wrmsrAt));
    expect(memQ(s, label(s, 'gp_err'))).toBe(0n);
    expect(reg(s, 'rbx')).toBe(7n); // resumed after the WRMSR
  });

  it('raises #GP for read-only x2APIC registers (PPR, ISR) and for a non-zero EOI write', () => {
    for (const lines of [wr(0x80a, 0), wr(0x810, 0), wr(0x80b, 1), wr(0x80b, 0, 1)]) {
      const d = deliveries(exec(lines));
      expect(d.map((x) => [x.vector, x.errorCode])).toEqual([[13, 0]]);
    }
  });

  it('a zero EOI write clears the highest ISR bit without #GP', () => {
    const s = run(
      ['start:', 'sti', 'work 100', ...STOP, '.intgate 0x40, h', 'h:', ...wr(0x80b, 0), 'iretq'],
      [{ at: { time: 10 }, irq: 0x40 }],
    );
    expect(deliveries(s).map((d) => d.vector)).toEqual([0x40]);
    expect(s.view(s.totalSteps).levels[0].apic.isr).toEqual([]);
  });

  it('ICR fixed, shorthand self: sets the IRR bit, delivered once IF=1', () => {
    const s = exec(
      ['cli', ...wr(0x830, '0x40042'), 'sti', 'nop', 'nop'],
      [],
      ['.intgate 0x42, h', 'h:', ...wr(0x80b, 0), 'iretq'],
    );
    expect(s.view(5).levels[0].apic).toMatchObject({ irr: [0x42], isr: [] });
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.type])).toEqual([[0x42, EventType.EXTINT]]);
    // taken after the STI shadow: after the first nop
    expect(d[0].rip).toBe(label(s, 'start') + 1 + 17 + 1 + 1); // cli, 17 bytes of MSR write, sti, nop
  });

  it('ICR fixed to destination 0 (this APIC) or all-including-self reaches this processor; others do not', () => {
    const irrAfter = (eax: string, edx: number) =>
      exec(['cli', ...wr(0x830, eax, edx)]).view(5).levels[0].apic.irr;
    expect(irrAfter('0x42', 0)).toEqual([0x42]); // no shorthand, destination = APIC ID 0
    expect(irrAfter('0x80042', 0)).toEqual([0x42]); // all including self
    expect(irrAfter('0x42', 0xffffffff)).toEqual([0x42]); // broadcast
    expect(irrAfter('0x42', 1)).toEqual([]); // another APIC
    expect(irrAfter('0xc0042', 0)).toEqual([]); // all excluding self
  });

  it('ICR NMI delivery mode (4) to self latches an NMI, delivered even with IF=0', () => {
    const s = exec(['cli', ...wr(0x830, '0x40400'), 'nop'], [], ['.intgate 2, nmi', 'nmi: iretq']);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.type])).toEqual([[2, EventType.NMI]]);
    expect(d[0].rip).toBe(label(s, 'start') + 1 + 17); // right after the WRMSR
    expect(s.view(5).levels[0].cpu.pending.nmi).toBe(true);
  });

  it('the ICR reads back the last value written', () => {
    const s = exec(['cli', ...wr(0x830, '0xc0042', 5), ...rd(0x830)]);
    expect(reg(s, 'rax')).toBe(0xc0042n);
    expect(reg(s, 'rdx')).toBe(5n);
  });

  it('SELF IPI (0x83F) sets the IRR bit of the vector in EAX[7:0]', () => {
    const s = exec(['cli', ...wr(0x83f, '0x1ff')]);
    expect(s.view(5).levels[0].apic.irr).toEqual([0xff]);
  });

  it('an IPI with an illegal vector (< 16) is not delivered and sets the ESR', () => {
    const s = exec([
      'cli',
      ...wr(0x830, '0x40005'),
      ...wr(0x828, 0),
      ...rd(0x828),
      'mov rbx, rax',
      ...wr(0x83f, 3),
      ...rd(0x828),
    ]);
    expect(s.view(5).levels[0].apic.irr).toEqual([]);
    expect(deliveries(s)).toEqual([]);
    expect(reg(s, 'rbx')).toBe(0n); // a write to the ESR clears it
    expect(Number(reg(s, 'rax')) & 0x60).toBe(0x60); // send (bit 5) and receive (bit 6) illegal vector
  });
});
