// The session as the faces use it: the trace contract (traceEvents), step search, the
// timeline columns, the scenario info and the per-level view.
import { describe, expect, it } from 'vitest';
import { EventKind, EventType, STOP, deliveries, label, run } from '../helpers';

function sample() {
  return run(
    [
      'start:',
      'sti',
      'work 100',
      'int 0x41',
      ...STOP,
      '.intgate 0x40, h',
      '.intgate 11, np',
      'h: iretq',
      'np:',
      'add rsp, 8', // drop the error code
      'add qword [rsp], 2', // skip the 2-byte INT whose gate is missing
      'iretq',
    ],
    [{ at: { time: 10 }, irq: 0x40 }],
  );
}

describe('traceEvents', () => {
  it('has one event per step with step, time, level, kind, rip and named data', () => {
    const s = sample();
    const ev = s.traceEvents();
    expect(ev).toHaveLength(s.totalSteps);
    ev.forEach((e, i) => {
      expect(Object.keys(e).sort()).toEqual(['data', 'kind', 'level', 'rip', 'step', 'time']);
      expect(e.step).toBe(i + 1);
      expect(e.level).toBe(0);
    });
    expect(ev.map((e) => e.kind)).toEqual([
      'instruction', // sti
      'raise', // the IRQ cuts the work short
      'delivery',
      'iret',
      'instruction', // the rest of the work
      'delivery', // INT 0x41: #NP
      'instruction',
      'instruction',
      'iret',
      'instruction',
      'instruction',
    ]);
    expect(ev[0]).toEqual({
      step: 1,
      time: 1,
      level: 0,
      kind: 'instruction',
      rip: label(s, 'start'),
      data: { instruction: 0 },
    });
    expect(ev[1].data).toEqual({
      vector: 0x40,
      type: EventType.EXTINT,
      event: 0,
      whileHalted: 0,
      kicked: 0,
      target: 0,
    });
    expect(ev[2].data).toEqual({
      vector: 0x40,
      type: EventType.EXTINT,
      handler: label(s, 'h'),
      wokeFromHlt: 0,
    });
    expect(ev[3].data).toEqual({ instruction: 5, returnRip: label(s, 'start') + 1 });
    // INT 0x41 has no gate: #NP with its error code and the original vector
    expect(ev[5].data).toEqual({
      vector: 11,
      type: EventType.HW_EXCEPTION,
      handler: label(s, 'np'),
      wokeFromHlt: 0,
      errorCode: 0x41 * 8 + 2,
      originalVector: 0x41,
    });
  });
});

describe('findStep', () => {
  it('finds the next and previous step of the given kinds', () => {
    const s = sample();
    expect(s.findStep(0, 1, ['delivery'])).toBe(3);
    expect(s.findStep(3, 1, ['delivery'])).toBe(6);
    expect(s.findStep(s.totalSteps, -1, ['iret'])).toBe(9);
    expect(s.findStep(9, -1, ['iret'])).toBe(4);
    expect(s.findStep(3, -1, ['iret', 'raise'])).toBe(2);
    expect(s.findStep(1, -1, ['delivery'])).toBeNull();
    expect(s.findStep(0, 1, ['shutdown'])).toBeNull();
  });
});

describe('timeline', () => {
  it('lists every step with its vector and type for deliveries and raises', () => {
    const s = sample();
    const t = s.timeline();
    expect(t.totalSteps).toBe(s.totalSteps);
    expect(t.steps).toEqual(Array.from({ length: s.totalSteps }, (_, i) => i + 1));
    expect(t.kinds[2]).toBe(EventKind.DELIVER);
    expect(t.vectors.slice(0, 4)).toEqual([-1, 0x40, 0x40, -1]);
    expect(t.types.slice(0, 4)).toEqual([-1, EventType.EXTINT, EventType.EXTINT, -1]);
  });
});

describe('info and view', () => {
  it('info describes the scenario, its levels, the end and the assertions', () => {
    const s = run(['start:', 'assert rax == 0', 'assert rax == 1', ...STOP]);
    const i = s.info();
    expect(i).toMatchObject({
      name: 'unit',
      arch: 'vmx',
      totalSteps: 4,
      endTime: 4,
      endReason: 'halted',
      assertions: { passed: 1, failed: 1 },
      params: [],
    });
    expect(i.levels).toHaveLength(1);
    expect(i.levels[0]).toMatchObject({ index: 0, name: 'L0 · bare metal', kind: 'program' });
    expect(i.levels[0].labels.start).toBe(0x1000);
  });

  it('lists the asserts the run never executed, with their line and message', () => {
    const s = run([
      'start:',
      '  assert rax == 0, "ran"',
      '  jmp done',
      '  assert rax == 1, "skipped"',
      'done:',
      '  cmp rax, 1',
      '  je never',
      ...STOP,
      'never:',
      '  assert rbx == 2',
      ...STOP,
    ]);
    expect(s.assertions.map((a) => a.line)).toEqual([2]);
    expect(s.info().assertions.notReached).toEqual([
      { level: 0, line: 4, message: 'skipped' },
      { level: 0, line: 11, message: 'rbx == 2' },
    ]);
  });

  it('the level view shows the next instruction and its source line', () => {
    const s = sample();
    const l = s.view(1).levels[0];
    expect(l).toMatchObject({ index: 0, line: 3, nextInstruction: 'work 100' });
    expect(s.view(deliveries(s)[0].step).levels[0]).toMatchObject({ nextInstruction: 'iretq', line: 9 });
  });
});

describe('info.virtualization', () => {
  it('is false for a program without VMX instructions, true once one executes VMXON or enters a guest', () => {
    expect(run(['nop', ...STOP]).info().virtualization).toBe(false);
    expect(run(['vmxon [p]', ...STOP, 'p: .dq 0']).info().virtualization).toBe(true);
  });
});
