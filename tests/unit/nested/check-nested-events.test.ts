// vmx_check_nested_events (arch/x86/kvm/vmx/nested.c, facts §3.1, §3.10; seed B): while L2
// runs, an event for L1 that L1 intercepts becomes an emulated VM exit from L2, in the SDM's
// priority order as KVM documents it — an exception L1 intercepts, the VMX-preemption timer,
// NMI, INTR. An NMI exit is 0x80000202 and blocks L1's NMIs; an interrupt exit carries the
// vector and acknowledges it in L1's APIC only with "acknowledge interrupt on exit"; without
// external-interrupt exiting the interrupt is injected into L2 instead.
import { describe, expect, it } from 'vitest';
import {
  CPU_BASED,
  ExitReason,
  F,
  Fn,
  Inject,
  L2,
  decisions,
  firstDecision,
  hwExits,
  l1Exits,
  l1Program,
  l2Entries,
  lapic,
  lbl,
  nestedAt,
  q,
  retired,
  runNested,
  vmcs01,
  vmcs02,
  vmcs12,
} from './nested-helpers';

const L2_WORK = ['        nop', 'l2_work: work 20000', 'l2_call: vmcall'];
const duringWork = (e: { irq?: number; nmi?: true }, after = 500) => ({
  at: { level: 1, label: 'l2_work', after },
  target: 1,
  ...e,
});

describe('priority: the preemption timer before an interrupt', () => {
  // vmcs12's timer at 0 and an interrupt for L1 pending before VMLAUNCH: both wait for the
  // nested entry (nested_run_pending), then the timer wins.
  const s = runNested(
    l1Program({
      setup: [
        '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK | PIN_BASED_VMX_PREEMPTION_TIMER',
        '        vmwrite VMX_PREEMPTION_TIMER_VALUE, 0',
      ],
    }),
    { events: [{ at: { level: 1, label: 'start' }, target: 1, irq: 0x30 }] },
  );
  const exits = l1Exits(s);

  it('the first exit L1 sees is 52, with 0x30 still requested in its APIC', () => {
    expect(exits[0]).toMatchObject({ reason: ExitReason.PREEMPTION_TIMER, how: 'check_nested_events' });
    expect(q(s, 'exit_reason')).toBe(ExitReason.PREEMPTION_TIMER);
    expect(lapic(s, exits[0].step)).toEqual({ irr: [0x30], isr: [] });
    expect(exits.some((e) => e.reason === ExitReason.EXTERNAL_INTERRUPT)).toBe(false);
  });
});

describe('priority: an NMI before an interrupt; an NMI exit for L1', () => {
  const s = runNested(
    l1Program({
      setup: ['        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING'],
      l2: L2_WORK,
    }),
    { events: [duringWork({ nmi: true }), duringWork({ irq: 0x30 })] },
  );
  const [e] = l1Exits(s);

  it('exit reason 0 with VM_EXIT_INTR_INFO 0x80000202', () => {
    expect(e).toMatchObject({
      reason: ExitReason.EXCEPTION_NMI,
      intrInfo: 0x80000202,
      how: 'check_nested_events',
    });
    expect(vmcs12(s, e.step, F.VM_EXIT_REASON)).toBe(0);
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_INFO)).toBe(0x80000202);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_work'));
  });

  it("the NMI is consumed and L1's NMIs are blocked (vmcs01 interruptibility bit 3)", () => {
    expect(s.sim.stateAt(e.step).kvm!.nmiPending).toBe(0);
    expect(vmcs01(s, e.step, F.GUEST_INTERRUPTIBILITY_INFO) & 8).toBe(8);
  });

  it("the interrupt waits in L1's IRR", () => {
    expect(lapic(s, e.step)).toEqual({ irr: [0x30], isr: [] });
  });
});

