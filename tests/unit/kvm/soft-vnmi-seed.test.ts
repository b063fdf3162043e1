// Seed A (Linux 3b86cd99, "KVM: VMX: work around lacking VNMI support"): the soft-vNMI
// built-in and its variants against the acceptance assertions of seed-scenarios A.5 and the
// lessons of A.4, read from the trace, KVM's state and the VMCS.
import { describe, expect, it } from 'vitest';
import type { LabSession } from '../../../src/core/engine/session';
import { SOFT_VNMI_TIMEOUT_NS } from '../../../src/core/hypervisors/kvm/functions';
import { CPU_BASED } from '../../../src/core/vmx/bits';
import { ExitReason } from '../../../src/core/vmx/vm-exit';
import { EventKind, type Row, rows } from '../helpers';
import {
  F,
  Fn,
  GUEST,
  Inject,
  NMI_INFO,
  TSC_HZ,
  decisions,
  exits,
  firstAfter,
  guestEvents,
  injections,
  kvmAt,
  softVnmi,
  vmcsAt,
} from './kvm-helpers';

const BREAK_OUT_TEXT = 'Breaking out of NMI-blocked state on VCPU 0 after 1 s timeout';

/** The guest's IRETs (IRET records at L1). */
const guestIrets = (s: LabSession) => guestEvents(s, EventKind.IRET);

/** Rows strictly between two steps. */
const between = (list: Row[], a: number, b: number) => list.filter((r) => r.step > a && r.step < b);

function assertion(s: LabSession, message: string) {
  const a = s.assertions.find((x) => x.message === message);
  if (!a) throw new Error(`no assertion "${message}"`);
  return a;
}

