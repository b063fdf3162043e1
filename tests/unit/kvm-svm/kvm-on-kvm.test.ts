// KVM above L0 on AMD (KVM on KVM): the KVM at L1 runs its guest with its own SVM code, whose
// VMRUN, SVM MSRs and x2APIC writes trap to the KVM at L0, which emulates SVM for it
// (nested_svm_vmrun on L1's vmcb01, i.e. L0's vmcb12). Its VMCB is its own memory, read and
// written through its port's log, so that a decision run again after a trap writes nothing over
// what L0's #VMEXIT wrote. An interrupt for L1's vCPU (the kick) while L2 runs comes back to L1
// as #VMEXIT(INTR), and L1 takes it through its IDT once it enables interrupts.
import { describe, expect, it } from 'vitest';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { KVM_SVM_HOST } from '../../../src/core/hypervisors/kvm/svm-state';
import { describeVmcbs } from '../../../src/core/engine/describe-vmcb';
import { EventKind, open } from '../helpers';
import { decisions, nrows } from '../nested/nested-helpers';

const RESCHEDULE_VECTOR = 0xfd;

describe('KVM on KVM on SVM (kvm-svm-nmi one level up)', () => {
  const bare = open(findBuiltin('kvm-svm-nmi'));
  const s = open(nestUnderKvm(findBuiltin('kvm-svm-nmi')));
  const at = (level: number, fn?: number) => decisions(s, fn).filter((r) => r.level === level);

  it('runs to the end with the same assertion results as with one KVM', () => {
    expect(s.runError()).toBeNull();
    expect(s.compiled.lanes.map((l) => l.kind)).toEqual(['kvm', 'kvm', 'guest']);
    expect(s.assertions.map((a) => [a.message, a.passed])).toEqual(
      bare.assertions.map((a) => [a.message, a.passed]),
    );
  });

  it('L1’s KVM enables SVM and runs L2 with VMRUN, which L0 emulates on L1’s vmcb01', () => {
    expect(at(1, Fn.svm_hardware_enable)).toHaveLength(1);
    expect(at(1, Fn.svm_vcpu_create)).toHaveLength(1);
    const runs = at(0, Fn.nested_svm_vmrun);
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.every((r) => r.d1 === KVM_SVM_HOST.VMCB01 && r.d2 === 0)).toBe(true);
    // Every VMRUN of L1 comes back to it as a decision of its own (svm_vcpu_run above L0).
    expect(at(1, Fn.svm_vcpu_run).length).toBe(runs.length);
    // L2 runs in its own lane, from L0's vmcb02.
    const l2 = nrows(s).filter(
      (r) => r.kind === EventKind.VMENTRY && s.sim.stateAt(r.step).svm.guestLane === 2,
    );
    expect(l2.length).toBe(runs.length);
  });

  it('an interrupt for L1 while L2 runs: #VMEXIT(INTR) to L1, which takes it after local_irq_enable', () => {
    const nestedIntr = at(0, Fn.svm_check_nested_events).filter((r) => r.d1 === 0x60);
    expect(nestedIntr.length).toBeGreaterThan(0);
    const first = nestedIntr[0].step;
    const enable = at(1, Fn.local_irq_enable).find((r) => r.step > first)!;
    expect(enable.d1).toBe(0x60);
    const irq = at(1, Fn.host_irq).find((r) => r.step > enable.step)!;
    expect(irq.d1).toBe(RESCHEDULE_VECTOR);
  });

  it('the VMCB panel names the stack’s VMCBs: vmcb01, vmcb02 of L0 and vmcb12 of L1', () => {
    const run = at(0, Fn.nested_svm_vmrun)[0];
    const roles = describeVmcbs(s.compiled, null, s.sim.stateAt(run.step)).map((v) => [v.role, v.owner]);
    expect(roles).toEqual([
      ['vmcb01', 0],
      ['vmcb02', 0],
      ['vmcb12', 1],
    ]);
  });
});
