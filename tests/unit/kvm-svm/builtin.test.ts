// The kvm-svm-nmi built-in: a guest under KVM on SVM with a periodic timer and two NMIs, its
// asserts in the guest, in both variants (kvm_amd.vnmi on and off); and the explanations of a
// KVM-on-SVM run, which speak SVM (no VMCS field names).
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { runQuery, sessionRun } from '../../../src/core/engine/search';
import { EventKind, open, rows } from '../helpers';
import { Fn, Inject, decisions, exits } from '../kvm/kvm-helpers';
import { SvmExit } from './kvm-svm-helpers';

function builtin(vnmi: boolean) {
  return open(findBuiltin('kvm-svm-nmi'), { vnmi });
}

const count = (s: ReturnType<typeof builtin>, code: number) => exits(s).filter((e) => e.d0 === code).length;

describe('kvm-svm-nmi', () => {
  const on = builtin(true);
  const off = builtin(false);

  it('passes its asserts in both variants and halts', () => {
    for (const s of [on, off]) {
      expect(s.assertions.map((a) => a.passed)).toEqual([true, true, true]);
      expect(s.sim.endReason).toBe('halted');
    }
  });

  it('the timer handler’s IF = 0 makes KVM open the IRQ window with VINTR (exit 0x64) in both', () => {
    expect(count(on, SvmExit.VINTR)).toBeGreaterThan(0);
    expect(count(off, SvmExit.VINTR)).toBeGreaterThan(0);
  });

  it('with vNMI: no IRET or #DB exit, one NMI parked in V_NMI_PENDING', () => {
    expect(count(on, SvmExit.IRET)).toBe(0);
    expect(count(on, SvmExit.EXCP_BASE + 1)).toBe(0);
    expect(decisions(on, Fn.process_nmi).some((d) => d.d1 & 0x100)).toBe(true);
  });

  it('without vNMI: the IRET intercept and the single-step #DB; more exits in all', () => {
    expect(count(off, SvmExit.IRET)).toBeGreaterThan(0);
    expect(count(off, SvmExit.EXCP_BASE + 1)).toBe(1);
    expect(decisions(off, Fn.iret_interception).length).toBeGreaterThan(0);
    expect(exits(off).length).toBeGreaterThan(exits(on).length);
  });

  it('every decision is explained in SVM terms, citing svm.c or x86.c, never a VMCS field', () => {
    for (const s of [on, off]) {
      for (const r of rows(s).filter((x) => x.kind === EventKind.DECISION)) {
        const e = s.view(r.step).explanation;
        expect(e.text, `step ${r.step}`).not.toMatch(
          /VMCS|VM_ENTRY|GUEST_|vmx_|VMLAUNCH|VMRESUME|IDT_VECTORING/,
        );
        expect(e.cite ?? '', `step ${r.step}`).not.toMatch(/vmx/);
      }
    }
  });

  it('the KVM panel shows struct vcpu_svm: awaiting_iret_completion after the IRET exit, svm.c phases', () => {
    const iret = decisions(off, Fn.iret_interception)[0];
    const k = off.view(iret.step).levels[0].kvm!;
    expect(k.svm).toMatchObject({
      vnmi: false,
      nmiMasked: true,
      awaitingIretCompletion: true,
      lastExit: 'SVM_EXIT_IRET',
    });
    const running = off.view(iret.step + 2).levels[0].kvm!; // after kvm_check_and_inject_events and VMRUN
    expect(running.phase).toBe('the guest runs (in svm_vcpu_run)');
    expect(on.view(iret.step).levels[0].kvm!.svm!.vnmi).toBe(true);
  });

  it('the search finds struct vcpu_svm’s variables: awaiting_iret_completion set at each IRET exit', () => {
    const a = runQuery(sessionRun(off), 'awaiting_iret_completion');
    if (!a.ok || a.kind !== 'results') throw new Error(JSON.stringify(a));
    const sets = decisions(off, Fn.iret_interception).map((d) => d.step);
    expect(a.steps.filter((n) => sets.includes(n))).toEqual(sets);
  });

  it('every step has a view', () => {
    for (let n = 0; n <= on.totalSteps; n += 7) expect(() => on.view(n)).not.toThrow();
  });
});

describe('kvm-svm-immediate-exit', () => {
  const run = (vnmi: boolean) => open(findBuiltin('kvm-svm-immediate-exit'), { vnmi });
  const on = run(true);
  const off = run(false);

  it('passes its asserts in both variants', () => {
    for (const s of [on, off]) expect(s.assertions.map((a) => a.passed)).toEqual([true, true]);
  });

  it('without vNMI: the NMI goes in, the IRQ forces a self-IPI exit before the handler’s first instruction', () => {
    const inj = decisions(off, Fn.kvm_check_and_inject_events).find((d) => d.d1 & Inject.NMI)!;
    expect(inj.d1 & Inject.IMMEDIATE_EXIT).toBeTruthy();
    const entry = rows(off).find((r) => r.step > inj.step && r.kind === EventKind.VMENTRY)!;
    const exit = exits(off).find((e) => e.step > entry.step)!;
    expect(exit.step).toBe(entry.step + 1);
    expect(exit.d0).toBe(SvmExit.INTR);
    expect(count(off, SvmExit.IRET)).toBe(1);
    expect(count(off, SvmExit.VINTR)).toBe(1);
  });

  it('with vNMI: the NMI is parked, the IRQ goes in, no immediate exit and fewer exits', () => {
    expect(decisions(on, Fn.process_nmi)[0].d1 & 0x100).toBe(0x100);
    expect(decisions(on, Fn.kvm_check_and_inject_events).some((d) => d.d1 & Inject.IMMEDIATE_EXIT)).toBe(
      false,
    );
    expect(exits(on).length).toBeLessThan(exits(off).length);
    // The processor delivers the V_NMI right after EVENTINJ delivered the IRQ.
    const vnmi = rows(on).find((r) => r.kind === EventKind.DELIVER && (r.d0 & 0xff) === 2)!;
    expect(rows(on)[vnmi.step - 2].kind).toBe(EventKind.VMENTRY);
  });
});
