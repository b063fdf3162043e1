// nested_run_pending (facts §3.10, §3.12; seeds B-v3, C): between L1's VMLAUNCH/VMRESUME and
// the real entry into L2, KVM may not synthesize an exit to L1. An event for L1 arriving then
// makes vmx_check_nested_events return -EBUSY; kvm_check_and_inject_events requests an
// immediate exit (d6185f20): vmcs02's preemption timer at 0 (d264ee0c) or a self-IPI, so the
// exit to L1 comes right after the entry, before any L2 instruction. Without the request, the
// event waits for L2's next exit. At nested entry KVM re-evaluates L1's pending events
// (b5861e5cf2fc), so an interrupt pending before VMLAUNCH is not forgotten.
import { describe, expect, it } from 'vitest';
import {
  EventKind,
  ExitReason,
  F,
  Fn,
  Inject,
  L2,
  PIN_BASED,
  type NestedDocSpec,
  decisions,
  firstDecision,
  hwExits,
  l1Exits,
  l1Program,
  l2Entries,
  lapic,
  lbl,
  nestedAt,
  nrows,
  q,
  retired,
  runNested,
  vmcs02,
  vmcs12,
} from './nested-helpers';

const LOOPS = 5;
/** L2 counts its own loop iterations in [l2_count], then VMCALLs. */
const L2_LOOP = [
  '        inc qword [l2_count]',
  `        cmp qword [l2_count], ${LOOPS}`,
  '        jne l2',
  'l2_call: vmcall',
];
const DATA = ['l2_count: .dq 0'];
const PIN_INTR = ['        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK'];
/** 0x30 for L1, raised 50 cycles after L1 reaches VMLAUNCH: while L0 emulates it. */
const DURING_RUN = { at: { level: 1, label: 'launch', after: 50 }, target: 1, irq: 0x30 };

function runPending(spec: NestedDocSpec = {}, l2 = L2_LOOP, setup = PIN_INTR) {
  return runNested(l1Program({ setup, l2, data: DATA }), { events: [DURING_RUN], ...spec });
}

/** The decision of kvm_check_and_inject_events right after nested_vmx_run. */
function injectAfterRun(s: ReturnType<typeof runPending>) {
  const run = firstDecision(s, Fn.nested_vmx_run);
  return firstDecision(s, Fn.kvm_check_and_inject_events, run.step);
}

describe('an interrupt for L1 during nested_vmx_run, immediate exit by preemption timer (today)', () => {
  const s = runPending();
  const run = firstDecision(s, Fn.nested_vmx_run);
  const entry = l2Entries(s)[0];
  const exit = hwExits(s, L2)[0];

  it('the interrupt is raised after nested_vmx_run and before the entry into L2', () => {
    const raise = nrows(s).find((r) => r.kind === EventKind.RAISE && (r.d0 & 0xff) === 0x30)!.step;
    expect(raise).toBeGreaterThan(run.step);
    expect(raise).toBeLessThan(entry.step);
    expect(nestedAt(s, raise).runPending).toBe(true);
  });

  it('kvm_check_and_inject_events: -EBUSY for nested_run_pending, an immediate exit requested', () => {
    const d = injectAfterRun(s);
    expect(d.step).toBeLessThan(entry.step);
    expect(d.d1 & Inject.NESTED_BUSY).toBe(Inject.NESTED_BUSY);
    expect(d.d1 & Inject.IMMEDIATE_EXIT).toBe(Inject.IMMEDIATE_EXIT);
    expect(decisions(s, Fn.vmx_check_nested_events).filter((r) => r.step < entry.step)).toEqual([]);
  });

  it('vmcs02 enters L2 with the preemption timer on at 0', () => {
    expect(
      vmcs02(s, entry.step, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
    ).toBeTruthy();
    expect(vmcs02(s, entry.step, F.VMX_PREEMPTION_TIMER_VALUE)).toBe(0);
    expect(nestedAt(s, entry.step).runPending).toBe(false); // the nested entry happened
  });

  it('exit 52 from vmcs02 before any L2 instruction, kept by L0; then exit 1 to L1', () => {
    expect(exit).toMatchObject({ d0: ExitReason.PREEMPTION_TIMER });
    expect(retired(s, L2, entry.step, exit.step)).toBe(0);
    expect(firstDecision(s, Fn.handle_preemption_timer, exit.step).step).toBe(exit.step + 1);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, how: 'check_nested_events' });
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2'));
    expect(q(s, 'l2_count')).toBe(0);
  });
});

describe('the same with a self-IPI', () => {
  it("immediateExit 'self-ipi': exit 1 with the reschedule vector 0xfd, before any L2 instruction", () => {
    const s = runPending({ kvm: { immediateExit: 'self-ipi' } });
    const entry = l2Entries(s)[0];
    const exit = hwExits(s, L2)[0];
    expect(
      vmcs02(s, entry.step, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
    ).toBe(0);
    expect(exit).toMatchObject({ d0: ExitReason.EXTERNAL_INTERRUPT, d1: 0x800000fd });
    expect(retired(s, L2, entry.step, exit.step)).toBe(0);
    expect(firstDecision(s, Fn.handle_external_interrupt_irqoff, exit.step).d1).toBe(0xfd);
    expect(l1Exits(s)[0]).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT });
    expect(q(s, 'l2_count')).toBe(0);
  });

  it('a processor without the preemption timer falls back to the self-IPI', () => {
    const s = runPending({ cpu: { preemptionTimer: false } });
    const exit = hwExits(s, L2)[0];
    expect(exit).toMatchObject({ d0: ExitReason.EXTERNAL_INTERRUPT, d1: 0x800000fd });
    expect(retired(s, L2, l2Entries(s)[0].step, exit.step)).toBe(0);
    expect(l1Exits(s)[0].reason).toBe(ExitReason.EXTERNAL_INTERRUPT);
  });
});

