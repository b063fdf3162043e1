// kvm_check_and_inject_events (arch/x86/kvm/x86.c, facts §3.9): re-injection of an event whose
// delivery an exit interrupted comes first; then NMIs before IRQs; an IRQ needs IF=1 and no
// STI/MOV-SS shadow, else the interrupt window; an injected IRQ moves IRR → ISR in KVM's APIC;
// an event that cannot go in yet because another is being injected forces an immediate exit
// (facts §3.12: the preemption timer at 0, or a self-IPI).
import { describe, expect, it } from 'vitest';
import { cloneState, Stepper } from '../../../src/core/engine/machine';
import { vectorsOf } from '../../../src/core/cpu/apic';
import { CPU_BASED, PIN_BASED } from '../../../src/core/vmx/bits';
import { currentVmcs } from '../../../src/core/vmx/state';
import { ExitReason } from '../../../src/core/vmx/vm-exit';
import { writeField } from '../../../src/core/vmx/vmcs';
import type { EventSpec } from '../helpers';
import { EventKind } from '../helpers';
import {
  F,
  Fn,
  GUEST,
  Inject,
  NMI_INFO,
  decisions,
  entries,
  exits,
  firstAfter,
  glabel,
  guestEvents,
  guestQ,
  injections,
  kvmAt,
  runKvm,
  vmcsAt,
  wrmsr,
  MSR,
  type KvmDocSpec,
} from './kvm-helpers';

const IRQ = 0x40;
const IRQ_INFO = (0x80000000 | IRQ) >>> 0;

/** A guest with an NMI handler and an IRQ handler (which EOIs), each counting its events. */
function guest(body: string[]): string[] {
  return [
    '        .intgate 2, nmi',
    `        .intgate 0x${IRQ.toString(16)}, irq`,
    'start:',
    ...body,
    'done:   cli',
    '        hlt',
    '        jmp done',
    'nmi:    inc qword [nmis]',
    '        work 100',
    '        iretq',
    'irq:    inc qword [irqs]',
    ...wrmsr(MSR.EOI, 0),
    '        iretq',
    'nmis:   .dq 0',
    'irqs:   .dq 0',
  ];
}

const nmi = (time: number): EventSpec => ({ at: { time }, target: 1, nmi: true });
const irq = (time: number, vector = IRQ): EventSpec => ({ at: { time }, target: 1, irq: vector });

function counts(s: ReturnType<typeof runKvm>) {
  return { nmis: guestQ(s, glabel(s, 'nmis')), irqs: guestQ(s, glabel(s, 'irqs')) };
}