describe('an interrupt for L1 with external-interrupt exiting', () => {
  const run = (ack: boolean, l0Ack = true, l2Rflags?: string) =>
    runNested(
      l1Program({
        setup: [
          '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK',
          ...(ack ? ['        vmwrite VM_EXIT_CONTROLS, VM_EXIT_ACK_INTR_ON_EXIT'] : []),
        ],
        l2: L2_WORK,
        guestRflags: l2Rflags,
      }),
      { kvm: { nestedAckOnExit: l0Ack }, events: [duringWork({ irq: 0x30 })] },
    );

  it('with acknowledge-on-exit: VM_EXIT_INTR_INFO 0x80000030, the vector moved IRR → ISR', () => {
    const s = run(true);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, intrInfo: 0x80000030 });
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_INFO)).toBe(0x80000030);
    expect(lapic(s, e.step - 1)).toEqual({ irr: [0x30], isr: [] });
    expect(lapic(s, e.step)).toEqual({ irr: [], isr: [0x30] });
    // Nothing left to inject: no interrupt window for L1.
    expect(vmcs01(s, e.step + 1, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING).toBe(
      0,
    );
  });

  it('without it: VM_EXIT_INTR_INFO 0 and the vector still in the IRR', () => {
    const s = run(false);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, intrInfo: 0 });
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_INFO)).toBe(0);
    expect(lapic(s, e.step)).toEqual({ irr: [0x30], isr: [] });
  });

  it('L1 asks for the ack but the 2011 L0 ignores it (nestedAckOnExit false): no vector, IRR', () => {
    const s = run(true, false);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, intrInfo: 0 });
    expect(lapic(s, e.step)).toEqual({ irr: [0x30], isr: [] });
  });

  it("L2's IF = 0 does not hold the exit (vmx_interrupt_blocked: not gated by L2's IF)", () => {
    const s = run(false, true, 'X86_EFLAGS_FIXED');
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, how: 'check_nested_events' });
    expect(vmcs12(s, e.step, F.GUEST_RFLAGS) & 0x200).toBe(0);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_work'));
  });

  it('the exit writes IDT-vectoring 0 and L1 resumes at HOST_RIP with RFLAGS 0x2', () => {
    const s = run(false);
    const [e] = l1Exits(s);
    expect(vmcs12(s, e.step, F.IDT_VECTORING_INFO_FIELD)).toBe(0);
    expect(vmcs01(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l1_exit'));
    expect(vmcs01(s, e.step, F.GUEST_RFLAGS)).toBe(0x2);
    expect(nestedAt(s, e.step)).toMatchObject({ guestMode: false, runPending: false });
  });
});

