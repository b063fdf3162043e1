// The local APIC as the processor sees it: IRR → ISR on acceptance, highest vector first,
// priority classes against the TPR and the PPR, EOI, and requests that merge in the IRR
// (SDM Vol. 3A "Advanced Programmable Interrupt Controller").
import { describe, expect, it } from 'vitest';
import { EventKind, type EventSpec, STOP, deliveries, label, reg, run, stepsOf } from '../helpers';

/** A handler for `vector` that EOIs (unless `eoi` is false) and returns. */
function handler(vector: number, eoi = true, body: string[] = []): string[] {
  const h = `h_${vector.toString(16)}`;
  return [
    `.intgate 0x${vector.toString(16)}, ${h}`,
    `${h}:`,
    'push rax',
    'push rcx',
    'push rdx',
    ...body,
    ...(eoi ? ['call eoi'] : []),
    'pop rdx',
    'pop rcx',
    'pop rax',
    'iretq',
  ];
}

const EOI_FN = ['eoi:', 'xor eax, eax', 'xor edx, edx', 'mov ecx, 0x80b', 'wrmsr', 'ret'];

function program(main: string[], handlers: string[][]): string[] {
  return ['start:', ...main, ...STOP, ...handlers.flat(), ...EOI_FN];
}

const irqAt = (time: number, irq: number): EventSpec => ({ at: { time }, irq });
const vectors = (s: ReturnType<typeof run>) => deliveries(s).map((d) => d.vector);

describe('acceptance', () => {
  it('moves the vector from IRR to ISR when the processor takes it, and EOI clears the ISR', () => {
    const s = run(program(['sti', 'work 100'], [handler(0x40)]), [irqAt(10, 0x40)]);
    const raise = stepsOf(s, EventKind.RAISE)[0].step;
    const d = deliveries(s)[0];
    expect(s.view(raise).levels[0].apic).toMatchObject({ irr: [0x40], isr: [] });
    expect(s.view(raise).levels[0].cpu.pending.intr).toBe(0x40);
    expect(s.view(d.step).levels[0].apic).toMatchObject({ irr: [], isr: [0x40], ppr: 0x40 });
    expect(s.view(s.totalSteps).levels[0].apic).toMatchObject({ irr: [], isr: [], ppr: 0 });
  });

  it('presents the highest vector first', () => {
    const events = [irqAt(10, 0x31), irqAt(20, 0x51), irqAt(30, 0x41), irqAt(40, 0x52)];
    const s = run(
      program(
        ['cli', 'work 100', 'sti', 'nop', 'nop'],
        [0x31, 0x41, 0x51, 0x52].map((v) => handler(v)),
      ),
      events,
    );
    expect(vectors(s)).toEqual([0x52, 0x51, 0x41, 0x31]);
  });

  it('merges a request for a vector that is already in the IRR', () => {
    const s = run(program(['cli', 'work 100', 'sti', 'nop', 'nop'], [handler(0x40)]), [
      irqAt(10, 0x40),
      irqAt(20, 0x40),
    ]);
    expect(vectors(s)).toEqual([0x40]);
    expect(s.view(stepsOf(s, EventKind.RAISE)[1].step).explanation.text).toMatch(
      /already pending in the IRR/,
    );
  });

  it('a request for a vector in service (ISR) but not in the IRR is accepted again after EOI', () => {
    const body = ['sti', 'work 50', 'cli'];
    const s = run(program(['sti', 'work 200'], [handler(0x40, true, body)]), [
      irqAt(10, 0x40),
      irqAt(20, 0x40),
    ]);
    const d = deliveries(s);
    expect(d.map((x) => x.vector)).toEqual([0x40, 0x40]);
    // the second one waits for the first handler's EOI: it is not nested inside it
    const eoiStep = stepsOf(s, EventKind.INSTR).find((r) =>
      s.view(r.step).explanation.text.includes('EOI'),
    )!.step;
    expect(d[1].step).toBeGreaterThan(eoiStep);
  });
});

