// Delivery through the IDT in 64-bit mode and IRETQ: the stack frame, interrupt and trap
// gates, INT n / INT3, and what happens when a gate is missing: #NP, #DF, triple fault
// (SDM Vol. 3A "Interrupt and Exception Handling").
import { describe, expect, it } from 'vitest';
import { EventKind, EventType, RF, STOP, cpu, deliveries, label, memQ, reg, rows, run } from '../helpers';

const TOP = 0x10000;

describe('the 64-bit stack frame', () => {
  it('aligns RSP down to 16 bytes, then pushes SS, RSP, RFLAGS, CS and the return RIP', () => {
    const s = run([
      'start:',
      'push 1',
      'sti',
      'int 0x40',
      'after:',
      ...STOP,
      '.intgate 0x40, h',
      'h:',
      'iretq',
    ]);
    const d = deliveries(s)[0];
    expect(d).toMatchObject({
      vector: 0x40,
      type: EventType.SW_INT,
      errValid: false,
      rip: label(s, 'after'),
    });
    const n = d.step;
    // RSP was TOP-8: aligned to TOP-16, frame below it
    expect(memQ(s, TOP - 24, n)).toBe(0x10n); // SS
    expect(memQ(s, TOP - 32, n)).toBe(BigInt(TOP - 8)); // RSP before the delivery
    expect(memQ(s, TOP - 40, n)).toBe(BigInt(RF.FIXED | RF.IF)); // RFLAGS
    expect(memQ(s, TOP - 48, n)).toBe(0x08n); // CS
    expect(memQ(s, TOP - 56, n)).toBe(BigInt(label(s, 'after'))); // RIP
    expect(reg(s, 'rsp', n)).toBe(BigInt(TOP - 56));
    expect(cpu(s, n).rip).toBe(label(s, 'h'));
    expect(cpu(s, n).handlerDepth).toBe(1);
  });

  it('does not pad an RSP that is already 16-byte aligned', () => {
    const s = run(['start:', 'int 0x40', ...STOP, '.intgate 0x40, h', 'h:', 'iretq']);
    const n = deliveries(s)[0].step;
    expect(memQ(s, TOP - 8, n)).toBe(0x10n);
    expect(memQ(s, TOP - 16, n)).toBe(BigInt(TOP));
    expect(reg(s, 'rsp', n)).toBe(BigInt(TOP - 40));
  });

  it('pushes the error code last for exceptions that have one', () => {
    const s = run(['start:', 'mov ecx, 0x1234', 'rdmsr', ...STOP, '.intgate 13, gp', 'gp:', 'cli', 'hlt']);
    const d = deliveries(s)[0];
    expect(d).toMatchObject({ vector: 13, type: EventType.HW_EXCEPTION, errValid: true, errorCode: 0 });
    expect(reg(s, 'rsp', d.step)).toBe(BigInt(TOP - 48));
    expect(memQ(s, TOP - 48, d.step)).toBe(0n); // error code
    expect(memQ(s, TOP - 40, d.step)).toBe(BigInt(label(s, 'start') + 5)); // RIP of the RDMSR
  });
});

describe('gates', () => {
  it('an interrupt gate clears IF; a trap gate leaves it', () => {
    const prog = [
      'start:',
      'sti',
      'int 0x40',
      'int 0x41',
      ...STOP,
      '.intgate 0x40, ig',
      '.trapgate 0x41, tg',
      'ig: iretq',
      'tg: iretq',
    ];
    const s = run(prog);
    const [ig, tg] = deliveries(s);
    expect(cpu(s, ig.step).if).toBe(false);
    expect(cpu(s, tg.step).if).toBe(true);
    // the pushed RFLAGS has IF=1 in both cases, and IRETQ restores it
    expect(cpu(s, ig.step + 1).if).toBe(true);
    expect(s.view(ig.step).explanation.text).toMatch(/interrupt gate, so IF is cleared/);
    expect(s.view(tg.step).explanation.text).toMatch(/trap gate, so IF is left as it was/);
  });

  it('IRETQ restores RIP, RSP, RFLAGS and SS from the frame', () => {
    const s = run([
      'start:',
      'push 7',
      'xor eax, eax', // ZF=1
      'int 0x40',
      'after:',
      ...STOP,
      '.intgate 0x40, h',
      'h:',
      'mov eax, 1',
      'add eax, 1', // ZF=0 in the handler
      'iretq',
    ]);
    const iret = rows(s).find((r) => r.kind === EventKind.IRET)!;
    expect(iret.d2).toBe(label(s, 'after'));
    const c = cpu(s, iret.step);
    expect(c.rip).toBe(label(s, 'after'));
    expect(reg(s, 'rsp', iret.step)).toBe(BigInt(TOP - 8));
    expect(c.rflags & RF.ZF).toBe(RF.ZF);
    expect(c.if).toBe(false);
    expect(c.handlerDepth).toBe(0);
  });

  it('delivery clears TF: a single-stepped program traps after each instruction, the handler runs untraced', () => {
    const s = run([
      'start:',
      'pushf',
      'or qword [rsp], 0x100',
      'popf', // TF=1 from here: the trap comes after the next instruction
      'a: nop',
      'b: nop',
      'c: pushf',
      'd: and qword [rsp], -257',
      'e: popf', // began with TF=1: still traps after it
      'f: add rsp, 8',
      ...STOP,
      '.trapgate 1, db',
      'db:',
      'inc rbx',
      'iretq',
    ]);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.type, x.errValid])).toEqual(
      Array(5).fill([1, EventType.HW_EXCEPTION, false]),
    );
    expect(d.map((x) => x.rip)).toEqual(['b', 'c', 'd', 'e', 'f'].map((l) => label(s, l)));
    for (const x of d) expect(cpu(s, x.step).tf).toBe(false);
    expect(reg(s, 'rbx')).toBe(5n);
    expect(s.view(d[0].step).explanation.cite).toMatch(/Single-Step/);
  });
});