describe('an interrupt for L1 without external-interrupt exiting goes to L2 (seed B-v2)', () => {
  it('with L2 IF = 1: injected straight into L2 (vmcs02 VM_ENTRY_INTR_INFO_FIELD 0x80000030), no exit to L1', () => {
    const s = runNested(l1Program({ l2: L2_WORK }), { events: [duringWork({ irq: 0x30 })] });
    const inj = l2Entries(s).find((e) => e.d0 === 0x80000030);
    expect(inj).toBeDefined();
    expect(vmcs02(s, inj!.step - 1, F.VM_ENTRY_INTR_INFO_FIELD)).toBe(0x80000030);
    expect(inj!.d2).toBe(lbl(s, 'l2_irq'));
    const d = decisions(s, Fn.kvm_check_and_inject_events).find((r) => r.step === inj!.step - 1)!;
    expect(d.d1 & Inject.IRQ).toBe(Inject.IRQ);
    expect(d.d2).toBe(0x30);
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
    expect(q(s, 'l2_irqs')).toBe(1);
    expect(q(s, 'l1_irqs')).toBe(0);
    // kvm_cpu_get_interrupt acknowledged it in L1's APIC (the one L0 emulates).
    expect(lapic(s, inj!.step)).toEqual({ irr: [], isr: [0x30] });
  });

  it('with L2 IF = 0: L0 opens the interrupt window in vmcs02, handles exit 7 itself, then injects', () => {
    const s = runNested(
      l1Program({
        guestRflags: 'X86_EFLAGS_FIXED',
        l2: [
          '        nop',
          'l2_work: work 20000',
          '        sti',
          '        nop',
          'l2_open: nop',
          'l2_call: vmcall',
        ],
      }),
      { events: [duringWork({ irq: 0x30 })] },
    );
    const win = hwExits(s, L2).find((r) => r.d0 === ExitReason.INTERRUPT_WINDOW);
    expect(win).toBeDefined();
    expect(firstDecision(s, Fn.handle_interrupt_window, win!.step).step).toBe(win!.step + 1);
    expect(decisions(s, Fn.nested_vmx_reflect_vmexit).map((r) => r.d1)).toEqual([ExitReason.VMCALL]);
    const inj = l2Entries(s).find((e) => e.d0 === 0x80000030)!;
    expect(inj.step).toBeGreaterThan(win!.step);
    expect(inj.d2).toBe(lbl(s, 'l2_irq'));
    // The window was in vmcs02 (L0 injects into L2 now), not in vmcs01.
    const armed = decisions(s, Fn.kvm_check_and_inject_events).find((r) => r.d1 & Inject.IRQ_WINDOW)!;
    expect(
      vmcs02(s, armed.step, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING,
    ).toBeTruthy();
    expect(vmcs01(s, armed.step, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING).toBe(
      0,
    );
    expect(q(s, 'l2_irqs')).toBe(1);
  });
});

describe('an exception for L2 that L1 intercepts becomes an exit to L1', () => {
  // L2 writes MSR 0x10, which L1's zero bitmap lets through and L0 does not emulate: L0
  // queues #GP(0) for the vCPU (kvm_queue_exception), and vmx_check_nested_events turns it
  // into exit 0 when vmcs12's exception bitmap has bit 13, else it is injected into L2.
  const gp = (bitmap: number) =>
    runNested(
      l1Program({
        setup: [
          '        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_USE_MSR_BITMAPS',
          '        vmwrite MSR_BITMAP, msr_bitmap',
          `        vmwrite EXCEPTION_BITMAP, ${bitmap}`,
        ],
        l2: ['        nop', '        mov ecx, 0x10', 'l2_msr: wrmsr', '        vmcall'],
        guestGates: ['        .intgate 13, l2_gp'],
        data: ['l2_gp:  inc qword [l2_gps]', '        vmcall', 'l2_gps: .dq 0'],
      }),
    );

  it('with bit 13 in vmcs12: exit 0, VM_EXIT_INTR_INFO 0x80000b0d, error code 0, RIP at the WRMSR', () => {
    const s = gp(1 << 13);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({
      reason: ExitReason.EXCEPTION_NMI,
      intrInfo: 0x80000b0d,
      how: 'check_nested_events',
    });
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_ERROR_CODE)).toBe(0);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_msr'));
    expect(q(s, 'l2_gps')).toBe(0);
  });

  it('without: #GP injected into L2 through its IDT', () => {
    const s = gp(0);
    const inj = l2Entries(s).find((x) => x.d0 === 0x80000b0d);
    expect(inj?.d2).toBe(lbl(s, 'l2_gp'));
    expect(q(s, 'l2_gps')).toBe(1);
    expect(l1Exits(s).map((x) => x.reason)).toEqual([ExitReason.VMCALL]);
  });
});

describe('an NMI for L1 without vmcs12 NMI exiting goes to L2', () => {
  it('injected into L2 (0x80000202) through its IDT; no exit to L1 for it', () => {
    const s = runNested(
      l1Program({
        guestGates: ['        .intgate 2, l2_nmi'],
        l2: L2_WORK,
        data: ['l2_nmi: inc qword [l2_nmis]', '        iretq', 'l2_nmis: .dq 0'],
      }),
      { events: [duringWork({ nmi: true })] },
    );
    const inj = l2Entries(s).find((e) => e.d0 === 0x80000202);
    expect(inj?.d2).toBe(lbl(s, 'l2_nmi'));
    expect(q(s, 'l2_nmis')).toBe(1);
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
  });
});

