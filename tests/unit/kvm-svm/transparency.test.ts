// Nesting transparency on AMD: a kvm-unit-tests-style SVM hypervisor (every `svm-*` built-in,
// each shaped like a test of x86/svm_tests.c) must not be able to tell bare metal from running
// as L1 under KVM's nested SVM (nested_svm_vmrun, nested_svm_vmexit, svm_check_nested_events),
// except where KVM's emulation really differs from the processor. Each runs on bare metal, one
// level up under KVM (nestUnderKvm, as `npm run sim -- NAME --nest kvm`), and two levels up
// under KVM running on KVM (whose own VMRUN the KVM at L0 emulates); the assertion
// results (message and pass/fail, in order) and the exit codes its hypervisor reads must be the
// same, but for the differences listed below, each with its reason.
import { describe, expect, it } from 'vitest';
import type { LabSession } from '../../../src/core/engine/session';
import { BUILTIN_SCENARIOS } from '../../../src/core/scenario/builtins';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { EventKind, open } from '../helpers';
import { decisions, nrows } from '../nested/nested-helpers';

interface Doc {
  name: string;
  params?: Record<string, { type: string; default: ParamValue }>;
}

interface KnownDifference {
  scenario: string;
  message: RegExp;
}

/**
 * The known differences, each a real behaviour of KVM's nested SVM, read in
 * arch/x86/kvm/svm/nested.c.
 */
const KNOWN: KnownDifference[] = [
  // nested_save_pending_event_to_vmcb12 rebuilds vmcb12's EXITINTINFO from KVM's queues: an
  // NMI becomes SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI with vector 0 (0x80000200), where the
  // processor writes vector 2 (0x80000202). The re-injection L1 then makes works the same: the
  // vector of an NMI in EVENTINJ is ignored.
  { scenario: 'svm-exitintinfo', message: /^stage 2: EXITINTINFO = V \| type 2 \(NMI\) \| vector 2$/ },
];

type Result = { message: string; passed: boolean };

const results = (s: LabSession): Result[] =>
  s.assertions.map((a) => ({ message: a.message, passed: a.passed }));

/** Bare metal: the guest's #VMEXIT codes, and VMEXIT_INVALID (recorded at the host's lane). */
function bareExitCodes(s: LabSession): number[] {
  return nrows(s)
    .filter((r) => r.kind === EventKind.VMEXIT && (r.level === 1 || (r.level === 0 && r.d0 === 0xffffffff)))
    .map((r) => r.d0 >>> 0);
}

/**
 * Under KVM: the exit codes written into vmcb12 — an exit of L2 reflected (nested_svm_vmexit),
 * an event for L1 (svm_check_nested_events), and a vmcb12 that fails KVM's checks
 * (nested_svm_vmrun with SVM_EXIT_ERR).
 */
function nestedExitCodes(s: LabSession, kvmLevel: number): number[] {
  return decisions(s)
    .filter(
      (r) =>
        r.level === kvmLevel &&
        (r.d0 === Fn.nested_svm_vmexit ||
          r.d0 === Fn.svm_check_nested_events ||
          (r.d0 === Fn.nested_svm_vmrun && r.d2 === 2)),
    )
    .map((r) => (r.d0 === Fn.nested_svm_vmrun ? 0xffffffff : r.d1 >>> 0));
}

function variants(doc: Doc): Record<string, ParamValue>[] {
  const out: Record<string, ParamValue>[] = [{}];
  for (const [key, p] of Object.entries(doc.params ?? {}))
    if (p.type === 'boolean') out.push({ [key]: !p.default });
  return out;
}

const SVM_KUT = (BUILTIN_SCENARIOS as Doc[]).filter((d) => d.name.startsWith('svm-'));

describe('nesting transparency of the SVM kvm-unit-tests built-ins under KVM', () => {
  it('there are svm-* built-ins, and every difference names one of them', () => {
    expect(SVM_KUT.length).toBeGreaterThanOrEqual(8);
    for (const d of KNOWN) expect(SVM_KUT.map((k) => k.name)).toContain(d.scenario);
  });

  for (const doc of SVM_KUT) {
    for (const params of variants(doc)) {
      const label = `${doc.name}${Object.keys(params).length ? ' ' + JSON.stringify(params) : ''}`;
      describe(label, () => {
        const bare = open(doc, params);
        // Under KVM, and under KVM running on KVM (nested SVM at L0 for KVM's own VMRUN).
        const stacks = [
          { name: 'under KVM', s: open(nestUnderKvm(doc), params), kvm: 0 },
          { name: 'under KVM on KVM', s: open(nestUnderKvm(nestUnderKvm(doc)), params), kvm: 1 },
        ];
        const diffs = KNOWN.filter((d) => d.scenario === doc.name);
        const isKnown = (r: Result) => diffs.some((d) => d.message.test(r.message));

        it('bare metal runs without an error, its assertions pass, at the end the built-in expects', () => {
          expect(bare.runError()).toBeNull();
          expect(results(bare).every((r) => r.passed)).toBe(true);
          expect(bare.expectedEnd()?.reached).toBe(true);
        });

        for (const { name, s: nested, kvm } of stacks) {
          it(`${name}: the run ends without an error, at the end the built-in expects`, () => {
            expect(nested.runError()).toBeNull();
            expect(nested.compiled.lanes.map((l) => l.kind)).toEqual([
              ...Array<string>(kvm + 1).fill('kvm'),
              'guest',
              'guest',
            ]);
            expect(nested.expectedEnd()?.reached).toBe(true);
          });

          it(`${name}: the assertion results are identical but for the listed differences`, () => {
            expect(results(nested).length).toBe(results(bare).length);
            expect(results(nested).filter((r) => !isKnown(r))).toEqual(
              results(bare).filter((r) => !isKnown(r)),
            );
          });

          it(`${name}: each listed difference fails, as documented`, () => {
            for (const d of diffs) {
              expect(results(bare).filter((r) => d.message.test(r.message))).toEqual([
                expect.objectContaining({ passed: true }),
              ]);
              expect(results(nested).filter((r) => d.message.test(r.message))).toEqual([
                expect.objectContaining({ passed: false }),
              ]);
            }
          });

          it(`${name}: the hypervisor reads the same exit codes, in the same order`, () => {
            const codes = bareExitCodes(bare);
            expect(codes.length).toBeGreaterThan(0);
            expect(nestedExitCodes(nested, kvm)).toEqual(codes);
          });
        }
      });
    }
  }
});
