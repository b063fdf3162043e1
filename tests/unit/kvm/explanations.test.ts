// Explanations of KVM's decisions (engine/explain-kvm.ts): each names the kernel function that
// decided, says why, and cites where the function lives in Linux.
import { describe, expect, it } from 'vitest';
import type { LabSession } from '../../../src/core/engine/session';
import { kvmFunction } from '../../../src/core/hypervisors/kvm/functions';
import { EventKind, rows } from '../helpers';
import { Fn, Inject, decisions, kvmAt, runKvm, softVnmi } from './kvm-helpers';

const explain = (s: LabSession, step: number) => s.view(step).explanation;

describe('explanations of the soft-vNMI decisions', () => {
  const canonical = softVnmi();

  it('the soft unblock: __vmx_handle_exit, because IF=1 and no shadow, clears soft_vnmi_blocked', () => {
    const d = decisions(canonical, Fn.vmx_handle_exit).find((x) => x.d1 === 1)!;
    const e = explain(canonical, d.step);
    expect(e.text).toMatch(/^__vmx_handle_exit:/);
    expect(e.text).toContain('IF=1');
    expect(e.text).toContain('no STI or MOV SS shadow');
    expect(e.text).toContain('clears soft_vnmi_blocked');
    expect(e.cite).toBe('Linux arch/x86/kvm/vmx/vmx.c __vmx_handle_exit()');
  });

  it('arming the window: the interrupt window stands in for the NMI window, no virtual NMIs', () => {
    const d = decisions(canonical, Fn.kvm_check_and_inject_events).find(
      (x) => x.d1 & Inject.NMI_WINDOW_VIA_IRQ,
    )!;
    const e = explain(canonical, d.step);
    expect(e.text).toMatch(/^kvm_check_and_inject_events:/);
    expect(e.text).toContain('NMIs are blocked');
    expect(e.text).toContain('vmx_enable_nmi_window arms the interrupt window');
    expect(e.text).toContain('no virtual NMIs');
    expect(e.cite).toBe('Linux arch/x86/kvm/x86.c kvm_check_and_inject_events()');
  });

  it('the soft injection says what KVM now has to guess', () => {
    const d = decisions(canonical, Fn.kvm_check_and_inject_events).find((x) => x.d1 & Inject.NMI)!;
    const e = explain(canonical, d.step);
    expect(e.text).toContain('0x80000202');
    expect(e.text).toContain('soft_vnmi_blocked = 1');
    expect(e.text).toContain('vnmi_blocked_time = 0');
  });

  it('with virtual NMIs it is NMI-window exiting, and the injection leaves blocking to the CPU', () => {
    const s = softVnmi({ virtual_nmis: true });
    const arm = decisions(s, Fn.kvm_check_and_inject_events).find((x) => x.d1 & Inject.NMI_WINDOW)!;
    expect(explain(s, arm.step).text).toContain('vmx_enable_nmi_window sets NMI-window exiting');
    const inj = decisions(s, Fn.kvm_check_and_inject_events).find((x) => x.d1 & Inject.NMI)!;
    expect(explain(s, inj.step).text).toContain('the CPU will set virtual-NMI blocking');
    expect(explain(s, inj.step).text).not.toContain('soft_vnmi_blocked');
    const hnw = decisions(s, Fn.handle_nmi_window)[0];
    expect(explain(s, hnw.step)).toEqual({
      text: 'handle_nmi_window: clears NMI-window exiting and re-evaluates events (KVM_REQ_EVENT).',
      cite: 'Linux arch/x86/kvm/vmx/vmx.c handle_nmi_window()',
    });
  });

  it('the break-out quotes the log line and the guest time, and the accounting explains the 1 s', () => {
    const s = softVnmi({ starve: true });
    const out = decisions(s, Fn.vmx_handle_exit).find((x) => x.d1 === 2)!;
    const e = explain(s, out.step);
    expect(e.text).toContain('"Breaking out of NMI-blocked state on VCPU 0 after 1 s timeout"');
    expect(e.text).toContain(
      `${kvmAt(s, out.step - 1).vnmiBlockedTimeNs.toLocaleString('en-US')} ns of guest time`,
    );
    expect(e.cite).toBe('Linux arch/x86/kvm/vmx/vmx.c __vmx_handle_exit()');
    const rec = decisions(s, Fn.vmx_recover_nmi_blocking)[0];
    const r = explain(s, rec.step);
    expect(r.text).toMatch(/^vmx_recover_nmi_blocking: the guest ran [\d,]+ ns with soft_vnmi_blocked set/);
    expect(r.text).toContain('1,000,000,000 ns of guest time');
  });

  it('vmx_vcpu_create says enable_vnmi = 0', () => {
    expect(explain(canonical, 2).text).toContain('no virtual NMIs (enable_vnmi = 0)');
    expect(explain(softVnmi({ virtual_nmis: true }), 2).text).toContain('with virtual NMIs');
  });
});

