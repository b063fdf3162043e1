// Xen above L0: Xen as L1 under KVM on AMD SVM (KVM's nested SVM runs Xen's guest). Its SVM
// instructions trap to KVM (svm_cpu_up's WRMSRs, VMRUN), its VMCB is its own memory, the kick of
// its vCPU is an IPI at the APIC KVM emulates for it. Seed 004 must teach the same lessons one
// level up: every variant of xen-svm-vnmi gives the guest the same assertion results and Xen the
// same exit codes as with Xen on the processor.
import { describe, expect, it } from 'vitest';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { XEN_FN_BASE, XenFn } from '../../../src/core/hypervisors/xen/functions';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { EventKind, open, openError } from '../helpers';
import { decisions, nrows } from '../nested/nested-helpers';

const VARIANTS: Record<string, ParamValue>[] = [
  {},
  { vnmi: false },
  { if0: true },
  { vnmi: false, if0: true },
  { short_circuit: false },
  { iret_faults: true },
  { vnmi: false, iret_faults: true },
];

type S = ReturnType<typeof open>;
const results = (s: S) => s.assertions.map((a) => [a.message, a.passed]);
/** Xen on the processor: the guest's #VMEXIT codes. */
const bareCodes = (s: S) =>
  nrows(s)
    .filter((r) => r.kind === EventKind.VMEXIT && r.level === 1)
    .map((r) => r.d0 >>> 0);
/** Xen under KVM: the exit codes KVM's nested SVM gives Xen. */
const nestedCodes = (s: S) =>
  decisions(s)
    .filter((r) => r.level === 0 && (r.d0 === Fn.nested_svm_vmexit || r.d0 === Fn.svm_check_nested_events))
    .map((r) => r.d1 >>> 0);

describe('Xen at L1 under KVM (xen-svm-vnmi --nest kvm)', () => {
  for (const params of VARIANTS) {
    describe(JSON.stringify(params), () => {
      const bare = open(findBuiltin('xen-svm-vnmi'), params);
      const nested = open(nestUnderKvm(findBuiltin('xen-svm-vnmi')), params);

      it('runs without an error, Xen at L1, its guest at L2', () => {
        expect(nested.runError()).toBeNull();
        expect(nested.compiled.lanes.map((l) => l.kind)).toEqual(['kvm', 'xen', 'guest']);
      });

      it('the guest’s assertions come out as with Xen on the processor', () => {
        expect(results(nested)).toEqual(results(bare));
        expect(results(bare).length).toBe(3);
      });

      it('Xen sees the same exit codes, in the same order', () => {
        expect(nestedCodes(nested)).toEqual(bareCodes(bare));
      });

      it('Xen’s own decisions are the same, in the same order', () => {
        const xen = (s: S, level: number) =>
          decisions(s)
            .filter((r) => r.level === level && r.d0 >= XEN_FN_BASE)
            .map((r) => r.d0 - XEN_FN_BASE)
            // Above L0 the VMRUN, the STGI and the idle loop are decisions of their own (at L0 the
            // VMRUN is the processor's record, and the STGI and the wait have none).
            .filter(
              (f) => f !== XenFn.svm_asm_do_resume && f !== XenFn.idle_loop && f !== XenFn.svm_stgi_label,
            );
        expect(xen(nested, 1)).toEqual(xen(bare, 0));
      });
    });
  }

  it('the built-in’s under_kvm parameter is the same stack: KVM, Xen, the guest', () => {
    const s = open(findBuiltin('xen-svm-vnmi'), { under_kvm: true, vnmi: false });
    expect(s.compiled.lanes.map((l) => l.kind)).toEqual(['kvm', 'xen', 'guest']);
    expect(results(s)).toEqual(results(open(findBuiltin('xen-svm-vnmi'), { vnmi: false })));
    // Xen's IRET intercept exit reaches Xen through KVM (nested_svm_vmexit, 0x74).
    expect(nestedCodes(s)).toContain(0x74);
  });

  it('with V_NMI_ENABLE and no NMI intercept, KVM fails Xen’s VMRUN (SVM_EXIT_ERR) and Xen crashes the domain', () => {
    const s = open(nestUnderKvm(findBuiltin('xen-svm-vnmi')), { nmi_intercept: false });
    expect(decisions(s, Fn.nested_svm_vmrun).map((r) => r.d2)).toEqual([2]);
    const crash = decisions(s).filter((r) => r.level === 1 && r.d0 === XEN_FN_BASE + XenFn.domain_crash);
    expect(crash).toHaveLength(1);
  });

  it('a second Xen level is refused at load, at that level', () => {
    const e = openError({
      version: 1,
      name: 'x',
      title: 't',
      description: '',
      arch: 'svm',
      levels: [{ kind: 'kvm' }, { kind: 'xen' }, { kind: 'xen' }, { kind: 'program', program: 'hlt' }],
    });
    expect(e.where).toBe('levels[2]');
    expect(e.message).toMatch(/one Xen level per stack/);
  });

  it('Xen above a program (no nested SVM below it) is refused at load', () => {
    const e = openError({
      version: 1,
      name: 'x',
      title: 't',
      description: '',
      arch: 'svm',
      levels: [{ kind: 'program', program: ['vmrun'] }, { kind: 'xen' }, { kind: 'program', program: 'hlt' }],
    });
    expect(e.where).toBe('levels[1]');
    expect(e.message).toMatch(/Xen at L1 needs KVM below it/);
  });
});