describe('re-injection comes first (__vmx_complete_interrupts → kvm_check_and_inject_events)', () => {
  // No exit of this model happens during event delivery (KVM intercepts only #MC and #AC, and
  // no injected event faults into them), so the IDT-vectoring information is written into
  // the VMCS at a real exit — a host timer tick — and KVM's run loop is stepped from there.
  const s = runKvm(guest(['        sti', '        work 20000']), {
    events: [{ at: { time: 5000 }, target: 0, irq: 0xec }],
  });
  const tick = exits(s).find((e) => e.d0 === ExitReason.EXTERNAL_INTERRUPT)!;

  function stepFromExit(vectoring: number, edit: (st: ReturnType<typeof cloneState>) => void = () => {}) {
    const st = cloneState(s.sim.stateAt(tick.step));
    writeField(currentVmcs(st.vmx)!, F.IDT_VECTORING_INFO_FIELD, vectoring);
    edit(st);
    const stepper = new Stepper(s.compiled, st);
    const out: { kind: number; d0: number; d1: number; d2: number; intr: number; irr: number[] }[] = [];
    while (out.length < 12 && stepper.step()) {
      const o = stepper.hart.out;
      const v = currentVmcs(st.vmx)!;
      out.push({
        kind: o.kind,
        d0: o.d0,
        d1: o.d1,
        d2: o.d2,
        intr: v.fields[F.GUEST_INTERRUPTIBILITY_INFO] ?? 0,
        irr: vectorsOf(st.kvm!.lapic.irr),
      });
      if (o.kind === EventKind.VMENTRY) break;
    }
    return { out, st };
  }

  it('an interrupted IRQ is queued again and re-injected, without another IRR → ISR', () => {
    const { out, st } = stepFromExit(IRQ_INFO);
    const complete = out.find((r) => r.kind === EventKind.DECISION && r.d0 === Fn.vmx_complete_interrupts)!;
    expect(complete.d1).toBe(IRQ_INFO);
    const inj = out.find((r) => r.kind === EventKind.DECISION && r.d0 === Fn.kvm_check_and_inject_events)!;
    expect(inj.d1 & Inject.REINJECT_IRQ).toBeTruthy();
    expect(inj.d1 & Inject.IRQ).toBe(0);
    expect(inj.d2).toBe(IRQ);
    const entry = out[out.length - 1];
    expect(entry.kind).toBe(EventKind.VMENTRY);
    expect(entry.d0).toBe(IRQ_INFO);
    expect(entry.d2).toBe(s.compiled.programs[GUEST].labels.irq);
    expect(vectorsOf(st.kvm!.lapic.isr)).toEqual([]);
  });

  it('an interrupted NMI is re-injected, with virtual-NMI blocking cleared first', () => {
    const { out } = stepFromExit(NMI_INFO, (st) => {
      // The CPU reports virtual-NMI blocking at such an exit (facts §3.3).
      const v = currentVmcs(st.vmx)!;
      writeField(v, F.GUEST_INTERRUPTIBILITY_INFO, 8);
    });
    const complete = out.findIndex(
      (r) => r.kind === EventKind.DECISION && r.d0 === Fn.vmx_complete_interrupts,
    );
    expect(out[complete].d1).toBe(NMI_INFO);
    expect(out[complete].intr & 8).toBe(0);
    const inj = out.find((r) => r.kind === EventKind.DECISION && r.d0 === Fn.kvm_check_and_inject_events)!;
    expect(inj.d1 & Inject.REINJECT_NMI).toBeTruthy();
    expect(inj.d1 & Inject.NMI).toBe(0);
    const entry = out[out.length - 1];
    expect(entry.kind).toBe(EventKind.VMENTRY);
    expect(entry.d0).toBe(NMI_INFO);
  });

  it('with re-injection pending, a new NMI cannot be injected: an immediate exit is requested', () => {
    const { out, st } = stepFromExit(IRQ_INFO, (x) => {
      x.kvm!.nmiPending = 1;
    });
    const inj = out.find((r) => r.kind === EventKind.DECISION && r.d0 === Fn.kvm_check_and_inject_events)!;
    expect(inj.d1 & Inject.REINJECT_IRQ).toBeTruthy();
    expect(inj.d1 & (Inject.NMI | Inject.NMI_WINDOW | Inject.NMI_WINDOW_VIA_IRQ)).toBe(0);
    expect(inj.d1 & Inject.IMMEDIATE_EXIT).toBeTruthy();
    expect(st.kvm!.nmiPending).toBe(1);
    expect(out[out.length - 1].d0).toBe(IRQ_INFO);
  });
});

