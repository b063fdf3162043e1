// nested_vmx_reflect_vmexit (arch/x86/kvm/vmx/nested.c): an exit of L2 (a physical exit from
// vmcs02) goes up to L1 unless L0 wants it (nested_vmx_l0_wants_exit: its own external
// interrupts, NMIs and preemption timer) or L1 does not (nested_vmx_l1_wants_exit: vmcs12's
// controls and MSR bitmap); an exit nobody above L0 wants is handled by L0 as if L2 were its
// own guest (kvm_emulate_halt, the x2APIC it emulates).
import { describe, expect, it } from 'vitest';
import { nestedVmxL0WantsExit } from '../../../src/core/hypervisors/kvm/nested-events';
import {
  ExitReason,
  F,
  Fn,
  L2,
  decisions,
  firstDecision,
  hwExits,
  l1Exits,
  l1Program,
  l2Entries,
  lbl,
  nestedAt,
  nextIns,
  q,
  runNested,
  vmcs12,
} from './nested-helpers';

const PIN_INTR = '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK';
const BITMAPS = [
  '        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_USE_MSR_BITMAPS',
  '        vmwrite MSR_BITMAP, msr_bitmap',
];
/** L2: a long WORK (the events of a test come during it), then VMCALL. */
const L2_WORK = ['        nop', 'l2_work: work 20000', 'l2_call: vmcall'];
const L2_WRMSR = [
  '        xor eax, eax',
  '        xor edx, edx',
  '        mov ecx, 0x80b', // x2APIC EOI
  'l2_msr: wrmsr',
  'l2_call: vmcall',
];
const L2_RDMSR = ['        mov ecx, 0x808', 'l2_msr: rdmsr', 'l2_call: vmcall']; // x2APIC TPR

describe('nested_vmx_l0_wants_exit', () => {
  it('keeps external interrupts, NMIs and the preemption timer; not exceptions, HLT, VMCALL', () => {
    expect(nestedVmxL0WantsExit(ExitReason.EXTERNAL_INTERRUPT, 0x800000ec)).toBe(true);
    expect(nestedVmxL0WantsExit(ExitReason.EXTERNAL_INTERRUPT, 0)).toBe(true);
    expect(nestedVmxL0WantsExit(ExitReason.EXCEPTION_NMI, 0x80000202)).toBe(true);
    expect(nestedVmxL0WantsExit(ExitReason.PREEMPTION_TIMER, 0)).toBe(true);
    expect(nestedVmxL0WantsExit(ExitReason.EXCEPTION_NMI, 0x80000b0d)).toBe(false); // #GP
    expect(nestedVmxL0WantsExit(ExitReason.HLT, 0)).toBe(false);
    expect(nestedVmxL0WantsExit(ExitReason.VMCALL, 0)).toBe(false);
    expect(nestedVmxL0WantsExit(ExitReason.INTERRUPT_WINDOW, 0)).toBe(false);
  });
});

