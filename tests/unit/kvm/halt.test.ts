// A halted vCPU (x86.c kvm_emulate_halt, virt/kvm/kvm_main.c kvm_vcpu_block and
// kvm_vcpu_wake_up): the HLT exits, KVM skips it and blocks the vCPU; an event raised for the
// vCPU (target 1) wakes it when the guest can take it; KVM then injects it.
import { describe, expect, it } from 'vitest';
import { vectorsOf } from '../../../src/core/cpu/apic';
import { ExitReason } from '../../../src/core/vmx/vm-exit';
import type { EventSpec } from '../helpers';
import { EventKind } from '../helpers';
import {
  F,
  Fn,
  Inject,
  NMI_INFO,
  decisions,
  exits,
  firstAfter,
  glabel,
  guestQ,
  injections,
  kvmAt,
  krows,
  runKvm,
  vmcsAt,
} from './kvm-helpers';

const IRQ_INFO = 0x80000040;

/** `before` lines, then `halt: hlt`, `after:`; the handlers record the return RIP. */
function guest(before: string[]): string[] {
  return [
    '        .intgate 2, nmi',
    '        .intgate 0x40, irq',
    'start:',
    ...before,
    'halt:   hlt',
    'after:  nop',
    'done:   cli',
    '        hlt',
    '        jmp done',
    'irq:    mov rax, [rsp]',
    '        mov [irq_ret], rax',
    '        inc qword [irqs]',
    '        iretq',
    'nmi:    mov rax, [rsp]',
    '        mov [nmi_ret], rax',
    '        iretq',
    'irqs:    .dq 0',
    'irq_ret: .dq 0',
    'nmi_ret: .dq 0',
  ];
}

const irqAt = (time: number): EventSpec => ({ at: { time }, target: 1, irq: 0x40 });

