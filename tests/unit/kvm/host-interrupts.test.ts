// The host's own interrupts while KVM runs a guest: external-interrupt exiting with
// "acknowledge interrupt on exit" (exit 1, the vector in VM_EXIT_INTR_INFO) and
// vmx.c handle_external_interrupt_irqoff, which runs the host handler (EOI to the physical
// APIC); NMI exiting and vmx_do_nmi_irqoff; the host in root operation; and the reschedule IPI
// (0xfd) kvm_vcpu_kick sends when an event for the vCPU arrives while it runs.
import { describe, expect, it } from 'vitest';
import { vectorsOf } from '../../../src/core/cpu/apic';
import { ExitReason } from '../../../src/core/vmx/vm-exit';
import { EventKind } from '../helpers';
import {
  F,
  Fn,
  GUEST,
  NMI_INFO,
  decisions,
  entries,
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

const TIMER = 0xec;

const GUEST_PROGRAM = [
  '        .intgate 2, nmi',
  '        .intgate 0xec, isr',
  '        .intgate 0x40, isr',
  'start:  sti',
  'spin:   work 100000',
  'done:   cli',
  '        hlt',
  '        jmp done',
  'isr:    inc qword [irqs]',
  '        iretq',
  'nmi:    inc qword [nmis]',
  '        iretq',
  'irqs:   .dq 0',
  'nmis:   .dq 0',
];

describe('a host interrupt while the guest runs', () => {
  const s = runKvm(GUEST_PROGRAM, { events: [{ at: { time: 20_000 }, target: 0, irq: TIMER }] });
  const raise = krows(s).find((r) => r.kind === EventKind.RAISE)!;
  const exit = exits(s)[0];

  it('is raised at the physical APIC (no kick) and causes exit 1 at once', () => {
    expect(raise.level).toBe(GUEST);
    expect(raise.d2 >>> 8).toBe(0); // target: the physical APIC
    expect((raise.d2 >>> 1) & 1).toBe(0); // no kick
    expect(vectorsOf(s.sim.stateAt(raise.step).apic.irr)).toEqual([TIMER]);
    expect(exit.step).toBe(raise.step + 1);
    expect(exit.d0).toBe(ExitReason.EXTERNAL_INTERRUPT);
  });

  it('acknowledge interrupt on exit: the vector in VM_EXIT_INTR_INFO, IRR → ISR of the physical APIC', () => {
    expect(exit.d1).toBe(0x80000000 + TIMER);
    expect(vmcsAt(s, exit.step, F.VM_EXIT_INTR_INFO)).toBe(0x80000000 + TIMER);
    const apic = s.sim.stateAt(exit.step).apic;
    expect(vectorsOf(apic.irr)).toEqual([]);
    expect(vectorsOf(apic.isr)).toEqual([TIMER]);
  });

  it('handle_external_interrupt_irqoff runs the host handler, which EOIs the physical APIC', () => {
    const h = firstAfter(decisions(s), exit.step)!;
    expect(h.d0).toBe(Fn.handle_external_interrupt_irqoff);
    expect(h.d1).toBe(TIMER);
    expect(vectorsOf(s.sim.stateAt(h.step).apic.isr)).toEqual([]);
    expect(kvmAt(s, h.step).hostIrqs).toBe(kvmAt(s, exit.step).hostIrqs + 1);
  });

  it('the guest never sees it: its APIC is untouched and it resumes where it was, nothing injected', () => {
    expect(vectorsOf(kvmAt(s, exit.step + 1).lapic.irr)).toEqual([]);
    const entry = firstAfter(entries(s), exit.step)!;
    expect(entry.d0).toBe(0);
    expect(entry.d2).toBe(vmcsAt(s, exit.step, F.GUEST_RIP));
    expect(guestQ(s, glabel(s, 'irqs'))).toBe(0n);
    expect(decisions(s, Fn.kvm_check_and_inject_events).filter((d) => d.step > exit.step)).toEqual([]);
  });
});

describe('a host interrupt while KVM runs in root operation (the vCPU halted)', () => {
  const s = runKvm(['        cli', '        hlt'], {
    events: [{ at: { time: 50_000 }, target: 0, irq: TIMER }],
  });

  it('the host kernel takes it through its own IDT, no VM exit', () => {
    const host = decisions(s, Fn.host_irq);
    expect(host).toHaveLength(1);
    expect(host[0].d1).toBe(TIMER);
    expect(vectorsOf(s.sim.stateAt(host[0].step).apic.irr)).toEqual([]);
    expect(vectorsOf(s.sim.stateAt(host[0].step).apic.isr)).toEqual([]);
    expect(exits(s).filter((e) => e.d0 === ExitReason.EXTERNAL_INTERRUPT)).toEqual([]);
    expect(kvmAt(s, s.totalSteps).halted).toBe(true);
  });
});

describe('a host NMI', () => {
  it('while the guest runs: exit 0 with 0x80000202, vmx_do_nmi_irqoff; the guest gets no NMI', () => {
    const s = runKvm(GUEST_PROGRAM, { events: [{ at: { time: 20_000 }, target: 0, nmi: true }] });
    const exit = exits(s)[0];
    expect(exit.d0).toBe(ExitReason.EXCEPTION_NMI);
    expect(exit.d1).toBe(NMI_INFO);
    // The NMI that caused the exit blocks NMIs after it (facts §3.3), until the host's IRET.
    expect(s.sim.stateAt(exit.step).cpu.nmiBlocked).toBe(true);
    const h = firstAfter(decisions(s), exit.step)!;
    expect(h.d0).toBe(Fn.vmx_do_nmi_irqoff);
    expect(s.sim.stateAt(h.step).cpu.nmiBlocked).toBe(false);
    expect(injections(s, NMI_INFO)).toEqual([]);
    expect(guestQ(s, glabel(s, 'nmis'))).toBe(0n);
  });

  it('while KVM runs in root operation: the host NMI handler', () => {
    const s = runKvm(['        cli', '        hlt'], {
      events: [{ at: { time: 50_000 }, target: 0, nmi: true }],
    });
    const host = decisions(s, Fn.host_irq);
    expect(host).toHaveLength(1);
    expect(host[0]).toMatchObject({ d1: 2, d2: 1 });
    expect(s.sim.stateAt(host[0].step).cpu.nmiPending).toBe(false);
  });
});

describe('the kick: kvm_vcpu_kick sends RESCHEDULE_VECTOR (0xfd) to a running vCPU', () => {
  const s = runKvm(GUEST_PROGRAM, { events: [{ at: { time: 20_000 }, target: 1, irq: 0x40 }] });
  const raise = krows(s).find((r) => r.kind === EventKind.RAISE)!;

  it('the event goes to the vCPU APIC and the IPI to the physical one', () => {
    expect(raise.d2 >>> 8).toBe(1);
    expect((raise.d2 >>> 1) & 1).toBe(1); // kicked
    const st = s.sim.stateAt(raise.step);
    expect(vectorsOf(st.kvm!.lapic.irr)).toEqual([0x40]);
    expect(vectorsOf(st.apic.irr)).toEqual([0xfd]);
  });

  it('forces exit 1 with vector 0xfd; the host handles it; then KVM injects the IRQ', () => {
    const exit = exits(s)[0];
    expect(exit.step).toBe(raise.step + 1);
    expect(exit).toMatchObject({ d0: ExitReason.EXTERNAL_INTERRUPT, d1: 0x800000fd });
    const h = firstAfter(decisions(s), exit.step)!;
    expect(h).toMatchObject({ d0: Fn.handle_external_interrupt_irqoff, d1: 0xfd });
    expect(vectorsOf(s.sim.stateAt(h.step).apic.isr)).toEqual([]);
    expect(injections(s, 0x80000040)).toHaveLength(1);
    expect(guestQ(s, glabel(s, 'irqs'))).toBe(1n);
  });

  it('no kick when the vCPU is not in the guest (halted in kvm_vcpu_block)', () => {
    const t = runKvm(['        sti', '        hlt', '        cli', '        hlt'], {
      events: [{ at: { time: 50_000 }, target: 1, irq: 0x40 }],
    });
    const r = krows(t).find((x) => x.kind === EventKind.RAISE)!;
    expect((r.d2 >>> 1) & 1).toBe(0);
    expect(vectorsOf(t.sim.stateAt(r.step).apic.irr)).toEqual([]);
    expect(exits(t).some((e) => e.d1 === 0x800000fd)).toBe(false);
  });
});
