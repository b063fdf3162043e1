// The instruction boundary: which pending event is delivered first (SDM Vol. 3A "Priority
// Among Concurrent Events": single-step trap, then NMI, then INTR), IF, and the one-
// instruction shadows of STI and MOV SS (facts §3.1, §3.2).
import { describe, expect, it } from 'vitest';
import {
  EventKind,
  EventType,
  type EventSpec,
  STOP,
  cpu,
  deliveries,
  label,
  reg,
  rows,
  run,
} from '../helpers';

const HANDLERS = [
  '.intgate 2, nmi',
  '.intgate 0x40, irq',
  'nmi:',
  'inc qword [nmis]',
  'iretq',
  'irq:',
  'push rax',
  'push rcx',
  'push rdx',
  'xor eax, eax',
  'xor edx, edx',
  'mov ecx, 0x80b',
  'wrmsr',
  'pop rdx',
  'pop rcx',
  'pop rax',
  'iretq',
  'nmis: .dq 0',
];

function prog(main: string[], extra: string[] = []): string[] {
  return ['start:', ...main, ...STOP, ...HANDLERS, ...extra];
}

const irqAt = (label: string, irq = 0x40): EventSpec => ({ at: { level: 0, label }, irq });
const nmiAt = (label: string): EventSpec => ({ at: { level: 0, label }, nmi: true });

describe('priority among events pending at the same boundary', () => {
  it('single-step #DB before NMI before INTR', () => {
    const s = run(
      prog(
        [
          'mov ecx, 0x808',
          'xor edx, edx',
          'mov eax, 0xf0',
          'wrmsr', // TPR = 0xF0: the IRQ will wait
          'mov ecx, 0x83f',
          'mov eax, 0x40',
          'wrmsr', // self-IPI 0x40 into the IRR
          'mov ecx, 0x808',
          'xor eax, eax',
          'push 0x302', // TF | IF
          'popf',
          'wrmsr', // traced: TPR = 0; an NMI is raised when RIP reaches x
          'x: nop',
        ],
        ['.trapgate 1, db', 'db:', 'and qword [rsp+16], -257', 'iretq'],
      ),
      [nmiAt('x')],
    );
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.type])).toEqual([
      [1, EventType.HW_EXCEPTION],
      [2, EventType.NMI],
      [0x40, EventType.EXTINT],
    ]);
    // the #DB trap points after the WRMSR; the NMI is taken at the first boundary in the #DB handler
    expect(d[0].rip).toBe(label(s, 'x'));
    expect(d[1].rip).toBe(label(s, 'db'));
    expect(d[1].step).toBe(d[0].step + 1);
    // the #DB handler came through a trap gate (IF stays 1): after the NMI's IRETQ, the IRQ
    // is taken at the same first boundary of the #DB handler
    expect(d[2].rip).toBe(label(s, 'db'));
    // at the NMI's boundary the IRQ was deliverable too (IF=1 in a trap-gate handler)
    expect(s.view(d[1].step).explanation.text).toMatch(/NMIs come first/);
    expect(s.view(d[1].step).explanation.cite).toMatch(/Priority Among Concurrent Events/);
  });

  it('an NMI and an IRQ raised together: the NMI first, the IRQ after its IRETQ', () => {
    const s = run(prog(['sti', 'work 100']), [
      { at: { time: 10 }, irq: 0x40 },
      { at: { time: 10 }, nmi: true },
    ]);
    const d = deliveries(s);
    expect(d.map((x) => x.vector)).toEqual([2, 0x40]);
    const iret = rows(s).find((r) => r.kind === EventKind.IRET)!;
    expect(d[1].step).toBe(iret.step + 1);
  });
});

describe('IF', () => {
  it('an NMI is not masked by IF=0', () => {
    const s = run(prog(['cli', 'work 100']), [{ at: { time: 10 }, nmi: true }]);
    const d = deliveries(s);
    expect(d.map((x) => x.vector)).toEqual([2]);
    expect(d[0].rip).toBe(label(s, 'start') + 1); // back to the interrupted work
    expect(d[0].time).toBe(11);
  });

  it('an IRQ waits in the IRR while IF=0 and is taken once IF=1 (after the STI shadow)', () => {
    const s = run(prog(['cli', 'work 100', 'sti', 'a: nop', 'b: nop']), [{ at: { time: 10 }, irq: 0x40 }]);
    const raise = rows(s).find((r) => r.kind === EventKind.RAISE)!;
    expect(s.view(raise.step).levels[0].apic.irr).toEqual([0x40]);
    expect(s.view(raise.step).explanation.text).toMatch(/IF=0, so it waits in the IRR/);
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0].time).toBeGreaterThan(100);
    expect(d[0].rip).toBe(label(s, 'b'));
  });

  it('POPF that sets IF has no shadow: the IRQ is taken right after it', () => {
    const s = run(prog(['cli', 'work 100', 'push 0x202', 'popf', 'a: nop', 'b: nop']), [
      { at: { time: 10 }, irq: 0x40 },
    ]);
    expect(deliveries(s)[0].rip).toBe(label(s, 'a'));
  });
});

