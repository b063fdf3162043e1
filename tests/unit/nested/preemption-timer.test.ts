// vmcs12's VMX-preemption timer (facts §1.11, §3.10; SDM "VMX-Preemption Timer"): KVM never
// puts L1's value into vmcs02. It emulates the timer with an hrtimer at the rate it reports to
// L1 (VMX_MISC_EMULATED_PREEMPTION_TIMER_RATE = 5: one tick per 32 TSC cycles), started by
// nested_vmx_run; on expiry (vmx_preemption_timer_fn) vmx_check_nested_events synthesizes exit
// 52. A value of 0 has expired at entry: the exit comes before L2's first instruction (KVM
// forces an immediate exit for it, nested_ops->has_events). With "save VMX-preemption timer
// value" the exit writes the remaining count back into vmcs12.
import { describe, expect, it } from 'vitest';
import {
  ExitReason,
  F,
  Fn,
  Inject,
  L1,
  L2,
  decisions,
  firstDecision,
  hwExits,
  l1Exits,
  l1Program,
  l2Entries,
  lbl,
  nestedAt,
  nrows,
  q,
  retired,
  runNested,
  vmcs12,
} from './nested-helpers';

const TICK = 32;
const timerSetup = (value: number, save = false) => [
  '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_VMX_PREEMPTION_TIMER',
  `        vmwrite VMX_PREEMPTION_TIMER_VALUE, ${value}`,
  ...(save ? ['        vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER'] : []),
];
const L2_LONG = ['        nop', 'l2_work: work 1_000_000', 'l2_call: vmcall'];

/** The time of L1's first VMLAUNCH/VMRESUME (its exit to L0), or of its last one before step `before`. */
function l1EntryTime(s: ReturnType<typeof runNested>, before = Infinity): number {
  const rows = hwExits(s, L1).filter(
    (r) => (r.d0 === ExitReason.VMLAUNCH || r.d0 === ExitReason.VMRESUME) && r.step < before,
  );
  return before === Infinity ? rows[0].time : rows[rows.length - 1].time;
}

/** The time L1 runs again after the exit to it at step `exitStep` (its first event). */
function l1ResumeTime(s: ReturnType<typeof runNested>, exitStep: number): number {
  return nrows(s).find((r) => r.step > exitStep && r.level === L1)!.time;
}

describe('value 0', () => {
  const s = runNested(l1Program({ setup: timerSetup(0) }));
  const run = firstDecision(s, Fn.nested_vmx_run);
  const entry = l2Entries(s)[0];
  const [e] = l1Exits(s);

  it('has expired at nested_vmx_run; KVM forces an immediate exit for it', () => {
    expect(nestedAt(s, run.step).preemptionTimerExpired).toBe(true);
    const d = firstDecision(s, Fn.kvm_check_and_inject_events, run.step);
    expect(d.step).toBeLessThan(entry.step);
    expect(d.d1 & Inject.IMMEDIATE_EXIT).toBe(Inject.IMMEDIATE_EXIT);
  });

  it("exit 52 to L1 before any L2 instruction, GUEST_RIP at L2's first instruction", () => {
    const hw = hwExits(s, L2)[0];
    expect(retired(s, L2, entry.step, hw.step)).toBe(0);
    expect(e).toMatchObject({ reason: ExitReason.PREEMPTION_TIMER, intrInfo: 0, how: 'check_nested_events' });
    expect(e.step).toBeGreaterThan(entry.step); // L2 was really entered first
    expect(vmcs12(s, e.step, F.VM_EXIT_REASON)).toBe(ExitReason.PREEMPTION_TIMER);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2'));
    expect(q(s, 'exit_reason')).toBe(ExitReason.PREEMPTION_TIMER);
  });
});

