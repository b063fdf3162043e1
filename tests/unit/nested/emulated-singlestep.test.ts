// KVM single-stepping an instruction it emulates for L2 (x86.c kvm_skip_emulated_instruction →
// kvm_vcpu_do_singlestep: a #DB with payload DR6_BS), and what becomes of that #DB in
// vmx_check_nested_events: an exit to L1 with the payload as qualification
// (nested_vmx_inject_exception_vmexit), the pending debug exceptions of an MTF exit
// (nested_vmx_update_pending_dbg), or an injection into L2 that nested events wait for while it
// is in VM_ENTRY_INTR_INFO_FIELD (kvm_event_needs_reinjection). The kvm-unit-tests built-ins
// that exercise them run one level up under KVM (nestUnderKvm, as `--nest kvm`).
import { describe, expect, it } from 'vitest';
import type { LabSession } from '../../../src/core/engine/session';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { open } from '../helpers';
import { ExitReason, F, Fn, decisions, l1Exits, lbl, q, vmcs12 } from './nested-helpers';

function nested(name: string, params: Record<string, ParamValue> = {}): LabSession {
  const doc = findBuiltin(name);
  if (!doc) throw new Error(`no built-in ${name}`);
  return open(nestUnderKvm(doc), params);
}

const failed = (s: LabSession) => s.assertions.filter((a) => !a.passed && !a.skipped).map((a) => a.message);

describe('kvm_vcpu_do_singlestep after an emulated WBINVD (kut-db under KVM)', () => {
  const s = nested('kut-db');

  it('L0 emulates both WBINVDs; only the MOV-SS stage differs from the hardware (report_xfail)', () => {
    expect(decisions(s, Fn.handle_wbinvd)).toHaveLength(2);
    expect(failed(s)).toEqual([
      'stage 4: Expected pending debug exceptions 0',
      'stage 4: Expected exit qualification BS | B0',
    ]);
  });

  it('the synthesized #DB exits to L1 from vmx_check_nested_events, with the payload BS as qualification', () => {
    const wbinvd = decisions(s, Fn.handle_wbinvd);
    for (const w of wbinvd) {
      const x = l1Exits(s).find((e) => e.step > w.step)!;
      expect(x).toMatchObject({
        reason: ExitReason.EXCEPTION_NMI,
        intrInfo: 0x80000301,
        how: 'check_nested_events',
      });
      expect(vmcs12(s, x.step, F.EXIT_QUALIFICATION)).toBe(0x4000);
      expect(vmcs12(s, x.step, F.GUEST_RIP)).toBe(
        w === wbinvd[0] ? lbl(s, 'post_wbinvd') : lbl(s, 'post_movss_wbinvd'),
      );
    }
    // stage 4: the MOV-SS shadow's pending B0 | bit 12 stays in vmcs12 beside the BS exit
    const last = l1Exits(s).find((e) => e.step > wbinvd[1].step)!;
    expect(vmcs12(s, last.step, F.GUEST_PENDING_DBG_EXCEPTIONS) & 0x1001).toBe(0x1001);
  });
});

describe('the #DB KVM injects into L2 is not lost to a nested timer exit (kut-preemption-timer-tf under KVM)', () => {
  it.each([30, 10])('iterations=%i: every trap is delivered and every exit to L1 is the timer', (n) => {
    const s = nested('kut-preemption-timer-tf', { iterations: n });
    expect(failed(s)).toEqual([]);
    const x = l1Exits(s).map((e) => e.reason);
    expect(x).toEqual([
      ExitReason.VMCALL,
      ...Array<number>(n).fill(ExitReason.PREEMPTION_TIMER),
      ExitReason.VMCALL,
    ]);
    // L0 emulated WBINVDs with TF = 1 and injected their single-step #DBs into L2 itself (the
    // guest's handler saw every trap: its alternation check, the real test's, passed)
    const wbinvd = decisions(s, Fn.handle_wbinvd).length;
    expect(wbinvd).toBeGreaterThan(0);
    const injected = decisions(s, Fn.kvm_check_and_inject_events).filter((d) => d.d1 & 256 && d.d2 === 1);
    expect(injected.length).toBeGreaterThanOrEqual(wbinvd);
    expect(q(s, 'db_count')).toBeGreaterThan(n);
  });
});
