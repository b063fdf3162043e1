// The engine: determinism, step 0, seeking to any step forwards and backwards across
// checkpoints, limits, run-time errors, label triggers and time while halted.
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_INTERVAL } from '../../../src/core/engine/simulation';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import type { LabSession } from '../../../src/core/engine/session';
import {
  EventKind,
  type EventSpec,
  STOP,
  cpu,
  deliveries,
  label,
  open,
  rows,
  run,
  scenarioDoc,
  snapshot,
  stepsOf,
} from '../helpers';

function traceColumns(s: LabSession) {
  const t = s.sim.trace;
  const n = t.length;
  return {
    kind: Array.from(t.kind.subarray(0, n)),
    level: Array.from(t.level.subarray(0, n)),
    time: Array.from(t.time.subarray(0, n)),
    rip: Array.from(t.rip.subarray(0, n)),
    d0: Array.from(t.d0.subarray(0, n)),
    d1: Array.from(t.d1.subarray(0, n)),
    d2: Array.from(t.d2.subarray(0, n)),
  };
}

// A loop of ~60000 steps that writes memory and the stack, with IRQs and NMIs along the way.
const LONG = [
  'start:',
  'sti',
  'mov ecx, 10000',
  'loop:',
  'add rax, rcx',
  'mov [acc], rax',
  'push rax',
  'pop rbx',
  'dec ecx',
  'jnz loop',
  ...STOP,
  '.intgate 0x40, irq',
  '.intgate 2, nmi',
  'irq:',
  'push rax',
  'push rcx',
  'push rdx',
  'inc qword [ticks]',
  'xor eax, eax',
  'xor edx, edx',
  'mov ecx, 0x80b',
  'wrmsr',
  'pop rdx',
  'pop rcx',
  'pop rax',
  'iretq',
  'nmi:',
  'inc qword [nmis]',
  'iretq',
  'acc: .dq 0',
  'ticks: .dq 0',
  'nmis: .dq 0',
];
const LONG_EVENTS: EventSpec[] = [
  { at: { time: 5000 }, irq: 0x40 },
  { at: { time: 8190 }, nmi: true },
  { at: { time: 20000 }, irq: 0x40 },
  { at: { time: 33333 }, nmi: true },
  { at: { time: 47000 }, irq: 0x40 },
];

/** A run of LONG stopped by its step limit at `n`: the reference state of step n. */
function freshAt(n: number) {
  const s = run(LONG, LONG_EVENTS, {}, { limits: { steps: Math.max(n, 1) } });
  return snapshot(s.sim.stateAt(n));
}

describe('determinism', () => {
  it('two runs of the same scenario give identical traces', () => {
    const a = run(LONG, LONG_EVENTS);
    const b = run(LONG, LONG_EVENTS);
    expect(a.totalSteps).toBeGreaterThan(3 * CHECKPOINT_INTERVAL);
    expect(traceColumns(b)).toEqual(traceColumns(a));
    const doc = findBuiltin('nmi-blocking');
    expect(traceColumns(open(doc))).toEqual(traceColumns(open(doc)));
  });
});

