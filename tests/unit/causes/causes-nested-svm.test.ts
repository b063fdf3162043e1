// Why an exit of L2 went where it went under KVM's nested SVM: the rule (nested_svm_exit_special
// or nested_svm_intercept) in SVM's words, with the bit of L1's permission map that decided.
import { describe, expect, it } from 'vitest';
import { causesOf } from '../../../src/core/causes/causes';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { EventKind, open } from '../helpers';
import { decisions, nrows } from '../nested/nested-helpers';

describe('causes of nested SVM routing', () => {
  it('a VMMCALL of L2 is reflected because vmcb12 intercepts it', () => {
    const s = open(nestUnderKvm(findBuiltin('svm-virq')));
    const n = decisions(s, Fn.nested_svm_vmexit).find((r) => r.d1 === 0x81)!.step;
    const r = causesOf(s, n).routing!;
    expect(r.fn).toBe('nested_svm_intercept');
    expect(r.to).toBe('L1');
    expect(r.text).toMatch(
      /^#VMEXIT VMMCALL: nested_svm_intercept — vmcb12 intercepts it, so it is reflected to L1$/,
    );
  });

  it('an INTR exit of L2 is kept by L0 (nested_svm_exit_special)', () => {
    const s = open(findBuiltin('kvm-svm-nested-intr'));
    const exit = nrows(s).find((r) => r.kind === EventKind.VMEXIT && r.level === 2 && r.d0 === 0x60)!;
    const r = causesOf(s, exit.step).routing!;
    expect(r.fn).toBe('nested_svm_exit_special');
    expect(r.to).toBe('L0');
    expect(r.text).toMatch(/kept by L0$/);
  });

  it('an MSR exit of L2: the bit of vmcb12’s MSR permission map decides', () => {
    const s = open(findBuiltin('kvm-svm-nested-intr'), { intercept_intr: false });
    const exit = nrows(s).find((r) => r.kind === EventKind.VMEXIT && r.level === 2 && r.d0 === 0x7c)!;
    const r = causesOf(s, exit.step).routing!;
    expect(r.fn).toBe('nested_svm_intercept');
    expect(r.to).toBe('L0');
  });

  it('an input set by a #VMEXIT names it with its SVM exit code', () => {
    const s = open(findBuiltin('kvm-svm-nested-intr'));
    const exit = nrows(s).find((r) => r.kind === EventKind.VMEXIT && r.level === 2 && r.d0 === 0x60)!;
    const sti = causesOf(s, exit.step).inputs.find((i) => i.label.startsWith('blocking_by_sti'))!;
    expect(sti.setBy?.actor).toMatch(/^L1 #VMEXIT 0x80 VMRUN$/);
  });
});
