// Blocking by NMI (from an NMI's delivery until the next IRET, SDM Vol. 3A "NMI Handling";
// facts §3.3), the one-NMI latch, and HLT: which events wake it and where it resumes
// (SDM Vol. 2A "HLT—Halt").
import { describe, expect, it } from 'vitest';
import {
  EventKind,
  EventType,
  type EventSpec,
  STOP,
  cpu,
  deliveries,
  label,
  memQ,
  rows,
  run,
  stepsOf,
} from '../helpers';

const nmiAt = (time: number): EventSpec => ({ at: { time }, nmi: true });

function nmiProgram(handlerBody: string[]): string[] {
  return [
    'start:',
    'main: work 1000',
    ...STOP,
    '.intgate 2, nmi',
    'nmi:',
    'inc qword [count]',
    ...handlerBody,
    'iretq',
    'count: .dq 0',
  ];
}

describe('blocking by NMI', () => {
  it('a second NMI waits until the first handler IRETQs and is delivered right after it', () => {
    const s = run(nmiProgram(['work 100']), [nmiAt(10), nmiAt(20)]);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.type])).toEqual([
      [2, EventType.NMI],
      [2, EventType.NMI],
    ]);
    const irets = stepsOf(s, EventKind.IRET);
    expect(d[1].step).toBe(irets[0].step + 1);
    expect(d[1].rip).toBe(label(s, 'main')); // the first IRETQ went back to the main line
    // while the first handler runs, the NMI is pending and blocked
    const raise2 = stepsOf(s, EventKind.RAISE)[1].step;
    expect(cpu(s, raise2).pending.nmi).toBe(true);
    expect(cpu(s, raise2).interruptibility.nmi).toBe(true);
    expect(s.view(raise2).explanation.text).toMatch(/NMIs are blocked/);
    expect(s.view(raise2 + 1).explanation.text).toMatch(/NMIs are blocked until the next IRET/);
    expect(s.view(irets[0].step).explanation.text).toMatch(
      /NMI blocking ends here\. The waiting NMI can now be delivered/,
    );
    expect(s.view(irets[0].step).explanation.cite).toMatch(/NMI Handling/);
    for (let n = 0; n <= s.totalSteps; n++) expect(cpu(s, n).nmiDepth).toBeLessThanOrEqual(1);
    expect(s.sim.stateAt(s.totalSteps).cpu.maxNmiDepth).toBe(1);
    expect(memQ(s, label(s, 'count'))).toBe(2n);
  });

  it('STI inside the NMI handler does not end blocking by NMI', () => {
    const s = run(nmiProgram(['sti', 'work 100']), [nmiAt(10), nmiAt(20)]);
    const d = deliveries(s);
    expect(d).toHaveLength(2);
    expect(d[1].step).toBe(stepsOf(s, EventKind.IRET)[0].step + 1);
    expect(s.sim.stateAt(s.totalSteps).cpu.maxNmiDepth).toBe(1);
    // the handler ran with IF=1 and NMIs blocked
    const inHandler = d[0].step + 3;
    expect(cpu(s, inHandler)).toMatchObject({ if: true, interruptibility: { nmi: true } });
  });

  it('a third NMI while one is already pending merges into it (a latch of one)', () => {
    const s = run(nmiProgram(['work 100']), [nmiAt(10), nmiAt(20), nmiAt(30)]);
    expect(deliveries(s)).toHaveLength(2);
    expect(memQ(s, label(s, 'count'))).toBe(2n);
    const third = stepsOf(s, EventKind.RAISE)[2].step;
    expect(s.view(third).explanation.text).toMatch(/the latch holds only one/);
  });

  it('an NMI after the handler returned is delivered again (IRETQ unblocked NMIs)', () => {
    const s = run(nmiProgram(['work 10']), [nmiAt(10), nmiAt(500)]);
    const d = deliveries(s);
    expect(d).toHaveLength(2);
    expect(d[1].time).toBe(501);
    expect(cpu(s, d[0].step + 3).interruptibility.nmi).toBe(false); // after the IRETQ
  });

  it('a maskable interrupt can still nest inside an NMI handler that sets IF', () => {
    const s = run(
      [...nmiProgram(['sti', 'work 100', 'cli']), '.intgate 0x40, irq', 'irq:', 'iretq'],
      [nmiAt(10), { at: { time: 20 }, irq: 0x40 }],
    );
    const d = deliveries(s);
    expect(d.map((x) => x.vector)).toEqual([2, 0x40]);
    expect(cpu(s, d[1].step).nmiDepth).toBe(1);
    expect(cpu(s, d[1].step).handlerDepth).toBe(2);
  });
});