describe('priority classes, TPR and PPR', () => {
  const tprProgram = (tpr: number, extra: string[] = []) =>
    program(
      [
        'cli',
        'work 100',
        'mov ecx, 0x808',
        'xor edx, edx',
        `mov eax, ${tpr}`,
        'wrmsr',
        'sti',
        'nop',
        ...extra,
        'nop',
      ],
      [handler(0x51), handler(0x61)],
    );
  const events = [irqAt(10, 0x51), irqAt(20, 0x61)];

  it('delivers only vectors whose class (vector >> 4) is above the TPR class', () => {
    expect(vectors(run(tprProgram(0x50), events))).toEqual([0x61]);
    expect(vectors(run(tprProgram(0x4f), events))).toEqual([0x61, 0x51]);
    expect(vectors(run(tprProgram(0x60), events))).toEqual([]);
    expect(vectors(run(tprProgram(0x00), events))).toEqual([0x61, 0x51]);
  });

  it('lowering the TPR lets the waiting vector through', () => {
    const s = run(tprProgram(0x50, ['xor eax, eax', 'wrmsr']), events);
    expect(vectors(s)).toEqual([0x61, 0x51]);
  });

  it('PPR = TPR when the TPR class is at least the highest in-service class, else that class', () => {
    // In the handler of 0x41 (ISR class 4): TPR 0x45 gives PPR 0x45; TPR 0x25 gives PPR 0x40.
    const body = (tpr: number) => [
      'mov ecx, 0x808',
      'xor edx, edx',
      `mov eax, ${tpr}`,
      'wrmsr',
      'mov ecx, 0x80a',
      'rdmsr',
      'mov rbx, rax',
    ];
    for (const [tpr, ppr] of [
      [0x45, 0x45],
      [0x25, 0x40],
      [0x40, 0x40],
      [0x4f, 0x4f],
    ]) {
      const s = run(program(['sti', 'work 100'], [handler(0x41, true, body(tpr))]), [irqAt(10, 0x41)]);
      expect(reg(s, 'rbx')).toBe(BigInt(ppr));
      const wr = stepsOf(s, EventKind.INSTR).filter((r) => s.view(r.step).levels[0].apic.tpr === tpr)[0].step;
      expect(s.view(wr).levels[0].apic.ppr).toBe(ppr);
    }
  });

  it('a vector in service blocks its own and lower classes until EOI; a higher class nests', () => {
    // 0x51's handler enables interrupts and works; 0x52 and 0x41 wait, 0x61 nests.
    const body = ['sti', 'work 100', 'cli'];
    const s = run(
      program(['sti', 'work 500'], [handler(0x51, true, body), handler(0x52), handler(0x41), handler(0x61)]),
      [irqAt(10, 0x51), irqAt(20, 0x52), irqAt(30, 0x41), irqAt(40, 0x61)],
    );
    const d = deliveries(s);
    expect(d.map((x) => x.vector)).toEqual([0x51, 0x61, 0x52, 0x41]);
    // 0x61 arrives while 0x51 is in service: it is nested (its return RIP is inside 0x51's handler)
    const h51 = label(s, 'h_51');
    const h51End = label(s, 'h_52');
    expect(d[1].rip).toBeGreaterThan(h51);
    expect(d[1].rip).toBeLessThan(h51End);
    expect(s.view(d[1].step).levels[0].apic.isr).toEqual([0x51, 0x61]);
    // 0x52 and 0x41 are delivered only after 0x51's IRET, back in the main line
    expect(d[2].rip).toBe(label(s, 'start') + 1);
  });

  it('EOI clears the highest in-service vector, not the one the handler was for', () => {
    // 0x31's handler lets 0x61 nest; 0x61's handler does not EOI; 0x31's EOI then clears 0x61.
    const body = ['sti', 'work 100', 'cli'];
    const s = run(program(['sti', 'work 500'], [handler(0x31, true, body), handler(0x61, false)]), [
      irqAt(10, 0x31),
      irqAt(20, 0x61),
    ]);
    expect(vectors(s)).toEqual([0x31, 0x61]);
    expect(s.view(s.totalSteps).levels[0].apic.isr).toEqual([0x31]);
  });
});