describe('exits L0 keeps, although L1 intercepts the same kind of event', () => {
  it("a host interrupt while L2 runs: exit 1 on vmcs02, handled by L0's host, never seen by L1", () => {
    const s = runNested(l1Program({ setup: [PIN_INTR], l2: L2_WORK }), {
      events: [{ at: { level: 1, label: 'l2_work', after: 500 }, target: 0, irq: 0xec }],
    });
    const hw = hwExits(s, L2);
    expect(hw[0]).toMatchObject({ d0: ExitReason.EXTERNAL_INTERRUPT, d1: 0x800000ec });
    expect(firstDecision(s, Fn.handle_external_interrupt_irqoff, hw[0].step).d1).toBe(0xec);
    // L1 sees only L2's VMCALL; L2 was re-entered in its WORK and finished it.
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
    const reentry = l2Entries(s).find((e) => e.step > hw[0].step)!;
    expect(reentry.d2).toBe(lbl(s, 'l2_work'));
    expect(vmcs12(s, s.totalSteps, F.GUEST_RIP)).toBe(lbl(s, 'l2_call'));
  });

  it("a host NMI while L2 runs: exit 0 with 0x80000202, L0's NMI handler, L1 gets no NMI", () => {
    const s = runNested(
      l1Program({ setup: ['        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING'], l2: L2_WORK }),
      { events: [{ at: { level: 1, label: 'l2_work', after: 500 }, target: 0, nmi: true }] },
    );
    const hw = hwExits(s, L2);
    expect(hw[0]).toMatchObject({ d0: ExitReason.EXCEPTION_NMI, d1: 0x80000202 });
    expect(firstDecision(s, Fn.vmx_do_nmi_irqoff, hw[0].step).step).toBe(hw[0].step + 1);
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
    expect(s.sim.stateAt(s.totalSteps).kvm!.nmiPending).toBe(0);
  });

  it("L0's own preemption-timer exit (its immediate exit) is not reflected, even with vmcs12's timer on", () => {
    // An interrupt for L1 during nested_vmx_run: L0 forces an immediate exit with vmcs02's
    // timer at 0. vmcs12 runs its own timer (far away): exit 52 from vmcs02 is still L0's.
    const s = runNested(
      l1Program({
        setup: [
          '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK | PIN_BASED_VMX_PREEMPTION_TIMER',
          '        vmwrite VMX_PREEMPTION_TIMER_VALUE, 1000000',
        ],
        l2: L2_WORK,
      }),
      { events: [{ at: { level: 1, label: 'launch', after: 50 }, target: 1, irq: 0x30 }] },
    );
    const hw = hwExits(s, L2);
    expect(hw[0].d0).toBe(ExitReason.PREEMPTION_TIMER);
    expect(firstDecision(s, Fn.handle_preemption_timer, hw[0].step).step).toBe(hw[0].step + 1);
    expect(
      decisions(s, Fn.nested_vmx_reflect_vmexit).filter((r) => r.d1 === ExitReason.PREEMPTION_TIMER),
    ).toEqual([]);
    expect(l1Exits(s)[0]).toMatchObject({
      reason: ExitReason.EXTERNAL_INTERRUPT,
      how: 'check_nested_events',
    });
  });
});