describe('STI shadow', () => {
  it('blocks a pending IRQ for exactly one instruction', () => {
    const s = run(prog(['cli', 'sti', 'a: nop', 'b: nop', 'c: nop']), [irqAt('start')]);
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0].rip).toBe(label(s, 'b'));
    const stiStep = rows(s).find((r) => r.rip === label(s, 'start') + 1)!.step;
    expect(cpu(s, stiStep).interruptibility.sti).toBe(true);
    expect(cpu(s, stiStep + 1).interruptibility.sti).toBe(false);
    expect(s.view(stiStep + 1).explanation.text).toMatch(/IRQ 0x[0-9a-f]+ waited: blocking by STI/);
  });

  it('STI; STI: only the first has a shadow, so the IRQ is taken right after the second', () => {
    const s = run(prog(['cli', 'sti', 's2: sti', 'a: nop', 'b: nop']), [irqAt('start')]);
    expect(deliveries(s)[0].rip).toBe(label(s, 'a'));
    const s2 = rows(s).find((r) => r.rip === label(s, 's2'))!.step;
    expect(cpu(s, s2).interruptibility.sti).toBe(false);
    expect(s.view(s2).explanation.text).toMatch(/IF was already 1, so this STI creates no interrupt shadow/);
  });

  it('STI with IF already 1 creates no shadow', () => {
    const s = run(prog(['sti', 'nop', 'sti', 'a: nop', 'b: nop']), [irqAt('a')]);
    expect(deliveries(s)[0].rip).toBe(label(s, 'a'));
  });

  it('also holds off an NMI for one instruction', () => {
    const shadowed = run(prog(['cli', 'sti', 'x: nop', 'y: nop']), [nmiAt('x')]);
    expect(deliveries(shadowed)[0].rip).toBe(label(shadowed, 'y'));
    const plain = run(prog(['cli', 'nop', 'x: nop', 'y: nop']), [nmiAt('x')]);
    expect(deliveries(plain)[0].rip).toBe(label(plain, 'x'));
  });
});

describe('MOV SS shadow', () => {
  it('blocks a pending IRQ for one instruction and loads SS', () => {
    // the IRQ is raised when RIP reaches 'a', i.e. after MOV SS retired, inside its shadow
    const s = run(prog(['mov eax, 0x18', 'sti', 'nop', 'm: mov ss, eax', 'a: nop', 'b: nop']), [irqAt('a')]);
    const d = deliveries(s);
    expect(d[0].rip).toBe(label(s, 'b'));
    const movStep = rows(s).find((r) => r.kind === EventKind.INSTR && r.rip === label(s, 'm'))!.step;
    expect(cpu(s, movStep).interruptibility.movss).toBe(true);
    expect(s.view(movStep).explanation.text).toMatch(/Loading SS blocks interrupts and NMIs/);
    expect(s.view(movStep).explanation.cite).toMatch(/MOV—Move/);
    expect(s.sim.stateAt(movStep).cpu.ss).toBe(0x18);
  });

  it('a second MOV SS inside the shadow does not extend it', () => {
    const s = run(
      prog(['mov eax, 0x10', 'sti', 'nop', 'm: mov ss, eax', 'm2: mov ss, eax', 'a: nop', 'b: nop']),
      [irqAt('m2')],
    );
    expect(deliveries(s)[0].rip).toBe(label(s, 'a'));
    const m2 = rows(s).find((r) => r.kind === EventKind.INSTR && r.rip === label(s, 'm2'))!.step;
    expect(cpu(s, m2).interruptibility.movss).toBe(false);
    expect(s.view(m2).explanation.text).toMatch(/does not extend it/);
  });

  it('also holds off an NMI for one instruction', () => {
    const s = run(prog(['mov eax, 0x10', 'mov ss, eax', 'x: nop', 'y: nop']), [nmiAt('x')]);
    expect(deliveries(s)[0].rip).toBe(label(s, 'y'));
  });

  it('IRETQ restores the SS that was pushed', () => {
    const s = run(
      prog(
        ['mov eax, 0x18', 'mov ss, eax', 'int 0x41', 'mov eax, ss_seen', 'mov rbx, [rax]'],
        ['.intgate 0x41, h', 'h:', 'mov rax, [rsp+32]', 'mov [ss_seen], rax', 'iretq', 'ss_seen: .dq 0'],
      ),
    );
    expect(reg(s, 'rbx')).toBe(0x18n);
    expect(s.sim.stateAt(s.totalSteps).cpu.ss).toBe(0x18);
  });

  it('inhibits the single-step trap of the MOV SS until after the next instruction', () => {
    const s = run(
      prog(
        ['mov eax, 0x10', 'push 0x102', 'popf', 'm: mov ss, eax', 'a: nop', 'b: nop', 'c: nop'],
        ['.intgate 1, db', 'db:', 'and qword [rsp+16], -257', 'iretq'],
      ),
    );
    // no #DB between MOV SS and the next instruction: the first one comes after 'a'
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[1, label(s, 'b')]]);
  });
});