describe('canonical (no virtual NMIs, a well-behaved guest)', () => {
  const s = softVnmi();
  const nmis = injections(s, NMI_INFO);

  it('runs with enable_vnmi = 0 and ends with both guest assertions passing', () => {
    expect(kvmAt(s, 2).enableVnmi).toBe(false);
    expect(s.runError()).toBeNull();
    expect(s.sim.endReason).toBe('halted');
    expect(s.assertions.map((a) => a.passed)).toEqual([true, true]);
  });

  it('delivers vector 2 exactly twice, both by VM entries injecting 0x80000202', () => {
    expect(nmis).toHaveLength(2);
    // Nothing else delivers an NMI to the guest (no DELIVER record of vector 2 at L1).
    expect(guestEvents(s, EventKind.DELIVER)).toEqual([]);
    // Each lands on the guest's NMI handler.
    const handler = s.compiled.programs[GUEST].labels.nmi_handler;
    for (const e of nmis) expect(e.d2).toBe(handler);
  });

  it('starts the second delivery only after the first handler IRETs', () => {
    const [first, second] = nmis;
    const irets = between(guestIrets(s), first.step, second.step);
    expect(irets).toHaveLength(1);
    // After each injection the guest is one NMI handler deep, never two.
    expect(s.view(first.step).levels[GUEST].cpu.nmiDepth).toBe(1);
    expect(s.view(irets[0].step).levels[GUEST].cpu.nmiDepth).toBe(0);
    expect(s.view(second.step).levels[GUEST].cpu.nmiDepth).toBe(1);
  });

  it('has an interrupt-window exit (reason 7) between the two injections, right after the IRET', () => {
    const [first, second] = nmis;
    const reasons = between(exits(s), first.step, second.step).map((r) => r.d0);
    expect(reasons).toContain(ExitReason.INTERRUPT_WINDOW);
    expect(reasons).not.toContain(ExitReason.NMI_WINDOW);
    const iret = between(guestIrets(s), first.step, second.step)[0];
    const win = firstAfter(exits(s), iret.step)!;
    expect(win.d0).toBe(ExitReason.INTERRUPT_WINDOW);
    // The IRET itself did not exit: the window exit is the very next step, at the
    // instruction the IRET returned to.
    expect(win.step).toBe(iret.step + 1);
    expect(win.rip).toBe(iret.d2);
  });

  it('KVM arms the interrupt window for the blocked NMI (vmx_enable_nmi_window without vNMI)', () => {
    const [first, second] = nmis;
    const armed = between(decisions(s, Fn.kvm_check_and_inject_events), first.step, second.step).find(
      (d) => d.d1 & Inject.NMI_WINDOW_VIA_IRQ,
    )!;
    expect(armed).toBeDefined();
    expect(armed.d1 & Inject.NMI).toBe(0);
    expect(kvmAt(s, armed.step - 1).softVnmiBlocked).toBe(true);
    expect(
      vmcsAt(s, armed.step - 1, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING,
    ).toBe(0);
    expect(
      vmcsAt(s, armed.step, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING,
    ).toBeTruthy();
    // NMI-window exiting needs virtual NMIs: never used here.
    expect(vmcsAt(s, armed.step, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING).toBe(
      0,
    );
  });

  it('__vmx_handle_exit clears soft_vnmi_blocked at the window exit, then the NMI goes in', () => {
    const [first, second] = nmis;
    const win = between(exits(s), first.step, second.step).find((r) => r.d0 === ExitReason.INTERRUPT_WINDOW)!;
    const unblock = firstAfter(decisions(s, Fn.vmx_handle_exit), win.step)!;
    expect(unblock.d1).toBe(1);
    // In the handling of that exit: no VM entry in between.
    expect(unblock.step).toBeLessThan(second.step);
    expect(kvmAt(s, unblock.step - 1).softVnmiBlocked).toBe(true);
    expect(kvmAt(s, unblock.step).softVnmiBlocked).toBe(false);
    // handle_interrupt_window disarms the window and requests event evaluation...
    const hiw = firstAfter(decisions(s, Fn.handle_interrupt_window), unblock.step)!;
    expect(hiw.step).toBeLessThan(second.step);
    expect(vmcsAt(s, hiw.step, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING).toBe(
      0,
    );
    expect(kvmAt(s, hiw.step).reqEvent).toBe(true);
    // ...which injects NMI #2 and sets the soft flag again.
    const inj = firstAfter(decisions(s, Fn.kvm_check_and_inject_events), hiw.step)!;
    expect(inj.d1 & Inject.NMI).toBeTruthy();
    expect(inj.step).toBe(second.step - 1);
    expect(kvmAt(s, inj.step)).toMatchObject({ softVnmiBlocked: true, vnmiBlockedTimeNs: 0, nmiPending: 0 });
  });

  it('the only exits between the injections are the kick (reason 1, 0xfd) and the window (7)', () => {
    const [first, second] = nmis;
    const ex = between(exits(s), first.step, second.step);
    expect(ex.map((r) => r.d0)).toEqual([ExitReason.EXTERNAL_INTERRUPT, ExitReason.INTERRUPT_WINDOW]);
    expect(ex[0].d1).toBe(0x800000fd);
  });
});

describe('virtual_nmis = true (the contrast: VNMI present)', () => {
  const s = softVnmi({ virtual_nmis: true });
  const nmis = injections(s, NMI_INFO);

  it('uses enable_vnmi = 1 and never touches the soft state', () => {
    expect(kvmAt(s, 2).enableVnmi).toBe(true);
    expect(decisions(s, Fn.vmx_recover_nmi_blocking)).toEqual([]);
    expect(decisions(s, Fn.vmx_handle_exit)).toEqual([]);
    for (const e of nmis) expect(kvmAt(s, e.step).softVnmiBlocked).toBe(false);
    expect(s.assertions.map((a) => a.passed)).toEqual([true, true]);
  });

  it('has an NMI-window exit (8) and no interrupt-window exit (7) between the two deliveries', () => {
    expect(nmis).toHaveLength(2);
    const reasons = between(exits(s), nmis[0].step, nmis[1].step).map((r) => r.d0);
    expect(reasons).toContain(ExitReason.NMI_WINDOW);
    expect(reasons).not.toContain(ExitReason.INTERRUPT_WINDOW);
  });

  it('GUEST_INTERRUPTIBILITY_INFO bit 3 is set at the exit during the handler, clear after the IRET', () => {
    const [first, second] = nmis;
    const iret = between(guestIrets(s), first.step, second.step)[0];
    const during = between(exits(s), first.step, iret.step);
    expect(during.length).toBeGreaterThan(0);
    for (const e of during) expect(vmcsAt(s, e.step, F.GUEST_INTERRUPTIBILITY_INFO) & 8).toBe(8);
    const nmiWin = firstAfter(exits(s), iret.step)!;
    expect(nmiWin.d0).toBe(ExitReason.NMI_WINDOW);
    expect(vmcsAt(s, nmiWin.step, F.GUEST_INTERRUPTIBILITY_INFO) & 8).toBe(0);
    // The guest's view tracks virtual-NMI blocking live: on in the handler, off after IRET.
    expect(s.view(first.step + 1).levels[GUEST].cpu.vnmiBlocked).toBe(true);
    expect(s.view(iret.step).levels[GUEST].cpu.vnmiBlocked).toBe(false);
    // The second handler's IRET clears it again before the final HLT exit.
    const last = firstAfter(exits(s), second.step)!;
    expect(between(guestIrets(s), second.step, last.step)).toHaveLength(1);
    expect(vmcsAt(s, last.step, F.GUEST_INTERRUPTIBILITY_INFO) & 8).toBe(0);
  });

  it('arms NMI-window exiting, and handle_nmi_window disarms it', () => {
    const [first, second] = nmis;
    const armed = between(decisions(s, Fn.kvm_check_and_inject_events), first.step, second.step).find(
      (d) => d.d1 & Inject.NMI_WINDOW,
    )!;
    expect(armed).toBeDefined();
    expect(armed.d1 & Inject.NMI_WINDOW_VIA_IRQ).toBe(0);
    const proc = vmcsAt(s, armed.step, F.CPU_BASED_VM_EXEC_CONTROL);
    expect(proc & CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING).toBeTruthy();
    expect(proc & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING).toBe(0);
    const hnw = between(decisions(s, Fn.handle_nmi_window), first.step, second.step);
    expect(hnw).toHaveLength(1);
    expect(vmcsAt(s, hnw[0].step, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING).toBe(
      0,
    );
  });
});

describe('sti_in_handler = true (NMI nesting, the corner case the commit admits)', () => {
  const s = softVnmi({ sti_in_handler: true });
  const nmis = injections(s, NMI_INFO);

  it('injects the second NMI while the first handler still runs', () => {
    expect(nmis).toHaveLength(2);
    expect(between(guestIrets(s), nmis[0].step, nmis[1].step)).toEqual([]);
    expect(s.view(nmis[1].step).levels[GUEST].cpu.nmiDepth).toBe(2);
  });

  it('the unblock came at an exit that was not a window exit (the kick), with IF=1 from the STI', () => {
    const unblock = between(decisions(s, Fn.vmx_handle_exit), nmis[0].step, nmis[1].step);
    expect(unblock).toHaveLength(1);
    expect(unblock[0].d1).toBe(1);
    const exit = exits(s)
      .filter((r) => r.step < unblock[0].step)
      .pop()!;
    expect(exit.d0).toBe(ExitReason.EXTERNAL_INTERRUPT);
    expect(vmcsAt(s, exit.step, F.GUEST_RFLAGS) & 0x200).toBe(0x200);
  });

  it('the guest sees the nesting: "the NMI handler never nested" fails', () => {
    expect(assertion(s, 'both NMIs were handled').passed).toBe(true);
    expect(assertion(s, 'the NMI handler never nested').passed).toBe(false);
  });
});

describe('starve = true (an IF=0 context: the 1 s break-out)', () => {
  const current = softVnmi({ starve: true });
  const y2008 = softVnmi({ starve: true, era: '2008' });

  function breakOut(s: LabSession) {
    const outs = decisions(s, Fn.vmx_handle_exit).filter((d) => d.d1 === 2);
    expect(outs).toHaveLength(1);
    return outs[0];
  }

  it('both eras run to their end (the benchmark times it; here it just completes)', () => {
    for (const s of [current, y2008]) {
      expect(s.runError()).toBeNull();
      expect(s.sim.endReason).toBe('halted');
      expect(s.assertions.map((a) => a.passed)).toEqual([true, true, true]);
    }
  });

  it('breaks out at the first exit after vnmi_blocked_time exceeds 1e9 ns of guest time', () => {
    for (const s of [current, y2008]) {
      const out = breakOut(s);
      const first = injections(s, NMI_INFO)[0];
      const recovers = between(decisions(s, Fn.vmx_recover_nmi_blocking), first.step, out.step);
      const last = recovers[recovers.length - 1];
      // The accounting of this very exit pushed it over 1 s...
      expect(last.d2).toBeGreaterThan(SOFT_VNMI_TIMEOUT_NS);
      expect(exits(s).filter((e) => e.step > last.step && e.step < out.step)).toEqual([]);
      // ...and none before did.
      for (const r of recovers.slice(0, -1)) expect(r.d2).toBeLessThanOrEqual(SOFT_VNMI_TIMEOUT_NS);
      // KvmState before and after: at most 1 s at the exit, above it once accounted.
      const exit = exits(s)
        .filter((e) => e.step < last.step)
        .pop()!;
      expect(kvmAt(s, exit.step).vnmiBlockedTimeNs).toBeLessThanOrEqual(SOFT_VNMI_TIMEOUT_NS);
      expect(kvmAt(s, last.step).vnmiBlockedTimeNs).toBe(last.d2);
      expect(out.d2).toBe(last.d2);
      expect(kvmAt(s, out.step - 1).softVnmiBlocked).toBe(true);
      expect(kvmAt(s, out.step)).toMatchObject({ softVnmiBlocked: false, nmiPending: 1 });
      // The guest was in its IF=0 loop all along: the heuristic never saw an open window.
      expect(vmcsAt(s, exit.step, F.GUEST_RFLAGS) & 0x200).toBe(0);
    }
  });

  it('vnmi_blocked_time counts guest run time only, not the time KVM spends in root operation', () => {
    const s = current;
    const out = breakOut(s);
    const first = injections(s, NMI_INFO)[0];
    const recs = between(decisions(s, Fn.vmx_recover_nmi_blocking), first.step, out.step);
    // It is the sum of the slices vmx_recover_nmi_blocking added...
    expect(recs.reduce((n, r) => n + r.d1, 0)).toBe(kvmAt(s, out.step - 1).vnmiBlockedTimeNs);
    // ...each the guest's time from VM entry to VM exit (TSC at 2 GHz: 2 cycles a ns).
    const all = rows(s);
    let guestCycles = 0;
    for (const r of recs) {
      const exit = all.filter((x) => x.kind === EventKind.VMEXIT && x.step < r.step).pop()!;
      const entry = all.filter((x) => x.kind === EventKind.VMENTRY && x.step < exit.step).pop()!;
      const slice = exit.time - entry.time;
      guestCycles += slice;
      expect(Math.abs(r.d1 - (slice * 1e9) / TSC_HZ)).toBeLessThanOrEqual(1);
    }
    const vbt = kvmAt(s, out.step).vnmiBlockedTimeNs;
    expect(Math.abs(vbt - (guestCycles * 1e9) / TSC_HZ)).toBeLessThanOrEqual(recs.length);
    // The wall-clock span since the injection is longer by the host's share: at least two KVM
    // decisions of 100 cycles (50 ns each) per exit, none of which counts.
    const wallNs = ((all[out.step - 1].time - first.time) * 1e9) / TSC_HZ;
    expect(wallNs - vbt).toBeGreaterThanOrEqual(recs.length * 99);
  });

  it('logs "Breaking out of NMI-blocked state on VCPU 0 after 1 s timeout" at that step', () => {
    for (const s of [current, y2008]) {
      const out = breakOut(s);
      const log = kvmAt(s, s.totalSteps).log.filter((l) => l.text.includes(BREAK_OUT_TEXT));
      expect(log).toHaveLength(1);
      expect(log[0].step).toBe(out.step);
      expect(kvmAt(s, out.step - 1).log.some((l) => l.text.includes(BREAK_OUT_TEXT))).toBe(false);
    }
  });

  it('era 2008 injects NMI #2 at that same exit (events evaluated on every entry)', () => {
    const s = y2008;
    const out = breakOut(s);
    const next = firstAfter(rows(s), out.step)!;
    expect(next.kind).toBe(EventKind.DECISION);
    expect(next.d0).toBe(Fn.kvm_check_and_inject_events);
    expect(next.d1 & Inject.NMI).toBeTruthy();
    const entry = firstAfter(rows(s), next.step, (r) => r.kind === EventKind.VMENTRY)!;
    expect(entry.d0).toBe(NMI_INFO);
    expect(injections(s, NMI_INFO)[1].step).toBe(entry.step);
  });

  it('era current leaves it pending until the next KVM_REQ_EVENT: the IRQ window the STI opens', () => {
    const s = current;
    const out = breakOut(s);
    // No event evaluation at the break-out: the next entry injects nothing.
    const entry = firstAfter(rows(s), out.step, (r) => r.kind === EventKind.VMENTRY)!;
    expect(entry.d0).toBe(0);
    expect(between(decisions(s, Fn.kvm_check_and_inject_events), out.step, entry.step)).toEqual([]);
    // The second injection follows an interrupt-window exit, after the guest's STI.
    const second = injections(s, NMI_INFO)[1];
    const ex = exits(s).filter((e) => e.step < second.step);
    expect(ex[ex.length - 1].d0).toBe(ExitReason.INTERRUPT_WINDOW);
    const sti = s.compiled.programs[GUEST].instrs.find((i) => i.text === 'sti')!;
    const stiStep = guestEvents(s, EventKind.INSTR).find((r) => r.rip === sti.addr)!;
    expect(stiStep.step).toBeGreaterThan(out.step);
    expect(stiStep.step).toBeLessThan(second.step);
    // Meanwhile the NMI stayed pending across many exits.
    for (const e of between(exits(s), out.step, second.step)) expect(kvmAt(s, e.step).nmiPending).toBe(1);
    // So it went in about 0.5 s of guest time later than in the 2008 code.
    expect(second.time).toBeGreaterThan(injections(y2008, NMI_INFO)[1].time + 0.4 * TSC_HZ);
  });
});