describe('NMI before IRQ, and the immediate exit for the IRQ that must wait', () => {
  const body = ['        sti', '        work 20000'];
  const events = [nmi(5000), irq(5000)];
  const run = (spec: KvmDocSpec = {}) => runKvm(guest(body), { ...spec, events });

  const timer = run();
  const inj = decisions(timer, Fn.kvm_check_and_inject_events).find((d) => d.d1 & Inject.NMI)!;
  const nmiEntry = injections(timer, NMI_INFO)[0];

  it('injects the NMI, leaves the IRQ in the IRR, and asks for an immediate exit (-EBUSY)', () => {
    expect(inj.d1 & Inject.IRQ).toBe(0);
    expect(inj.d1 & Inject.IMMEDIATE_EXIT).toBeTruthy();
    expect(vectorsOf(kvmAt(timer, inj.step).lapic.irr)).toEqual([IRQ]);
    expect(kvmAt(timer, inj.step).immediateExit).toBe(true);
  });

  it('preemption timer: entry with the timer at 0, exit 52 before the first guest instruction', () => {
    expect(nmiEntry.step).toBeGreaterThan(inj.step);
    expect(
      vmcsAt(timer, nmiEntry.step, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
    ).toBe(PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER);
    expect(vmcsAt(timer, nmiEntry.step, F.VMX_PREEMPTION_TIMER_VALUE)).toBe(0);
    const exit = firstAfter(exits(timer), nmiEntry.step)!;
    expect(exit.step).toBe(nmiEntry.step + 1);
    expect(exit.d0).toBe(ExitReason.PREEMPTION_TIMER);
    // After the injection: the guest is at its NMI handler's first instruction.
    expect(vmcsAt(timer, exit.step, F.GUEST_RIP)).toBe(glabel(timer, 'nmi'));
    expect(firstAfter(decisions(timer), exit.step)!.d0).toBe(Fn.handle_preemption_timer);
    // The next entry runs without the timer.
    const next = firstAfter(entries(timer), exit.step)!;
    expect(
      vmcsAt(timer, next.step, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
    ).toBe(0);
  });

  it('vcpu_enter_guest re-raises KVM_REQ_EVENT, so the IRQ goes in once the NMI handler IRETs', () => {
    expect(kvmAt(timer, nmiEntry.step).reqEvent).toBe(true);
    const exit = firstAfter(exits(timer), nmiEntry.step)!;
    const after = decisions(timer).filter((d) => d.step > exit.step);
    expect(after[1].d0).toBe(Fn.kvm_check_and_inject_events);
    // The NMI handler runs with IF=0: the interrupt window is armed...
    expect(after[1].d1 & Inject.IRQ_WINDOW).toBeTruthy();
    // ...and opens at the handler's IRET.
    const iret = guestEvents(timer, EventKind.IRET)[0];
    const irqEntry = injections(timer, IRQ_INFO)[0];
    expect(irqEntry).toBeDefined();
    expect(irqEntry.step).toBeGreaterThan(iret.step);
    expect(exits(timer).filter((e) => e.step > iret.step && e.step < irqEntry.step)[0].d0).toBe(
      ExitReason.INTERRUPT_WINDOW,
    );
    expect(counts(timer)).toEqual({ nmis: 1n, irqs: 1n });
  });

  it("immediateExit 'self-ipi': a reschedule IPI to itself, exit 1 (0xfd) after the injection", () => {
    const s = run({ kvm: { immediateExit: 'self-ipi' } });
    const entry = injections(s, NMI_INFO)[0];
    expect(vectorsOf(s.sim.stateAt(entry.step).apic.irr)).toContain(0xfd);
    expect(
      vmcsAt(s, entry.step, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
    ).toBe(0);
    const exit = firstAfter(exits(s), entry.step)!;
    expect(exit.step).toBe(entry.step + 1);
    expect(exit.d0).toBe(ExitReason.EXTERNAL_INTERRUPT);
    expect(exit.d1).toBe(0x800000fd);
    expect(vmcsAt(s, exit.step, F.GUEST_RIP)).toBe(glabel(s, 'nmi'));
    expect(exits(s).some((e) => e.d0 === ExitReason.PREEMPTION_TIMER)).toBe(false);
    expect(counts(s)).toEqual({ nmis: 1n, irqs: 1n });
  });

  it('falls back to the self-IPI when the CPU has no preemption timer', () => {
    const s = run({ cpu: { preemptionTimer: false } });
    const entry = injections(s, NMI_INFO)[0];
    const exit = firstAfter(exits(s), entry.step)!;
    expect(exit.d0).toBe(ExitReason.EXTERNAL_INTERRUPT);
    expect(exit.d1).toBe(0x800000fd);
  });
});

describe('IRQ injection: IF=1 and no shadow, else the interrupt window', () => {
  it('moves the vector IRR → ISR in the vCPU APIC and enters through the guest IDT', () => {
    const s = runKvm(guest(['        sti', '        work 20000']), { events: [irq(5000)] });
    const inj = decisions(s, Fn.kvm_check_and_inject_events).find((d) => d.d1 & Inject.IRQ)!;
    expect(inj.d2).toBe(IRQ);
    const before = kvmAt(s, inj.step - 1).lapic;
    const after = kvmAt(s, inj.step);
    expect(vectorsOf(before.irr)).toEqual([IRQ]);
    expect(vectorsOf(before.isr)).toEqual([]);
    expect(vectorsOf(after.lapic.irr)).toEqual([]);
    expect(vectorsOf(after.lapic.isr)).toEqual([IRQ]);
    expect(after).toMatchObject({ irqInjected: true, irqVector: IRQ });
    expect(vmcsAt(s, inj.step, F.VM_ENTRY_INTR_INFO_FIELD)).toBe(IRQ_INFO);
    const entry = firstAfter(entries(s), inj.step)!;
    expect(entry.d0).toBe(IRQ_INFO);
    expect(entry.d2).toBe(glabel(s, 'irq'));
    // The handler's EOI (a WRMSR exit) takes it out of service.
    expect(vectorsOf(kvmAt(s, s.totalSteps).lapic.isr)).toEqual([]);
    expect(counts(s)).toEqual({ nmis: 0n, irqs: 1n });
  });

  it('with IF=0 it arms interrupt-window exiting; the exit after STI (and its shadow) injects', () => {
    const s = runKvm(
      guest([
        '        cli',
        '        work 20000',
        'on:     sti',
        'shadow: nop',
        'open:   nop',
        '        work 100',
      ]),
      { events: [irq(5000)] },
    );
    const first = decisions(s, Fn.kvm_check_and_inject_events).find((d) => d.step > 4)!;
    expect(first.d1).toBe(Inject.IRQ_WINDOW);
    expect(
      vmcsAt(s, first.step, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING,
    ).toBeTruthy();
    expect(vectorsOf(kvmAt(s, first.step).lapic.irr)).toEqual([IRQ]);
    // The window opens after the instruction in the STI shadow.
    const win = exits(s).find((e) => e.d0 === ExitReason.INTERRUPT_WINDOW)!;
    expect(vmcsAt(s, win.step, F.GUEST_RIP)).toBe(glabel(s, 'open'));
    const hiw = firstAfter(decisions(s), win.step)!;
    expect(hiw.d0).toBe(Fn.handle_interrupt_window);
    expect(vmcsAt(s, hiw.step, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING).toBe(
      0,
    );
    const inj = firstAfter(decisions(s), hiw.step)!;
    expect(inj.d0).toBe(Fn.kvm_check_and_inject_events);
    expect(inj.d1).toBe(Inject.IRQ);
    const entry = firstAfter(entries(s), inj.step)!;
    expect(entry.d0).toBe(IRQ_INFO);
    expect(counts(s).irqs).toBe(1n);
  });

  it.each([
    ['an STI shadow', ['        cli', '        sti']],
    ['a MOV-SS shadow', ['        sti', '        mov rax, 0x10', '        mov ss, rax']],
  ])('with IF=1 but %s at the exit it arms the window instead of injecting', (_name, lines) => {
    // The IRQ arrives as the guest is about to run the instruction in the shadow: the kick's
    // exit saves the shadow in the interruptibility state.
    const s = runKvm(guest([...lines, 'inshadow: nop', '        work 100']), {
      events: [{ at: { level: 1, label: 'inshadow' }, target: 1, irq: IRQ }],
    });
    const kick = exits(s)[0];
    expect(kick.d1).toBe(0x800000fd);
    expect(vmcsAt(s, kick.step, F.GUEST_RFLAGS) & 0x200).toBe(0x200);
    expect(vmcsAt(s, kick.step, F.GUEST_INTERRUPTIBILITY_INFO) & 3).not.toBe(0);
    const first = firstAfter(decisions(s, Fn.kvm_check_and_inject_events), kick.step)!;
    expect(first.d1).toBe(Inject.IRQ_WINDOW);
    const win = firstAfter(exits(s), first.step)!;
    expect(win.d0).toBe(ExitReason.INTERRUPT_WINDOW);
    expect(vmcsAt(s, win.step, F.GUEST_RIP)).toBe(glabel(s, 'inshadow') + 1);
    expect(injections(s, IRQ_INFO)).toHaveLength(1);
  });
});

describe('NMI injection with virtual NMIs off: the shadows block it too (vmx_nmi_blocked)', () => {
  it('an NMI arriving in an STI shadow waits for the window instead of being injected into it', () => {
    const s = runKvm(guest(['        cli', '        sti', 'inshadow: nop', '        work 100']), {
      cpu: { virtualNmis: false },
      events: [{ at: { level: 1, label: 'inshadow' }, target: 1, nmi: true }],
    });
    const kick = exits(s)[0];
    expect(vmcsAt(s, kick.step, F.GUEST_INTERRUPTIBILITY_INFO) & 1).toBe(1);
    const first = firstAfter(decisions(s, Fn.kvm_check_and_inject_events), kick.step)!;
    expect(first.d1 & Inject.NMI).toBe(0);
    expect(first.d1 & Inject.NMI_WINDOW_VIA_IRQ).toBeTruthy();
    expect(kvmAt(s, first.step).softVnmiBlocked).toBe(false);
    const nmiEntry = injections(s, NMI_INFO)[0];
    expect(vmcsAt(s, nmiEntry.step - 1, F.GUEST_RIP)).toBe(glabel(s, 'inshadow') + 1);
    expect(counts(s).nmis).toBe(1n);
  });
});