describe('HLT', () => {
  it('is left by an unmasked interrupt; the pushed RIP is the instruction after HLT', () => {
    const s = run(
      ['start:', 'sti', 'h: hlt', 'after:', ...STOP, '.intgate 0x40, irq', 'irq: iretq'],
      [{ at: { time: 100 }, irq: 0x40 }],
    );
    const r = rows(s);
    expect(r.map((x) => x.kind).slice(0, 5)).toEqual([
      EventKind.INSTR,
      EventKind.INSTR,
      EventKind.RAISE,
      EventKind.DELIVER,
      EventKind.IRET,
    ]);
    expect(cpu(s, 2).activity).toBe('hlt');
    // time jumps to the event while halted, and the raise says so
    expect(r[2]).toMatchObject({ time: 100, d2: 1 });
    expect(s.view(3).explanation.text).toMatch(/was halted; time advanced to 100 cycles/);
    const d = deliveries(s)[0];
    expect(d).toMatchObject({ vector: 0x40, wokeFromHlt: true, rip: label(s, 'after'), time: 101 });
    expect(cpu(s, d.step).activity).toBe('active');
    expect(s.view(d.step).explanation.text).toMatch(/^The processor leaves HLT/);
    expect(cpu(s, d.step + 1).rip).toBe(label(s, 'after'));
    expect(s.sim.endReason).toBe('halted');
  });

  it('is left by an NMI even with IF=0', () => {
    const s = run(
      ['start:', 'cli', 'hlt', 'after:', 'mov ebx, 1', ...STOP, '.intgate 2, nmi', 'nmi: iretq'],
      [nmiAt(50)],
    );
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ vector: 2, wokeFromHlt: true, rip: label(s, 'after'), time: 51 });
    expect(cpu(s).rip).toBe(label(s, 'after') + 7); // after mov ebx, cli, hlt
  });

  it('with IF=0 and no NMI to come, ends the run ("halted"), even if an IRQ arrives', () => {
    const s = run(
      ['start:', 'cli', 'hlt', 'nop', '.intgate 0x40, irq', 'irq: iretq'],
      [{ at: { time: 300 }, irq: 0x40 }],
    );
    expect(deliveries(s)).toEqual([]);
    expect(s.sim.endReason).toBe('halted');
    expect(s.totalSteps).toBe(3); // cli, hlt, the raise
    expect(s.sim.endTime).toBe(300);
    expect(cpu(s).pending.intr).toBe(0x40);
    expect(s.runError()).toBeNull();
  });

  it('is not left by an IRQ that the TPR holds back', () => {
    const s = run(
      [
        'start:',
        'mov ecx, 0x808',
        'xor edx, edx',
        'mov eax, 0x40',
        'wrmsr',
        'sti',
        'hlt',
        '.intgate 0x40, irq',
        'irq: iretq',
      ],
      [{ at: { time: 300 }, irq: 0x40 }],
    );
    expect(deliveries(s)).toEqual([]);
    expect(s.sim.endReason).toBe('halted');
  });

  it('STI; HLT with an IRQ already pending: HLT executes, then the IRQ wakes it at once', () => {
    const s = run(
      ['start:', 'cli', 'w: nop', 'sti', 'h: hlt', 'after:', ...STOP, '.intgate 0x40, irq', 'irq: iretq'],
      [{ at: { level: 0, label: 'w' }, irq: 0x40 }],
    );
    const d = deliveries(s)[0];
    expect(d).toMatchObject({ wokeFromHlt: true, rip: label(s, 'after') });
    expect(cpu(s, d.step - 1).activity).toBe('hlt');
    expect(d.time).toBe(s.view(d.step - 1).time + 1);
  });

  it('events while halted are raised in time order, each advancing the clock', () => {
    const s = run(
      ['start:', 'cli', 'hlt', '.intgate 0x40, irq', 'irq: iretq'],
      [
        { at: { time: 500 }, irq: 0x41 },
        { at: { time: 200 }, irq: 0x40 },
      ],
    );
    const raises = stepsOf(s, EventKind.RAISE);
    expect(raises.map((r) => [r.time, r.d0 & 0xff, r.d1])).toEqual([
      [200, 0x40, 1],
      [500, 0x41, 0],
    ]);
  });
});