describe('value N > 0: the exit comes no earlier than N ticks of 32 cycles after the entry', () => {
  for (const n of [1, 10, 100, 1000]) {
    it(`N = ${n}`, () => {
      const s = runNested(l1Program({ setup: timerSetup(n), l2: L2_LONG }));
      const t0 = l1EntryTime(s);
      const [e] = l1Exits(s);
      expect(e).toMatchObject({ reason: ExitReason.PREEMPTION_TIMER, how: 'check_nested_events' });
      // The hrtimer counts TSC bit-5 transitions from L1's VMLAUNCH: the N-th comes after
      // (N - 1) * 32 + 1 to N * 32 cycles; it fires no earlier (later only if L0 is busy).
      const fired = firstDecision(s, Fn.vmx_preemption_timer_fn);
      expect(fired.time - t0).toBeGreaterThan((n - 1) * TICK);
      // What L1 sees: its VMLAUNCH, then its exit handler no earlier than N * 32 cycles later
      // (and not much later: L0's handling of the expiry is a few decisions).
      const seen = l1ResumeTime(s, e.step) - t0;
      expect(seen).toBeGreaterThanOrEqual(n * TICK);
      expect(seen).toBeLessThan(n * TICK + 1000);
      // L2 was cut short in its WORK (or, for a tiny N, before its first instruction).
      const rip = vmcs12(s, e.step, F.GUEST_RIP);
      if (n >= 10) expect(rip).toBe(lbl(s, 'l2_work'));
      else expect([lbl(s, 'l2'), lbl(s, 'l2_work')]).toContain(rip);
      expect(decisions(s, Fn.nested_vmx_reflect_vmexit)).toEqual([]);
    });
  }

  it('a halted L2 (HLT emulated by L0) is ended by the timer: vmcs12 records the HLT state', () => {
    const s = runNested(
      l1Program({ setup: timerSetup(50), l2: ['        nop', 'l2_hlt: hlt', 'l2_after: vmcall'] }),
    );
    expect(firstDecision(s, Fn.kvm_emulate_halt).step).toBeLessThan(
      firstDecision(s, Fn.vmx_preemption_timer_fn).step,
    );
    const [e] = l1Exits(s);
    expect(e.reason).toBe(ExitReason.PREEMPTION_TIMER);
    expect(vmcs12(s, e.step, F.GUEST_ACTIVITY_STATE)).toBe(1);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_after'));
    expect(l1ResumeTime(s, e.step) - l1EntryTime(s)).toBeGreaterThanOrEqual(50 * TICK);
  });
});

describe('"save VMX-preemption timer value"', () => {
  const N = 1000;
  // L2 works ~640 cycles (20 ticks) and VMCALLs; L1 reads the field, then resumes L2 in a
  // long WORK from the saved value.
  const prog = (save: boolean) =>
    l1Program({
      setup: timerSetup(N, save),
      l2: ['        nop', '        work 640', 'l2_call: vmcall', 'l2_more: work 1_000_000', '        vmcall'],
      handler: [
        '        vmread rax, VMX_PREEMPTION_TIMER_VALUE',
        '        mov [saved], rax',
        '        vmwrite GUEST_RIP, l2_more',
        '        vmwrite HOST_RIP, l1_second',
        '        vmresume',
        '        jmp entry_failed',
        'l1_second:',
        '        vmread rax, VM_EXIT_REASON',
        '        mov [second_reason], rax',
        '        vmread rax, VMX_PREEMPTION_TIMER_VALUE',
        '        mov [saved2], rax',
      ],
      data: ['saved: .dq -1', 'saved2: .dq -1', 'second_reason: .dq -1'],
    });

  it('on: the VMCALL exit writes the remaining count; it went down by the ticks since VMLAUNCH', () => {
    const s = runNested(prog(true));
    const [call] = l1Exits(s);
    expect(call.reason).toBe(ExitReason.VMCALL);
    const t0 = l1EntryTime(s);
    const l2exit = hwExits(s, L2)[0];
    const saved = q(s, 'saved');
    expect(vmcs12(s, call.step, F.VMX_PREEMPTION_TIMER_VALUE)).toBe(saved);
    const elapsed = N - saved;
    expect(elapsed).toBeGreaterThanOrEqual(Math.floor((l2exit.time - t0) / TICK));
    expect(elapsed).toBeLessThanOrEqual(Math.ceil((call.time - t0) / TICK) + 1);
  });

  it('on: VMRESUME continues from the saved value, and the timer exit saves 0', () => {
    const s = runNested(prog(true));
    const saved = q(s, 'saved');
    const [call, timer] = l1Exits(s);
    expect(timer.reason).toBe(ExitReason.PREEMPTION_TIMER);
    expect(q(s, 'second_reason')).toBe(ExitReason.PREEMPTION_TIMER);
    expect(q(s, 'saved2')).toBe(0);
    const t1 = l1EntryTime(s, timer.step); // L1's VMRESUME
    expect(t1).toBeGreaterThan(call.time);
    const fired = decisions(s, Fn.vmx_preemption_timer_fn).find((r) => r.step > call.step)!;
    expect(fired.time - t1).toBeGreaterThan((saved - 1) * TICK);
    expect(fired.time - t1).toBeLessThanOrEqual(saved * TICK);
  });

  it('off: the field keeps the value L1 wrote', () => {
    const s = runNested(prog(false));
    expect(q(s, 'saved')).toBe(N);
    expect(q(s, 'saved2')).toBe(N);
    expect(q(s, 'second_reason')).toBe(ExitReason.PREEMPTION_TIMER);
  });
});