describe('step 0 and stateAt', () => {
  it('step 0 is the initial state: RIP at start, RSP at the top of memory, time 0, IF=0', () => {
    const s = run(
      ['nop', 'start:', 'nop', ...STOP],
      [],
      {},
      { levels: [{ kind: 'program', program: ['nop', 'start:', 'nop', ...STOP], memory: 0x8000 }] },
    );
    const v = s.view(0);
    expect(v.step).toBe(0);
    expect(v.event).toBeNull();
    expect(v.time).toBe(0);
    const c = v.levels[0].cpu;
    expect(c.rip).toBe(label(s, 'start'));
    expect(c.regs.find((r) => r.name === 'rsp')!.value).toBe('0x0000000000008000');
    expect(c.regs.filter((r) => r.name !== 'rsp').every((r) => BigInt(r.value) === 0n)).toBe(true);
    expect(c).toMatchObject({ if: false, activity: 'active', rflags: 2, nmiDepth: 0, handlerDepth: 0 });
    expect(v.explanation.text).toMatch(/Initial state: RIP at 'start'/);
  });

  it('stateAt(n), reached by seeking backwards and forwards across checkpoints, equals a fresh run stopped at n', () => {
    const s = run(LONG, LONG_EVENTS);
    const total = s.totalSteps;
    expect(s.sim.endReason).toBe('halted');
    expect(deliveries(s).length).toBe(5);
    const seeks = [
      total,
      0,
      30000,
      100,
      CHECKPOINT_INTERVAL,
      CHECKPOINT_INTERVAL - 1,
      CHECKPOINT_INTERVAL + 1,
      50000,
      2 * CHECKPOINT_INTERVAL,
      2 * CHECKPOINT_INTERVAL + 1,
      24000,
      1,
      total,
      20000,
      19999,
      total - 1,
    ];
    for (const n of seeks) {
      expect(snapshot(s.sim.stateAt(n)), `step ${n}`).toEqual(freshAt(n));
    }
  });

  it('stateAt clamps to the run', () => {
    const s = run(['start:', 'nop', ...STOP]);
    expect(s.sim.stateAt(-5).step).toBe(0);
    expect(s.sim.stateAt(99).step).toBe(3);
    expect(s.view(99).step).toBe(3);
  });

  it('view(n) after view(m) is the same as view(n) alone', () => {
    const a = run(LONG, LONG_EVENTS);
    const b = run(LONG, LONG_EVENTS);
    a.view(40000);
    a.view(3);
    expect(a.view(25000)).toEqual(b.view(25000));
  });
});

describe('limits', () => {
  it('a step limit stops the run with a limit error', () => {
    const s = run(['start:', 'jmp start'], [], {}, { limits: { steps: 500 } });
    expect(s.totalSteps).toBe(500);
    expect(s.sim.endReason).toBe('step-limit');
    const e = s.runError()!;
    expect(e.kind).toBe('limit');
    expect(e.message).toMatch(/limits\.steps = 500/);
    expect(e.where).toBe('L0, step 500');
  });

  it('a time limit stops the run with a limit error', () => {
    const s = run(['start:', 'work 1000', 'jmp start'], [], {}, { limits: { time: 5000 } });
    expect(s.sim.endReason).toBe('time-limit');
    const e = s.runError()!;
    expect(e.kind).toBe('limit');
    expect(e.message).toMatch(/limits\.time = 5000/);
    expect(s.sim.endTime).toBeGreaterThan(5000);
    expect(s.sim.endTime).toBeLessThanOrEqual(6001);
  });

  it('a run that needs exactly its step limit and then halts has not hit the limit', () => {
    // cli; hlt: two steps, then nothing can wake the processor.
    const s = run(['start:', ...STOP], [], {}, { limits: { steps: 2 } });
    expect(s.totalSteps).toBe(2);
    expect(s.runError()).toBeNull();
    expect(s.sim.endReason).toBe('halted');
    const one = run(['start:', ...STOP], [], {}, { limits: { steps: 1 } });
    expect(one.sim.endReason).toBe('step-limit');
  });

  it('a run that ends by itself has no run error', () => {
    const s = run(['start:', 'nop', ...STOP]);
    expect(s.runError()).toBeNull();
    expect(s.sim.endReason).toBe('halted');
  });
});