describe('exits L1 wants are reflected to it', () => {
  it('HLT with vmcs12 HLT exiting: exit 12 to L1, RIP at the HLT, KVM does not halt the vCPU', () => {
    const s = runNested(
      l1Program({
        setup: ['        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_HLT_EXITING'],
        l2: ['        nop', 'l2_hlt: hlt', '        vmcall'],
      }),
    );
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.HLT, how: 'reflect' });
    expect(q(s, 'exit_reason')).toBe(ExitReason.HLT);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_hlt'));
    expect(vmcs12(s, e.step, F.VM_EXIT_INSTRUCTION_LEN)).toBe(1);
    expect(decisions(s, Fn.kvm_emulate_halt).filter((r) => r.step < e.step)).toEqual([]);
  });

  it('VMCALL always, with no vmcs12 control asking for it', () => {
    const s = runNested(l1Program());
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.VMCALL, how: 'reflect' });
    expect(vmcs12(s, e.step, F.VM_EXIT_INSTRUCTION_LEN)).toBe(3);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(nextIns(s, lbl(s, 'l2')));
    expect(decisions(s, Fn.kvm_emulate_hypercall)).toEqual([]);
  });

  it('CPUID always', () => {
    const s = runNested(l1Program({ l2: ['        cpuid', '        vmcall'] }));
    expect(l1Exits(s)[0]).toMatchObject({ reason: ExitReason.CPUID, how: 'reflect' });
    expect(decisions(s, Fn.kvm_emulate_cpuid)).toEqual([]);
  });

  it('WRMSR without MSR bitmaps in vmcs12: every MSR access exits to L1', () => {
    const s = runNested(l1Program({ l2: L2_WRMSR }));
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.MSR_WRITE, how: 'reflect' });
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_msr'));
    const hw = hwExits(s, L2)[0];
    expect(hw.d0).toBe(ExitReason.MSR_WRITE);
    expect(decisions(s, Fn.x2apic_msr_write).filter((r) => r.step > hw.step && r.step < e.step)).toEqual([]);
  });

  it("WRMSR with the MSR's write bit set in L1's bitmap: exit 32 to L1", () => {
    const s = runNested(
      l1Program({ setup: BITMAPS, msrBitmap: [{ msr: 0x80b, write: true }], l2: L2_WRMSR }),
    );
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.MSR_WRITE, how: 'reflect' });
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_msr'));
  });

  it("RDMSR with the MSR's read bit set in L1's bitmap: exit 31 to L1", () => {
    const s = runNested(
      l1Program({ setup: BITMAPS, msrBitmap: [{ msr: 0x808, write: false }], l2: L2_RDMSR }),
    );
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.MSR_READ, how: 'reflect' });
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_msr'));
  });

  it('an MSR in the high range (C0000000h–C0001FFFh) is looked up in the high halves of the bitmap', () => {
    const efer = (bits: { msr: number; write: boolean }[], op: 'wrmsr' | 'rdmsr') =>
      runNested(
        l1Program({
          setup: BITMAPS,
          msrBitmap: bits,
          l2: ['        mov ecx, 0xc0000080', `        ${op}`, '        vmcall'],
          guestGates: ['        .intgate 13, l2_gp'],
          data: ['l2_gp:  vmcall'],
        }),
      );
    const reasons = (s: ReturnType<typeof runNested>) => l1Exits(s).map((e) => e.reason);
    expect(reasons(efer([{ msr: 0xc0000080, write: true }], 'wrmsr'))).toEqual([ExitReason.MSR_WRITE]);
    expect(reasons(efer([{ msr: 0xc0000080, write: false }], 'rdmsr'))).toEqual([ExitReason.MSR_READ]);
    // The other direction's bit, or the low MSR with the same low bits, does not make it L1's:
    // L0 takes the access (and, not emulating EFER, injects #GP into L2, whose handler VMCALLs).
    expect(reasons(efer([{ msr: 0xc0000080, write: false }], 'wrmsr'))).toEqual([ExitReason.VMCALL]);
    expect(reasons(efer([{ msr: 0x80, write: true }], 'wrmsr'))).toEqual([ExitReason.VMCALL]);
  });

  it('the interrupt window when vmcs12 asks for it: exit 7 to L1 before any L2 instruction', () => {
    const s = runNested(
      l1Program({ setup: ['        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING'] }),
    );
    const [e] = l1Exits(s);
    expect(hwExits(s, L2)[0].d0).toBe(ExitReason.INTERRUPT_WINDOW);
    expect(e).toMatchObject({ reason: ExitReason.INTERRUPT_WINDOW, how: 'reflect' });
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2'));
    expect(
      decisions(s, Fn.handle_interrupt_window).filter((r) => r.step > e.step - 5 && r.step < e.step),
    ).toEqual([]);
  });
});