describe("before d6185f20 (nestedImmediateExit false): the exit to L1 waits for L2's next exit", () => {
  // L2 loops, then writes L1's TPR (through its zero MSR bitmap: an exit L0 handles), then
  // VMCALLs. The interrupt for L1 becomes an exit only at that next exit of L2.
  const l2 = [
    '        inc qword [l2_count]',
    `        cmp qword [l2_count], ${LOOPS}`,
    '        jne l2',
    '        xor eax, eax',
    '        xor edx, edx',
    '        mov ecx, 0x808',
    'l2_tpr: wrmsr',
    'l2_call: vmcall',
  ];
  const setup = [
    ...PIN_INTR,
    '        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_USE_MSR_BITMAPS',
    '        vmwrite MSR_BITMAP, msr_bitmap',
  ];
  const s = runPending({ kvm: { nestedImmediateExit: false } }, l2, setup);

  it('-EBUSY is recorded, but no immediate exit is requested', () => {
    const d = injectAfterRun(s);
    expect(d.d1 & Inject.NESTED_BUSY).toBe(Inject.NESTED_BUSY);
    expect(d.d1 & Inject.IMMEDIATE_EXIT).toBe(0);
    const entry = l2Entries(s)[0];
    expect(
      vmcs02(s, entry.step, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
    ).toBe(0);
  });

  it("L2 runs its loop; the exit to L1 (reason 1) comes after L2's WRMSR exit, at the VMCALL", () => {
    const entry = l2Entries(s)[0];
    const hw = hwExits(s, L2);
    expect(hw[0].d0).toBe(ExitReason.MSR_WRITE);
    expect(retired(s, L2, entry.step, hw[0].step)).toBeGreaterThanOrEqual(3 * LOOPS);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, how: 'check_nested_events' });
    expect(e.step).toBeGreaterThan(hw[0].step);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_call'));
    expect(q(s, 'l2_count', e.step)).toBe(LOOPS);
  });
});

describe('re-evaluation at nested entry (b5861e5cf2fc), an interrupt pending before VMLAUNCH', () => {
  // 0x30 arrives while L1 runs with IF = 0: L0 arms the window in vmcs01, which vmcs02 drops.
  const early = { at: { level: 1, label: 'start' }, target: 1, irq: 0x30 };

  it('on: nested_vmx_run requests an event check; the exit to L1 comes before any L2 instruction', () => {
    const s = runNested(l1Program({ setup: PIN_INTR, l2: L2_LOOP, data: DATA }), { events: [early] });
    const d = injectAfterRun(s);
    const entry = l2Entries(s)[0];
    expect(d.step).toBeLessThan(entry.step);
    expect(d.d1 & Inject.NESTED_BUSY).toBe(Inject.NESTED_BUSY);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT });
    expect(retired(s, L2, entry.step, e.step)).toBe(0);
    expect(q(s, 'l2_count')).toBe(0);
  });

  it('off: nothing looks at the interrupt; L2 runs to its VMCALL and L1 sees that, 0x30 still waiting', () => {
    const s = runNested(l1Program({ setup: PIN_INTR, l2: L2_LOOP, data: DATA }), {
      events: [early],
      kvm: { nestedReevaluateOnEntry: false },
    });
    const run = firstDecision(s, Fn.nested_vmx_run);
    const entry = l2Entries(s)[0];
    expect(
      decisions(s, Fn.kvm_check_and_inject_events).filter((r) => r.step > run.step && r.step < entry.step),
    ).toEqual([]);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.VMCALL, how: 'reflect' });
    expect(q(s, 'l2_count', e.step)).toBe(LOOPS);
    expect(lapic(s, e.step).irr).toEqual([0x30]);
  });
});

describe('nested_vmx_run of a halted L2 (vmcs12 GUEST_ACTIVITY_STATE = HLT)', () => {
  // "If we're entering a halted L2 vcpu and the L2 vcpu won't be awakened by event injection
  // or by an NMI-window VM-exit or by an interrupt-window VM-exit, halt the vcpu": KVM clears
  // nested_run_pending and emulates the halt instead of entering L2.
  it('nothing can wake it: no entry into L2; an intercepted interrupt later exits with activity HLT', () => {
    const s = runNested(
      l1Program({ setup: [...PIN_INTR, '        vmwrite GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT'] }),
      { events: [{ at: { time: 5000 }, target: 1, irq: 0x30 }] },
    );
    const run = firstDecision(s, Fn.nested_vmx_run);
    expect(nestedAt(s, run.step)).toMatchObject({ guestMode: true, runPending: false, halted: true });
    expect(l2Entries(s)).toEqual([]);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, how: 'check_nested_events' });
    expect(e.time).toBeGreaterThanOrEqual(5000);
    expect(vmcs12(s, e.step, F.GUEST_ACTIVITY_STATE)).toBe(1);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2'));
  });

  it('with an injection to deliver, L2 is entered and takes it', () => {
    const s = runNested(
      l1Program({
        setup: [
          '        vmwrite GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT',
          '        vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_EXT_INTR | 0x41',
        ],
      }),
    );
    expect(nestedAt(s, firstDecision(s, Fn.nested_vmx_run).step)).toMatchObject({
      runPending: true,
      halted: false,
    });
    expect(l2Entries(s)[0]).toMatchObject({ d0: 0x80000041, d2: lbl(s, 'l2_tick') });
    expect(q(s, 'l2_ticks')).toBe(1);
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
  });
});