describe('an interrupt for L1 wakes a halted L2 that takes it (no external-interrupt exiting)', () => {
  it('STI; HLT in L2 (emulated by L0), then 0x30: L2 is woken and 0x30 injected after the HLT', () => {
    const s = runNested(
      l1Program({ guestRflags: 'X86_EFLAGS_FIXED', l2: ['        sti', 'l2_hlt: hlt', 'l2_after: vmcall'] }),
      { events: [{ at: { time: 5000 }, target: 1, irq: 0x30 }] },
    );
    const halt = firstDecision(s, Fn.kvm_emulate_halt);
    const wake = firstDecision(s, Fn.kvm_vcpu_wake_up, halt.step);
    expect(wake.time).toBeGreaterThanOrEqual(5000);
    const inj = l2Entries(s).find((e) => e.step > wake.step)!;
    expect(inj.d0).toBe(0x80000030);
    expect(inj.d2).toBe(lbl(s, 'l2_irq'));
    expect(q(s, 'l2_irqs')).toBe(1);
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
    expect(vmcs12(s, s.totalSteps, F.GUEST_RIP)).toBe(lbl(s, 'l2_after'));
  });
});

describe('the monitor trap flag in vmcs12', () => {
  // vmcs12's MTF is merged into vmcs02, so after an instruction L2 executes the hardware's MTF
  // exit is reflected. After an instruction L0 emulates for L2, the hardware has no MTF exit to
  // give: vmx_update_emulated_instruction sets nested.mtf_pending and KVM_REQ_EVENT, and
  // vmx_check_nested_events synthesizes exit 37 before L2 runs again (facts §3.6, §3.10).
  const MTF = (extra: string) =>
    `        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG${extra}`;
  const BITMAP = ['        vmwrite MSR_BITMAP, msr_bitmap'];

  it('after an instruction of L2: the hardware exit 37, reflected, RIP after it', () => {
    const s = runNested(
      l1Program({ setup: [MTF('')], l2: ['l2_a:   nop', 'l2_b:   nop', '        vmcall'] }),
    );
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.MTF, how: 'reflect' });
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_b'));
  });

  it('after a WRMSR L0 emulates (x2APIC EOI): exit 37 from vmx_check_nested_events, RIP after it', () => {
    const s = runNested(
      l1Program({
        setup: [
          MTF(' | CPU_BASED_USE_MSR_BITMAPS'),
          ...BITMAP,
          '        vmwrite GUEST_RIP, l2_w',
          '        mov ecx, 0x80b',
          '        xor eax, eax',
          '        xor edx, edx',
        ],
        data: ['l2_w:   wrmsr', 'l2_after: nop', '        vmcall'],
      }),
    );
    const [e] = l1Exits(s);
    expect(hwExits(s, L2).map((r) => r.d0)).toEqual([ExitReason.MSR_WRITE]);
    expect(e).toMatchObject({ reason: ExitReason.MTF, how: 'check_nested_events' });
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_after'));
  });

  it('after an RDMSR L0 emulates (x2APIC TPR): exit 37 before L2 runs again, RIP right after the RDMSR', () => {
    const s = runNested(
      l1Program({
        setup: [
          MTF(' | CPU_BASED_USE_MSR_BITMAPS'),
          ...BITMAP,
          '        vmwrite GUEST_RIP, l2_r',
          '        mov ecx, 0x808',
        ],
        data: ['l2_r:   rdmsr', 'l2_after: nop', '        nop', '        vmcall'],
      }),
    );
    const rd = hwExits(s, L2)[0];
    expect(rd.d0).toBe(ExitReason.MSR_READ);
    const [e] = l1Exits(s);
    expect(retired(s, L2, rd.step, e.step)).toBe(0);
    expect(e).toMatchObject({ reason: ExitReason.MTF, how: 'check_nested_events' });
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_after'));
  });
});
