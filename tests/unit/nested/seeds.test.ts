// The nested built-ins, checked against their acceptance assertions (seed-scenarios B.5 and
// C.5): nested-intr (an interrupt for L1 while L2 runs: [PATCH 23/31]) and immediate-exit (L1
// injects into L2 while L0 has an event for L1: d6185f20).
import { describe, expect, it } from 'vitest';
import type { LabSession } from '../../../src/core/engine/session';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { open } from '../helpers';
import {
  CPU_BASED,
  EventKind,
  ExitReason,
  F,
  Fn,
  Inject,
  L1,
  L2,
  decisions,
  deliveriesOf,
  firstDecision,
  hwEntries,
  hwExits,
  l1Exits,
  l2Entries,
  lapic,
  lbl,
  nrows,
  q,
  retired,
  vmcs01,
  vmcs02,
  vmcs12,
} from './nested-helpers';

function seed(name: string, params: Record<string, ParamValue> = {}): LabSession {
  const doc = findBuiltin(name);
  if (!doc) throw new Error(`no built-in ${name}`);
  const s = open(doc, params);
  expect(s.runError()).toBeNull();
  return s;
}

const failedMessages = (s: LabSession) => s.assertions.filter((a) => !a.passed).map((a) => a.message);

/** Whether vector `v` was ever delivered (through an IDT, or by a VM entry's injection). */
function everDelivered(s: LabSession, v: number): boolean {
  return (
    deliveriesOf(s).some((d) => d.vector === v) ||
    nrows(s).some((r) => r.kind === EventKind.VMENTRY && (r.d0 & 0x800000ff) >>> 0 === (0x80000000 | v) >>> 0)
  );
}

describe('nested-intr, canonical (ack-on-exit = 0)', () => {
  const s = seed('nested-intr');
  const [e] = l1Exits(s);

  it('every assertion of the program passes', () => {
    expect(failedMessages(s)).toEqual([]);
    expect(s.assertions.length).toBeGreaterThanOrEqual(7);
  });

  it('vmcs12 after the emulated exit: reason 1, VM_EXIT_INTR_INFO 0, IDT vectoring 0', () => {
    expect(e).toMatchObject({
      reason: ExitReason.EXTERNAL_INTERRUPT,
      intrInfo: 0,
      how: 'check_nested_events',
    });
    expect(vmcs12(s, e.step, F.VM_EXIT_REASON)).toBe(1);
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_INFO)).toBe(0);
    expect(vmcs12(s, e.step, F.IDT_VECTORING_INFO_FIELD)).toBe(0);
    // It was L0's physical exit (the kick) that brought KVM in, not reflected as such.
    const kick = hwExits(s, L2)[0];
    expect(kick).toMatchObject({ d0: ExitReason.EXTERNAL_INTERRUPT, d1: 0x800000fd });
    expect(decisions(s, Fn.nested_vmx_reflect_vmexit).some((r) => r.step < e.step)).toBe(false);
  });

  it('L1 resumes with RFLAGS 0x2 (IF = 0) and 0x30 still in its IRR', () => {
    expect(vmcs01(s, e.step, F.GUEST_RFLAGS)).toBe(0x2);
    expect(vmcs01(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l1_exit'));
    expect(lapic(s, e.step)).toEqual({ irr: [0x30], isr: [] });
  });

  it("vmcs01's interrupt-window bit is set from right after the exit until the reason-7 exit", () => {
    const arm = firstDecision(s, Fn.kvm_check_and_inject_events, e.step);
    expect(arm.step).toBe(e.step + 1);
    expect(arm.d1 & Inject.IRQ_WINDOW).toBe(Inject.IRQ_WINDOW);
    const win = hwExits(s, L1).find((r) => r.step > e.step && r.d0 === ExitReason.INTERRUPT_WINDOW);
    expect(win).toBeDefined();
    for (let n = arm.step; n <= win!.step; n++)
      expect(
        vmcs01(s, n, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING,
        `step ${n}`,
      ).toBe(CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING);
    expect(vmcs01(s, e.step, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING).toBe(0);
  });

  it('0x30 is delivered to L1 exactly once, and never to L2', () => {
    const toL1 = hwEntries(s).filter((r) => r.d0 === 0x80000030);
    expect(toL1.map((r) => r.into)).toEqual([L1]);
    expect(toL1[0].d2).toBe(lbl(s, 'l1_irq'));
    expect(q(s, 'l1_irqs')).toBe(1);
    expect(q(s, 'l2_irqs')).toBe(0);
    expect(deliveriesOf(s, L2).filter((d) => d.vector === 0x30)).toEqual([]);
  });
});

describe('nested-intr variants', () => {
  it('ack_on_exit: VM_EXIT_INTR_INFO 0x80000030, 0x30 in service in ISR, no exit 7 anywhere', () => {
    const s = seed('nested-intr', { ack_on_exit: true });
    expect(failedMessages(s)).toEqual([]);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, intrInfo: 0x80000030 });
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_INFO)).toBe(0x80000030);
    expect(lapic(s, e.step)).toEqual({ irr: [], isr: [0x30] });
    expect(hwExits(s).filter((r) => r.d0 === ExitReason.INTERRUPT_WINDOW)).toEqual([]);
  });

  it('l1_intercepts = false: no exit 1 to L1; vmcs02 injects 0x80000030 into L2', () => {
    const s = seed('nested-intr', { l1_intercepts: false });
    expect(failedMessages(s)).toEqual([]);
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
    const inj = l2Entries(s).find((r) => r.d0 === 0x80000030);
    expect(inj).toBeDefined();
    expect(vmcs02(s, inj!.step - 1, F.VM_ENTRY_INTR_INFO_FIELD)).toBe(0x80000030);
    expect(inj!.d2).toBe(lbl(s, 'l2_irq'));
  });

  it('run_pending: L2 is really entered, then exits after 0 L2 instructions; then exit 1 to L1', () => {
    const s = seed('nested-intr', { run_pending: true });
    expect(failedMessages(s)).toEqual([]);
    const entry = l2Entries(s)[0];
    const exit = hwExits(s, L2)[0];
    expect(exit.step).toBeGreaterThan(entry.step);
    expect(retired(s, L2, entry.step, exit.step)).toBe(0);
    const [e] = l1Exits(s);
    expect(e.step).toBeGreaterThan(exit.step);
    expect(e.reason).toBe(ExitReason.EXTERNAL_INTERRUPT);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2'));
  });

  it("l0_ack = false with ack_on_exit: the 2011 L0 gives L1 no vector (the program's assert catches it)", () => {
    const s = seed('nested-intr', { ack_on_exit: true, l0_ack: false });
    const [e] = l1Exits(s);
    expect(e.intrInfo).toBe(0);
    expect(lapic(s, e.step)).toEqual({ irr: [0x30], isr: [] });
    expect(failedMessages(s)).toContain('VM_EXIT_INTR_INFO = 0x80000030: the vector, acknowledged');
  });
});