describe('HLT under KVM: emulate, block, wake, inject', () => {
  const s = runKvm(guest(['        sti', '        nop']), { events: [irqAt(50_000)] });
  const halt = decisions(s, Fn.kvm_emulate_halt)[0];

  it('the HLT exits (reason 12) and kvm_emulate_halt skips it and marks the vCPU halted', () => {
    const exit = exits(s).find((e) => e.d0 === ExitReason.HLT)!;
    expect(vmcsAt(s, exit.step, F.GUEST_RIP)).toBe(glabel(s, 'halt'));
    expect(halt.step).toBe(exit.step + 1);
    expect(vmcsAt(s, halt.step, F.GUEST_RIP)).toBe(glabel(s, 'after'));
    expect(kvmAt(s, halt.step).halted).toBe(true);
  });

  it('kvm_vcpu_block waits: nothing happens until the IRQ is raised, without a kick', () => {
    const next = krows(s)[halt.step]; // the step after the halt decision
    expect(next.kind).toBe(EventKind.RAISE);
    expect(next.time).toBe(50_000);
    expect(next.d2 & 1).toBe(1); // raised while halted
    expect((next.d2 >>> 1) & 1).toBe(0); // no kick: the vCPU is not in the guest
    expect(next.d2 >>> 8).toBe(1); // for L1's vCPU
    expect(vectorsOf(kvmAt(s, next.step).lapic.irr)).toEqual([0x40]);
    expect(vectorsOf(s.sim.stateAt(next.step).apic.irr)).toEqual([]);
  });

  it('kvm_vcpu_wake_up, then the injection through the guest IDT; the handler returns after HLT', () => {
    const wake = decisions(s, Fn.kvm_vcpu_wake_up);
    expect(wake).toHaveLength(1);
    expect(wake[0].step).toBe(halt.step + 2);
    expect(kvmAt(s, wake[0].step)).toMatchObject({ halted: false, reqEvent: true });
    const inj = firstAfter(decisions(s), wake[0].step)!;
    expect(inj.d0).toBe(Fn.kvm_check_and_inject_events);
    expect(inj.d1).toBe(Inject.IRQ);
    const entry = injections(s, IRQ_INFO)[0];
    expect(entry.step).toBe(inj.step + 1);
    expect(entry.d2).toBe(glabel(s, 'irq'));
    expect(guestQ(s, glabel(s, 'irqs'))).toBe(1n);
    expect(guestQ(s, glabel(s, 'irq_ret'))).toBe(BigInt(glabel(s, 'after')));
  });

  it('"sti; hlt": skipping the HLT ends the STI shadow, so the IRQ goes in at the wake-up', () => {
    // skip_emulated_instruction → vmx_set_interrupt_shadow(vcpu, 0): the instruction after
    // HLT must not run before the interrupt (the idle loop's race-free wait).
    const t = runKvm(guest(['        sti']), { events: [irqAt(50_000)] });
    const exit = exits(t).find((e) => e.d0 === ExitReason.HLT)!;
    expect(vmcsAt(t, exit.step, F.GUEST_INTERRUPTIBILITY_INFO) & 1).toBe(1);
    const h = decisions(t, Fn.kvm_emulate_halt)[0];
    expect(vmcsAt(t, h.step, F.GUEST_INTERRUPTIBILITY_INFO) & 3).toBe(0);
    const wake = decisions(t, Fn.kvm_vcpu_wake_up)[0];
    const inj = firstAfter(decisions(t), wake.step)!;
    expect(inj.d1).toBe(Inject.IRQ);
    expect(exits(t).some((e) => e.d0 === ExitReason.INTERRUPT_WINDOW)).toBe(false);
    expect(guestQ(t, glabel(t, 'irq_ret'))).toBe(BigInt(glabel(t, 'after')));
  });

  it('a pending NMI that is blocked does not wake it (kvm_vcpu_has_events asks nmi_allowed)', () => {
    // The guest halts inside its NMI handler (virtual-NMI blocking in effect) while a second
    // NMI is pending: like bare metal, it stays halted.
    const t = runKvm(
      [
        '        .intgate 2, nmi',
        'start:  sti',
        '        work 100000',
        'done:   cli',
        '        hlt',
        '        jmp done',
        'nmi:    work 5000',
        'nmihlt: hlt',
        '        iretq',
      ],
      {
        events: [
          { at: { time: 5000 }, target: 1, nmi: true },
          { at: { time: 6000 }, target: 1, nmi: true },
        ],
      },
    );
    const h = decisions(t, Fn.kvm_emulate_halt)[0];
    expect(vmcsAt(t, h.step, F.GUEST_RIP)).toBe(glabel(t, 'nmihlt') + 1);
    expect(vmcsAt(t, h.step, F.GUEST_INTERRUPTIBILITY_INFO) & 8).toBe(8);
    expect(kvmAt(t, h.step).nmiPending).toBe(1);
    expect(decisions(t, Fn.kvm_vcpu_wake_up)).toEqual([]);
    expect(t.sim.endReason).toBe('halted');
    expect(injections(t, NMI_INFO)).toHaveLength(1);
    expect(t.view(t.totalSteps).levels[1].cpu.nmiDepth).toBe(1);
  });

  it('with IF=0 an IRQ does not wake the vCPU (it stays in the IRR); an NMI does', () => {
    const t = runKvm(guest(['        cli']), {
      events: [irqAt(50_000), { at: { time: 90_000 }, target: 1, nmi: true }],
    });
    const h = decisions(t, Fn.kvm_emulate_halt)[0];
    const wake = decisions(t, Fn.kvm_vcpu_wake_up);
    expect(wake).toHaveLength(1);
    const raises = krows(t).filter((r) => r.kind === EventKind.RAISE);
    expect(raises.map((r) => r.time)).toEqual([50_000, 90_000]);
    // The IRQ's raise is followed by waiting (the next step is the NMI's raise).
    expect(raises[1].step).toBe(raises[0].step + 1);
    expect(raises[0].step).toBe(h.step + 1);
    expect(wake[0].step).toBeGreaterThan(raises[1].step);
    expect(injections(t, NMI_INFO)).toHaveLength(1);
    expect(guestQ(t, glabel(t, 'nmi_ret'))).toBe(BigInt(glabel(t, 'after')));
    expect(injections(t, IRQ_INFO)).toEqual([]);
    expect(vectorsOf(kvmAt(t, t.totalSteps).lapic.irr)).toEqual([0x40]);
  });
});
