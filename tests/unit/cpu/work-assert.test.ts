// The two lab instructions: `work N` (N cycles, interruptible, resumed after IRETQ like a REP
// string instruction) and `assert a op b, "message"` (unsigned comparison, recorded).
import { describe, expect, it } from 'vitest';
import { EventKind, type EventSpec, STOP, cpu, deliveries, label, reg, rows, run, stepsOf } from '../helpers';

describe('work', () => {
  it('advances time by N in one step', () => {
    const s = run(['start:', 'work 500', 'rdtsc', ...STOP]);
    expect(rows(s)[0]).toMatchObject({ kind: EventKind.INSTR, time: 500 });
    expect(reg(s, 'rax')).toBe(500n);
    expect(s.totalSteps).toBe(4);
  });

  it('is interrupted by an event, and resumes with the remaining cycles after IRETQ', () => {
    const s = run(
      ['start:', 'sti', 'w: work 1000', 'rdtsc', ...STOP, '.intgate 0x40, h', 'h: iretq'],
      [{ at: { time: 100 }, irq: 0x40 }],
    );
    const raise = stepsOf(s, EventKind.RAISE)[0];
    expect(raise.time).toBe(100);
    expect(cpu(s, raise.step)).toMatchObject({ rip: label(s, 'w'), workRemaining: 901 });
    const d = deliveries(s)[0];
    expect(d.rip).toBe(label(s, 'w')); // RIP stays on the work
    expect(cpu(s, d.step).workRemaining).toBe(0); // kept with the frame while the handler runs
    const iret = stepsOf(s, EventKind.IRET)[0];
    expect(cpu(s, iret.step)).toMatchObject({ rip: label(s, 'w'), workRemaining: 901 });
    // sti (1) + 99 + delivery (1) + iretq (1) + 901 = 1003
    expect(reg(s, 'rax')).toBe(1003n);
    expect(s.view(iret.step + 1).explanation.text).toMatch(/Spent 901 cycles of work/);
  });

  it('resumes correctly when the handler runs its own work, itself interrupted by an NMI', () => {
    const events: EventSpec[] = [
      { at: { time: 100 }, irq: 0x40 },
      { at: { time: 120 }, nmi: true },
    ];
    const s = run(
      [
        'start:',
        'sti',
        'work 1000',
        'rdtsc',
        ...STOP,
        '.intgate 0x40, h',
        '.intgate 2, nmi',
        'h:',
        'hw: work 50',
        'iretq',
        'nmi: iretq',
      ],
      events,
    );
    const [irq, nmi] = deliveries(s);
    expect(nmi.rip).toBe(label(s, 'hw'));
    expect(cpu(s, nmi.step - 1).workRemaining).toBe(31); // the handler's work ran from 101 to 120
    // main: 1 + 99; delivery 1; handler work 19; NMI delivery 1; iretq 1; 31; iretq 1; 901
    expect(reg(s, 'rax')).toBe(1055n);
    expect(irq.time).toBe(101);
  });

  it('is not cut short by an event that cannot be delivered (IF=0): total time stays N', () => {
    const s = run(['start:', 'cli', 'work 1000', 'rdtsc', ...STOP], [{ at: { time: 300 }, irq: 0x40 }]);
    expect(deliveries(s)).toEqual([]);
    expect(reg(s, 'rax')).toBe(1001n);
    const kinds = rows(s).map((r) => r.kind);
    expect(kinds.slice(0, 3)).toEqual([EventKind.INSTR, EventKind.RAISE, EventKind.INSTR]);
  });

  it('an event due exactly when the work ends is raised after it completes', () => {
    const s = run(['start:', 'work 100', 'nop', ...STOP], [{ at: { time: 100 }, irq: 0x40 }]);
    const r = rows(s);
    expect(r[0]).toMatchObject({ kind: EventKind.INSTR, time: 100 });
    expect(r[1]).toMatchObject({ kind: EventKind.RAISE, time: 100 });
    expect(cpu(s, 1).workRemaining).toBe(0);
  });
});

describe('assert', () => {
  const cases: [string, boolean][] = [
    ['assert rax == 5', true],
    ['assert rax == 6', false],
    ['assert rax != 6', true],
    ['assert rax != 5', false],
    ['assert rax < 6', true],
    ['assert rax < 5', false],
    ['assert rax <= 5', true],
    ['assert rax <= 4', false],
    ['assert rax > 4', true],
    ['assert rax > 5', false],
    ['assert rax >= 5', true],
    ['assert rax >= 6', false],
    ['assert rbx > 5', true], // unsigned: -1 is the largest value
    ['assert rbx < 0', false],
    ['assert rcx > 0xffffffff', true], // 64-bit values
    ['assert ecx == 0', true], // the low half of 0x100000000
    ['assert qword [v] == 0x1122334455667788', true],
    ['assert dword [v] == 0x55667788', true],
    ['assert rax == rdx', false],
    ['assert 5 == rax', true],
  ];
  it.each(cases)('%s → %s', (line, passed) => {
    const s = run([
      'start:',
      'mov rax, 5',
      'mov rbx, -1',
      'mov rcx, 0x100000000',
      'mov edx, 7',
      line,
      ...STOP,
      'v: .dq 0x1122334455667788',
    ]);
    expect(s.assertions).toHaveLength(1);
    expect(s.assertions[0]).toMatchObject({ step: 5, level: 0, line: 6, passed });
    const r = rows(s)[4];
    expect(r).toMatchObject({ kind: EventKind.ASSERT, d1: passed ? 1 : 0 });
  });

  it('records the message, or the assertion text when there is none, and changes no state', () => {
    const s = run(['start:', 'xor eax, eax', 'assert rax == 0, "zero"', 'assert rax != 0', ...STOP]);
    expect(s.assertions.map((a) => [a.passed, a.message])).toEqual([
      [true, 'zero'],
      [false, 'rax != 0'],
    ]);
    expect(s.view(2).explanation.text).toBe('assert passed (line 3): zero');
    expect(s.view(3).explanation.text).toMatch(/^assert FAILED \(line 4\)/);
    expect(cpu(s, 2).rflags).toBe(cpu(s, 1).rflags);
    expect(s.view(2).assertions).toHaveLength(1);
    expect(s.view(3).assertions).toHaveLength(2);
    expect(s.info().assertions).toEqual({ passed: 1, failed: 1, skipped: 0, notReached: [] });
  });
});

describe('skip "why" (kvm-unit-tests\' report_skip)', () => {
  it('is recorded as neither a pass nor a failure, with its reason, and changes nothing else', () => {
    const s = run(['start:', 'mov eax, 1', 'skip "no VMCS shadowing here"', 'assert rax == 1', ...STOP]);
    expect(rows(s)[1]).toMatchObject({ kind: EventKind.ASSERT, d1: 2 });
    expect(s.assertions.map((a) => [a.passed, a.skipped, a.message, a.line])).toEqual([
      [false, true, 'no VMCS shadowing here', 3],
      [true, false, 'rax == 1', 4],
    ]);
    expect(s.info().assertions).toMatchObject({ passed: 1, failed: 0, skipped: 1 });
    expect(s.view(2).explanation.text).toMatch(/^skipped \(line 3\): no VMCS shadowing here\. .*report_skip/);
    expect(cpu(s, 2).rflags).toBe(cpu(s, 1).rflags);
    expect(cpu(s, 2).rip).toBe(label(s, 'start') + 5 + 5);
  });
});