describe('immediate-exit', () => {
  /** The facts every immediate-exit run shares: entry with 0x41, exit, then the exit to L1. */
  function canonical(s: LabSession, hwReason: number, hwInfo: number) {
    const entry = l2Entries(s)[0];
    expect(entry.d0).toBe(0x80000041);
    expect(entry.d2).toBe(lbl(s, 'l2_tick')); // 0x41 delivered through L2's IDT by the entry
    const exit = hwExits(s, L2)[0];
    expect(exit).toMatchObject({ d0: hwReason, d1: hwInfo });
    expect(exit.step).toBeGreaterThan(entry.step);
    expect(retired(s, L2, entry.step, exit.step)).toBe(0);
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.EXTERNAL_INTERRUPT, how: 'check_nested_events' });
    expect(e.step).toBeGreaterThan(exit.step);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_tick'));
    expect(vmcs12(s, e.step, F.IDT_VECTORING_INFO_FIELD)).toBe(0);
    expect(q(s, 'l2_count', e.step)).toBe(0);
    expect(failedMessages(s)).toEqual([]);
    expect(q(s, 'l2_ticks')).toBe(1);
  }

  it('canonical (preemption timer): 0x41 delivered to L2, exit 52 of vmcs02, vmcs12 GUEST_RIP = the 0x41 handler', () => {
    canonical(seed('immediate-exit'), ExitReason.PREEMPTION_TIMER, 0);
  });

  it('mechanism = self-ipi: the same with exit 1 for the reschedule IPI 0xfd', () => {
    canonical(seed('immediate-exit', { mechanism: 'self-ipi' }), ExitReason.EXTERNAL_INTERRUPT, 0x800000fd);
  });

  for (const loops of [1, 3, 8]) {
    it(`immediate_exit = false, l2_loop = ${loops}: L2 retires its loop before L1 hears of anything`, () => {
      const s = seed('immediate-exit', { immediate_exit: false, l2_loop: loops });
      const run = firstDecision(s, Fn.nested_vmx_run);
      const check = firstDecision(s, Fn.kvm_check_and_inject_events, run.step);
      expect(check.d1 & Inject.NESTED_BUSY).toBe(Inject.NESTED_BUSY);
      expect(check.d1 & Inject.IMMEDIATE_EXIT).toBe(0);
      const entry = l2Entries(s)[0];
      expect(entry.d0).toBe(0x80000041);
      const exit = hwExits(s, L2)[0];
      expect(exit.d0).toBe(ExitReason.VMCALL);
      // The tick handler (inc, iretq), then the loop: inc, cmp, jne per iteration.
      expect(retired(s, L2, entry.step, exit.step)).toBeGreaterThanOrEqual(3 * loops);
      const [e] = l1Exits(s);
      expect(e.reason).toBe(ExitReason.VMCALL);
      expect(q(s, 'l2_count', e.step)).toBe(loops);
      expect(q(s, 'l2_ticks')).toBe(1);
      expect(failedMessages(s)).toContain("L1's interrupt comes as an external-interrupt exit from L2");
    });
  }

  it('pretend_l2_ran: 0x41 is never delivered anywhere — the lost injection', () => {
    const s = seed('immediate-exit', { pretend_l2_ran: true });
    expect(everDelivered(s, 0x41)).toBe(false);
    expect(nrows(s).some((r) => r.kind === EventKind.DELIVER && (r.d0 & 0xff) === 0x41)).toBe(false);
    const [e] = l1Exits(s);
    expect(e.reason).toBe(ExitReason.EXTERNAL_INTERRUPT);
    // Emulated before L2 was ever entered, and nothing carries the injection back to L1.
    const entries = l2Entries(s);
    expect(entries.every((x) => x.step > e.step)).toBe(true);
    expect(vmcs12(s, e.step, F.VM_ENTRY_INTR_INFO_FIELD)).toBe(0x41);
    expect(vmcs12(s, e.step, F.IDT_VECTORING_INFO_FIELD)).toBe(0);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2'));
    expect(q(s, 'l2_ticks')).toBe(0);
    expect(failedMessages(s)).toEqual([
      "GUEST_RIP is L2's 0x41 handler: the injection was delivered",
      'L2 received its timer tick (0x41) from L1',
    ]);
  });

  it('the canonical run does deliver 0x41 (so the check above can tell)', () => {
    expect(everDelivered(seed('immediate-exit'), 0x41)).toBe(true);
  });
});
