// "Set by" for a value the step itself changed before reading it: KVM-SVM's exit code is
// KVM's copy of the VMCB's EXITCODE, updated in svm_vcpu_run's tail in the same step as the
// handler that reads it, so the step that set the value read is the decision's own, not the
// last earlier change (which held another exit code).
import { describe, expect, it } from 'vitest';
import { causesOf } from '../../../src/core/causes/causes';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { open } from '../helpers';
import { decisions } from '../nested/nested-helpers';

describe('causes: a value set within the step that reads it', () => {
  it('nested_svm_vmrun reads exit_reason 0x80, set in its own step', () => {
    const s = open(findBuiltin('kvm-svm-nested-intr'));
    const n = decisions(s, Fn.nested_svm_vmrun)[0].step;
    const input = causesOf(s, n).inputs.find((i) => i.label.startsWith('exit_reason'))!;
    expect(input.value).toBe('128');
    expect(input.setBy?.step).toBe(n);
    expect(input.setBy?.to).toBe('128');
    expect(input.setBy?.from).not.toBe('128');
  });

  it('values unchanged in the step keep their earlier setter', () => {
    const s = open(findBuiltin('soft-vnmi'));
    for (let n = 1; n <= s.totalSteps; n++)
      for (const i of causesOf(s, n).inputs) if (i.setBy) expect(i.setBy.step).toBeLessThan(n);
  });
});