describe('explanations of other decisions', () => {
  const s = runKvm(
    [
      '        .intgate 2, nmi',
      '        .intgate 0x40, irq',
      'start:  sti',
      '        work 20000',
      '        hlt',
      'done:   cli',
      '        hlt',
      '        jmp done',
      'nmi:    work 100',
      '        iretq',
      'irq:    mov ecx, 0x80b',
      '        xor eax, eax',
      '        xor edx, edx',
      '        wrmsr',
      '        iretq',
    ],
    {
      events: [
        { at: { time: 5000 }, target: 1, nmi: true },
        { at: { time: 5000 }, target: 1, nmi: true },
        { at: { time: 5000 }, target: 1, nmi: true },
        { at: { time: 5000 }, target: 1, irq: 0x40 },
        { at: { time: 100_000 }, target: 0, irq: 0xec },
        { at: { time: 200_000 }, target: 1, irq: 0x40 },
      ],
    },
  );

  it('process_nmi says how many were dropped and why', () => {
    const d = decisions(s, Fn.process_nmi)[0];
    expect(explain(s, d.step).text).toBe(
      'process_nmi: nmi_pending = 2, 1 dropped (at most 2 may be pending, 1 while NMIs are masked or one is in flight); KVM_REQ_EVENT.',
    );
  });

  it('the immediate exit names -EBUSY', () => {
    const d = decisions(s, Fn.kvm_check_and_inject_events).find((x) => x.d1 & Inject.IMMEDIATE_EXIT)!;
    expect(explain(s, d.step).text).toContain('-EBUSY, so KVM asks for an immediate exit');
  });

  it('the emulated x2APIC EOI names the vector leaving the ISR', () => {
    const d = decisions(s, Fn.x2apic_msr_write)[0];
    expect(explain(s, d.step).text).toBe(
      "WRMSR exit: KVM emulates the guest's x2APIC EOI write (0x0): vector 0x40 leaves the vCPU's ISR, then skips the instruction.",
    );
    expect(explain(s, d.step).cite).toBe('Linux arch/x86/kvm/lapic.c kvm_x2apic_msr_write()');
  });

  it('halt, block and wake-up cite x86.c and virt/kvm/kvm_main.c', () => {
    const halt = decisions(s, Fn.kvm_emulate_halt)[0];
    expect(explain(s, halt.step).cite).toBe('Linux arch/x86/kvm/x86.c kvm_emulate_halt()');
    const wake = decisions(s, Fn.kvm_vcpu_wake_up)[0];
    expect(explain(s, wake.step).text).toMatch(/^kvm_vcpu_wake_up: /);
    expect(explain(s, wake.step).cite).toBe('Linux virt/kvm/kvm_main.c kvm_vcpu_wake_up()');
  });

  it("a host interrupt in root operation cites the host kernel's arch/x86/kernel/irq.c", () => {
    const d = decisions(s, Fn.host_irq)[0];
    expect(d.d1).toBe(0xec);
    const e = explain(s, d.step);
    expect(e.text).toContain("LOCAL_TIMER_VECTOR: the host's timer tick");
    expect(e.cite).toContain('arch/x86/kernel/irq.c');
    expect(e.cite).not.toContain('arch/x86/kvm/irq.c');
  });

  it('every decision of these runs names its function and cites a Linux source file', () => {
    const runs = [s, softVnmi(), softVnmi({ virtual_nmis: true }), softVnmi({ starve: true, era: '2008' })];
    for (const r of runs) {
      const seen = new Set<number>();
      for (const d of decisions(r)) {
        if (seen.has(d.d0)) continue;
        seen.add(d.d0);
        const e = explain(r, d.step);
        const fn = kvmFunction(d.d0);
        expect(e.cite, fn.name).toMatch(/^Linux (arch\/x86\/|virt\/kvm\/)/);
        expect(e.cite, fn.name).toContain(fn.file);
        expect(e.text.length, fn.name).toBeGreaterThan(20);
      }
      expect(seen.size).toBeGreaterThan(5);
    }
  });
});

describe('the guest’s IRET under soft vNMI (SDM "Changes to Instruction Behavior in VMX Non-Root Operation")', () => {
  const canonical = softVnmi();
  const guestIrets = (s: LabSession): number[] =>
    Array.from(s.sim.trace.kind.slice(0, s.totalSteps)).flatMap((k, i) =>
      k === EventKind.IRET && s.sim.trace.level[i] === 1 ? [i + 1] : [],
    );

  it('the first IRET out of the NMI handler, before the interrupt-window exit, says IRET does not affect NMI blocking', () => {
    const irets = guestIrets(canonical);
    expect(irets.length).toBeGreaterThanOrEqual(2);
    const firstWindowExit = Array.from(canonical.sim.trace.kind.slice(0, canonical.totalSteps)).findIndex(
      (k, i) => k === EventKind.VMEXIT && canonical.sim.trace.d0[i] === 7,
    );
    expect(irets[0]).toBeLessThan(firstWindowExit + 1);
    for (const step of irets.slice(0, 2))
      expect(explain(canonical, step).text).toContain(
        'IRET in VMX non-root operation does not affect blocking by NMI, and nothing tells the VMM',
      );
  });

  it('KVM arms the interrupt window only once a second NMI waits, not when it injects the first (vmx_enable_nmi_window)', () => {
    const inject = decisions(canonical, Fn.kvm_check_and_inject_events);
    const firstNmi = inject.find((d) => d.d1 & Inject.NMI)!;
    expect(firstNmi.d1 & (Inject.NMI_WINDOW | Inject.NMI_WINDOW_VIA_IRQ)).toBe(0);
    const armed = inject.find((d) => d.d1 & Inject.NMI_WINDOW_VIA_IRQ)!;
    const nmiRaises = rows(canonical).filter((r) => r.kind === EventKind.RAISE && r.d0 >>> 8 === 2);
    expect(nmiRaises.length).toBe(2);
    expect(armed.step).toBeGreaterThan(nmiRaises[1].step);
  });
});
