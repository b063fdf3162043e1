// "Why, with causes" for KVM's decisions in the tail of vmx_vcpu_run and in __vmx_handle_exit's
// dispatch (arch/x86/kvm/vmx/vmx.c): vmx_recover_nmi_blocking, __vmx_complete_interrupts,
// handle_external_interrupt_irqoff, vmx_do_nmi_irqoff and the handler chosen by the exit
// reason note the fields and variables they read.
import { describe, expect, it } from 'vitest';
import { type CauseInput, type CausesView, causesOf } from '../../../src/core/causes/causes';
import type { LabSession } from '../../../src/core/engine/session';
import { EventKind } from '../../../src/core/engine/view';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { F } from '../../../src/core/vmx/vmcs';
import { open } from '../helpers';
import { runKvm } from '../kvm/kvm-helpers';
import { l1Program, runNested } from '../nested/nested-helpers';

/** The causes of the first decision `fn` (at or after step `from`). */
function firstDecision(s: LabSession, fn: number, from = 1): CausesView {
  const t = s.sim.trace;
  for (let i = from - 1; i < t.length; i++)
    if (t.kind[i] === EventKind.DECISION && t.d0[i] === fn) return causesOf(s, i + 1);
  throw new Error(`no decision ${fn}`);
}

function field(v: CausesView, enc: number, mask: number): CauseInput | undefined {
  return v.inputs.find((i) => i.what.k === 'vmcs' && i.what.enc === enc && i.what.mask >>> 0 === mask >>> 0);
}

function variable(v: CausesView, name: string): CauseInput | undefined {
  return v.inputs.find((i) => i.what.k === 'kvm' && i.what.name === name);
}

describe('soft-vnmi', () => {
  const s = open(findBuiltin('soft-vnmi'));

  it('vmx_recover_nmi_blocking reads enable_vnmi = 0 and soft_vnmi_blocked = 1', () => {
    const v = firstDecision(s, Fn.vmx_recover_nmi_blocking);
    expect(v.recorded).toBe(true);
    expect(variable(v, 'enable_vnmi')).toMatchObject({ value: '0', decides: true, by: 'KVM L0' });
    expect(variable(v, 'soft_vnmi_blocked')).toMatchObject({ value: '1', decides: true });
    // Set by the soft-vNMI injection that blocked NMIs (a KVM decision before it).
    const set = variable(v, 'soft_vnmi_blocked')!.setBy!;
    expect(s.sim.trace.kind[set.step - 1]).toBe(EventKind.DECISION);
    expect([set.from, set.to]).toEqual(['0', '1']);
  });

  it('handle_external_interrupt_irqoff reads the exit reason (1) and the valid bit of VM_EXIT_INTR_INFO', () => {
    const v = firstDecision(s, Fn.handle_external_interrupt_irqoff);
    expect(field(v, F.VM_EXIT_REASON, 0xffffffff)).toMatchObject({ value: '0x1', decides: true });
    expect(field(v, F.VM_EXIT_INTR_INFO, 0x80000000)).toMatchObject({ value: '1', decides: true });
    expect(field(v, F.VM_EXIT_REASON, 0xffffffff)!.label).toBe('VM_EXIT_REASON of vmcs01');
  });

  it('an external-interrupt exit decides nothing in __vmx_handle_exit: its next decision does not list exit_reason', () => {
    const t = s.sim.trace;
    const at = firstDecision(s, Fn.handle_external_interrupt_irqoff).step;
    for (let i = at; i < t.length; i++)
      if (t.kind[i] === EventKind.DECISION) {
        expect(variable(causesOf(s, i + 1), 'exit_reason')).toBeUndefined();
        break;
      }
  });

  it('handle_interrupt_window is chosen by the exit reason KVM read (7)', () => {
    const v = firstDecision(s, Fn.handle_interrupt_window);
    expect(variable(v, 'exit_reason')).toMatchObject({ value: '7', decides: true, by: 'KVM L0' });
  });
});

describe('vmx_do_nmi_irqoff: a host NMI while the guest runs', () => {
  it('reads the exit reason (0) and VM_EXIT_INTR_INFO valid = 1, type = 2 (bits 10:8 = 010)', () => {
    const s = runKvm(
      ['start:  sti', 'spin:   work 100000', 'done:   cli', '        hlt', '        jmp done'],
      {
        events: [{ at: { time: 20_000 }, target: 0, nmi: true }],
      },
    );
    const v = firstDecision(s, Fn.vmx_do_nmi_irqoff);
    expect(field(v, F.VM_EXIT_REASON, 0xffffffff)).toMatchObject({ value: '0x0' });
    expect(field(v, F.VM_EXIT_INTR_INFO, 0x80000000)).toMatchObject({ value: '1', decides: true });
    expect([0x100, 0x200, 0x400].map((m) => field(v, F.VM_EXIT_INTR_INFO, m)?.value)).toEqual([
      '0',
      '1',
      '0',
    ]);
  });
});

describe('__vmx_complete_interrupts: an exit during delivery to L2', () => {
  it('reads IDT_VECTORING_INFO_FIELD valid = 1 and type 0 (external interrupt)', () => {
    const s = runNested(
      l1Program({
        noL2Gates: true,
        setup: ['        vmwrite EXCEPTION_BITMAP, 0x800'],
        l2: ['        nop', 'l2_work: work 20000', 'l2_call: vmcall'],
      }),
      { events: [{ at: { level: 1, label: 'l2_work', after: 500 }, target: 1, irq: 0x30 }] },
    );
    const v = firstDecision(s, Fn.vmx_complete_interrupts);
    expect(field(v, F.IDT_VECTORING_INFO_FIELD, 0x80000000)).toMatchObject({ value: '1', decides: true });
    expect([0x100, 0x200, 0x400].map((m) => field(v, F.IDT_VECTORING_INFO_FIELD, m)?.value)).toEqual([
      '0',
      '0',
      '0',
    ]);
    expect(field(v, F.IDT_VECTORING_INFO_FIELD, 0x80000000)!.label).toMatch(
      /^IDT_VECTORING_INFO_FIELD.* of vmcs02/,
    );
  });
});

describe('SVM: svm_handle_exit chooses the handler by the exit code', () => {
  const s = open(findBuiltin('kvm-svm-nmi'));

  it('intr_interception and interrupt_window_interception read exit_reason (0x60 INTR, 0x64 VINTR)', () => {
    expect(variable(firstDecision(s, Fn.intr_interception), 'exit_reason')).toMatchObject({
      value: String(0x60),
      decides: true,
      by: 'KVM L0',
    });
    expect(variable(firstDecision(s, Fn.interrupt_window_interception), 'exit_reason')).toMatchObject({
      value: String(0x64),
    });
  });
});