describe('exits L0 handles because L1 does not want them', () => {
  it('HLT without vmcs12 HLT exiting: KVM emulates the halt; an interrupt for L1 then exits from HLT', () => {
    const s = runNested(
      l1Program({ setup: [PIN_INTR], l2: ['        nop', 'l2_hlt: hlt', 'l2_after: vmcall'] }),
      { events: [{ at: { time: 5000 }, target: 1, irq: 0x30 }] },
    );
    const hlt = hwExits(s, L2)[0];
    expect(hlt.d0).toBe(ExitReason.HLT);
    const halt = firstDecision(s, Fn.kvm_emulate_halt, hlt.step);
    expect(halt.step).toBe(hlt.step + 1);
    expect(nestedAt(s, halt.step)).toMatchObject({ halted: true, guestMode: true });
    expect(decisions(s, Fn.nested_vmx_reflect_vmexit)).toEqual([]);
    // vcpu_block → vmx_check_nested_events: the exit to L1 records the HLT activity state.
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, how: 'check_nested_events' });
    expect(e.time).toBeGreaterThanOrEqual(5000);
    expect(vmcs12(s, e.step, F.GUEST_ACTIVITY_STATE)).toBe(1);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_after'));
    expect(nestedAt(s, e.step).halted).toBe(false);
  });

  it("WRMSR with the bitmap bit clear: L0 emulates L1's x2APIC and L2 goes on", () => {
    // Only the read bit of 0x80b is set: the write is not L1's.
    const s = runNested(
      l1Program({ setup: BITMAPS, msrBitmap: [{ msr: 0x80b, write: false }], l2: L2_WRMSR }),
    );
    const hw = hwExits(s, L2);
    expect(hw.map((r) => r.d0)).toEqual([ExitReason.MSR_WRITE, ExitReason.VMCALL]);
    const w = firstDecision(s, Fn.x2apic_msr_write, hw[0].step);
    expect(w.step).toBe(hw[0].step + 1);
    expect(w.d1).toBe(0x80b);
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
    // L0 skipped the WRMSR: L2 resumed after it.
    const reentry = l2Entries(s).find((e) => e.step > hw[0].step)!;
    expect(reentry.d2).toBe(lbl(s, 'l2_call'));
  });

  it("RDMSR with the bitmap bit clear: L0 emulates the read, L2 gets L1's TPR", () => {
    const s = runNested(
      l1Program({ setup: BITMAPS, msrBitmap: [{ msr: 0x808, write: true }], l2: L2_RDMSR }),
    );
    const hw = hwExits(s, L2);
    expect(hw.map((r) => r.d0)).toEqual([ExitReason.MSR_READ, ExitReason.VMCALL]);
    expect(firstDecision(s, Fn.x2apic_msr_read, hw[0].step).d1).toBe(0x808);
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
  });
});

describe('vmcs12_save_pending_event: an event whose delivery to L2 exited goes back to L1', () => {
  // L2's IDT has no gate for the vector: delivery raises #NP (error code vector·8 + 2 + EXT),
  // which vmcs12's exception bitmap (bit 11, merged into vmcs02) intercepts. The hardware exit
  // carries the event in IDT-vectoring information; __vmx_complete_interrupts queues it in KVM,
  // and the reflected exit hands it to L1 in vmcs12's IDT_VECTORING_INFO_FIELD instead of L0
  // re-injecting it.
  const NP = '        vmwrite EXCEPTION_BITMAP, 0x800';

  it("L0's injection of L1's interrupt into L2 (no external-interrupt exiting in vmcs12)", () => {
    const s = runNested(l1Program({ noL2Gates: true, setup: [NP], l2: L2_WORK }), {
      events: [{ at: { level: 1, label: 'l2_work', after: 500 }, target: 1, irq: 0x30 }],
    });
    const hw = hwExits(s, L2).find((r) => r.d0 === ExitReason.EXCEPTION_NMI)!;
    expect(hw).toMatchObject({ d1: 0x80000b0b, d2: 0x80000030 });
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXCEPTION_NMI, intrInfo: 0x80000b0b, how: 'reflect' });
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_INFO)).toBe(0x80000b0b);
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_ERROR_CODE)).toBe(0x30 * 8 + 2 + 1);
    expect(vmcs12(s, e.step, F.IDT_VECTORING_INFO_FIELD)).toBe(0x80000030);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_work'));
    // Dropped from L0's queue: L0 does not inject it again.
    expect(s.sim.stateAt(e.step).kvm!.irqInjected).toBe(false);
    expect(l2Entries(s).filter((x) => x.step > e.step)).toEqual([]);
  });

  it("L1's own injection (VM_ENTRY_INTR_INFO_FIELD 0x80000041)", () => {
    const s = runNested(
      l1Program({
        noL2Gates: true,
        setup: [
          NP,
          '        vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_EXT_INTR | 0x41',
        ],
      }),
    );
    expect(hwExits(s, L2)[0]).toMatchObject({ d0: ExitReason.EXCEPTION_NMI, d1: 0x80000b0b, d2: 0x80000041 });
    const [e] = l1Exits(s);
    expect(vmcs12(s, e.step, F.IDT_VECTORING_INFO_FIELD)).toBe(0x80000041);
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_ERROR_CODE)).toBe(0x41 * 8 + 2 + 1);
    expect(vmcs12(s, e.step, F.VM_ENTRY_INTR_INFO_FIELD)).toBe(0x41);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2'));
  });
});