describe('INT n and INT3', () => {
  it('INT n delivers a software interrupt with the return RIP after the 2-byte instruction', () => {
    const s = run([
      'start:',
      'int 0x80',
      'next:',
      'mov ebx, 1',
      ...STOP,
      '.intgate 0x80, h',
      'h:',
      'mov eax, 2',
      'iretq',
    ]);
    const d = deliveries(s)[0];
    expect(d).toMatchObject({
      vector: 0x80,
      type: EventType.SW_INT,
      rip: label(s, 'start') + 2,
      handler: label(s, 'h'),
    });
    expect(label(s, 'next')).toBe(label(s, 'start') + 2);
    expect(reg(s, 'rax')).toBe(2n);
    expect(reg(s, 'rbx')).toBe(1n);
    expect(s.sim.endReason).toBe('halted');
  });

  it('INT3 delivers #BP (vector 3, software exception) with the return RIP after the 1-byte instruction', () => {
    const s = run(['start:', 'int3', 'next:', ...STOP, '.trapgate 3, bp', 'bp: iretq']);
    const d = deliveries(s)[0];
    expect(d).toMatchObject({
      vector: 3,
      type: EventType.SW_EXCEPTION,
      errValid: false,
      rip: label(s, 'start') + 1,
    });
    expect(cpu(s, d.step + 1).rip).toBe(label(s, 'next'));
  });
});

describe('missing gates', () => {
  it('INT n without a gate raises #NP(vector·8 + 2), EXT clear, with RIP at the INT instruction', () => {
    const s = run(['start:', 'nop', 'bad: int 0x40', ...STOP, '.intgate 11, np', 'np:', 'cli', 'hlt']);
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      vector: 11,
      type: EventType.HW_EXCEPTION,
      errValid: true,
      errorCode: 0x40 * 8 + 2,
      escalated: true,
      origVector: 0x40,
    });
    // #NP is a fault: the saved RIP is the instruction whose event could not be delivered
    expect(d[0].rip).toBe(label(s, 'bad'));
    expect(memQ(s, TOP - 40, d[0].step)).toBe(BigInt(label(s, 'bad')));
    expect(memQ(s, TOP - 48, d[0].step)).toBe(0x202n);
  });

  it('an external interrupt without a gate raises #NP with EXT set', () => {
    const s = run(
      ['start:', 'sti', 'work 100', ...STOP, '.intgate 11, np', 'np:', 'cli', 'hlt'],
      [{ at: { time: 10 }, irq: 0x40 }],
    );
    const d = deliveries(s)[0];
    expect(d).toMatchObject({ vector: 11, errorCode: 0x203, origVector: 0x40, rip: label(s, 'start') + 1 });
  });

  it('an NMI without a gate raises #NP(2·8 + 2 + 1)', () => {
    const s = run(
      ['start:', 'work 100', ...STOP, '.intgate 11, np', 'np:', 'cli', 'hlt'],
      [{ at: { time: 10 }, nmi: true }],
    );
    expect(deliveries(s)[0]).toMatchObject({ vector: 11, errorCode: 0x13, origVector: 2 });
  });

  it('#NP without a gate becomes #DF (error code 0)', () => {
    const s = run(['start:', 'bad: int 0x40', ...STOP, '.intgate 8, df', 'df:', 'cli', 'hlt']);
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      vector: 8,
      errValid: true,
      errorCode: 0,
      escalated: true,
      origVector: 0x40,
    });
    expect(s.view(d[0].step).explanation.cite).toMatch(/Double Fault/);
  });

  it('a contributory exception without a gate becomes #DF (the #NP is contributory too)', () => {
    const s = run([
      'start:',
      'mov ecx, 0x1234',
      'w: wrmsr',
      ...STOP,
      '.intgate 8, df',
      '.intgate 11, np',
      'np: hlt',
      'df:',
      'cli',
      'hlt',
    ]);
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ vector: 8, errorCode: 0, origVector: 13, rip: label(s, 'w') });
  });

  it('#DF without a gate is a triple fault: the processor shuts down', () => {
    const s = run(['start:', 'int 0x40', 'nop', ...STOP]);
    const r = rows(s);
    expect(r).toHaveLength(1);
    expect(r[0].kind).toBe(EventKind.SHUTDOWN);
    expect(r[0].d0 & 0xff).toBe(0x40);
    expect(s.sim.endReason).toBe('shutdown');
    expect(s.runError()).toBeNull();
    expect(cpu(s).activity).toBe('shutdown');
    expect(s.view(1).explanation.text).toMatch(/Triple fault/);
  });
});