describe('run-time errors', () => {
  it('a stack overflow stops the run and names the problem', () => {
    const s = run(
      ['start:', 'f: call f'],
      [],
      {},
      { levels: [{ kind: 'program', program: ['start:', 'f: call f'], memory: 0x3000 }] },
    );
    const e = s.runError()!;
    expect(e.kind).toBe('runtime');
    expect(e.message).toMatch(/stack overflow/);
    expect(e.where).toMatch(/^L0/);
    expect(s.sim.endReason).toBe('running');
    // The stack may grow from the top of memory down to the end of the image (which holds
    // the default IDT): room for (0x3000 - end) / 8 return addresses.
    const end = s.compiled.programs[0].end;
    expect(end).toBeGreaterThan(0x2000);
    expect(s.totalSteps).toBe(Math.floor((0x3000 - end) / 8));
  });

  it('running past the last instruction stops the run and names RIP', () => {
    const s = run(['start:', 'nop', 'nop']);
    const e = s.runError()!;
    expect(e.kind).toBe('runtime');
    expect(e.message).toMatch(/RIP 0x1002 is not the start of an instruction/);
    expect(s.totalSteps).toBe(2);
  });

  it('a jump into data stops the run', () => {
    const s = run(['start:', 'jmp data', 'data: .dq 0']);
    expect(s.runError()!.message).toMatch(/RIP 0x1002 is not the start of an instruction/);
  });

  it('a memory access outside memory stops the run and names the address', () => {
    const s = run(['start:', 'mov rbx, 0x20000', 'mov rax, [rbx]', ...STOP]);
    expect(s.runError()).toMatchObject({ kind: 'runtime' });
    expect(s.runError()!.message).toMatch(/read at 0x20000 is outside memory/);
  });

  it('the state after the last good step does not depend on the seeks made before', () => {
    // the IRQ's delivery overflows the stack: the failed step must leave no trace in the state
    const s = run(
      [
        'start:',
        'cli',
        'mov rsp, low',
        'x: sti',
        'nop',
        'nop',
        ...STOP,
        '.intgate 0x40, h',
        'h: iretq',
        'low: .dq 0',
      ],
      [{ at: { level: 0, label: 'x' }, irq: 0x40 }],
    );
    expect(s.runError()!.message).toMatch(/stack overflow/);
    const n = s.totalSteps;
    const first = snapshot(s.sim.stateAt(n));
    s.sim.stateAt(0);
    expect(snapshot(s.sim.stateAt(n))).toEqual(first);
    expect(first.irr).toEqual([0, 0, 1, 0, 0, 0, 0, 0]); // still requested, not in service
  });
});

describe('external events', () => {
  it('a label trigger fires once, the first time the label is reached', () => {
    const s = run(
      ['start:', 'mov ecx, 3', 'loop:', 'dec ecx', 'jnz loop', ...STOP],
      [{ at: { level: 0, label: 'loop' }, nmi: true }],
    );
    const raises = stepsOf(s, EventKind.RAISE);
    expect(raises).toHaveLength(1);
    expect(raises[0]).toMatchObject({ step: 2, rip: label(s, 'loop'), d1: 0 });
    expect(cpu(s, 2).pending.nmi).toBe(true);
  });

  it('timed events in file order at the same time, one per step', () => {
    const s = run(
      ['start:', 'work 100', ...STOP],
      [
        { at: { time: 50 }, irq: 0x41 },
        { at: { time: 10 }, irq: 0x42 },
        { at: { time: 50 }, irq: 0x40 },
      ],
    );
    expect(stepsOf(s, EventKind.RAISE).map((r) => [r.time, r.d0 & 0xff, r.d1])).toEqual([
      [10, 0x42, 1],
      [50, 0x41, 0],
      [50, 0x40, 2],
    ]);
  });

  it('timed events while halted advance time to each event', () => {
    const s = run(
      ['start:', 'cli', 'hlt', 'jmp start', '.intgate 2, h', 'h: iretq'],
      [
        { at: { time: 1000 }, nmi: true },
        { at: { time: 5000 }, nmi: true },
      ],
    );
    const r = rows(s).filter((x) => x.kind === EventKind.RAISE);
    expect(r.map((x) => [x.time, x.d2])).toEqual([
      [1000, 1],
      [5000, 1],
    ]);
    expect(deliveries(s).map((d) => d.time)).toEqual([1001, 5001]);
    expect(s.sim.endReason).toBe('halted');
  });
});

describe('scenario documents as given', () => {
  it('keeps the document without parameters applied', () => {
    const doc = scenarioDoc(['start:', 'nop', ...STOP]);
    expect(open(doc).document).toBe(doc);
  });
});
