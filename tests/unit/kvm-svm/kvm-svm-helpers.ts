// Helpers of the KVM-on-SVM tests: a scenario with KVM at L0 on the AMD processor (kvm_amd)
// running a program guest at L1, and readers of vmcb01 (in KVM's memory) after a step.
import type { LabSession } from '../../../src/core/engine/session';
import { KVM_SVM_HOST } from '../../../src/core/hypervisors/kvm/svm-state';
import { read } from '../../../src/core/cpu/memory';
import { open } from '../helpers';
import type { KvmDocSpec } from '../kvm/kvm-helpers';
import { kvmDoc } from '../kvm/kvm-helpers';

export { KVM_SVM_HOST };
export { VMCB } from '../../../src/core/svm/vmcb';
export { SvmExit } from '../../../src/core/svm/exit-codes';
export { INT_CTL, INTERCEPT, EVTINJ } from '../../../src/core/svm/bits';

export interface KvmSvmSpec extends KvmDocSpec {
  /** kvm_amd.vnmi (default true: the processor has vNMI). */
  vnmi?: boolean;
}

/** A scenario document: KVM (L0, kvm_amd) running `guest` (L1) on an AMD processor at 2 GHz. */
export function kvmSvmDoc(guest: string[], spec: KvmSvmSpec = {}): Record<string, unknown> {
  const doc = kvmDoc(guest, spec);
  doc.arch = 'svm';
  doc.levels = [{ kind: 'kvm', options: { vnmi: spec.vnmi ?? true } }, (doc.levels as unknown[])[1]];
  return doc;
}

export function runKvmSvm(guest: string[], spec: KvmSvmSpec = {}): LabSession {
  return open(kvmSvmDoc(guest, spec));
}

/** A 32-bit field of vmcb01 (in KVM's memory, lane 0) after step `n`. */
export function vmcb01(s: LabSession, n: number, offset: number): number {
  const st = s.sim.stateAt(n);
  read({ bytes: st.mems[0].bytes, stackLimit: 0 }, KVM_SVM_HOST.VMCB01 + offset, 4);
  return Number(new DataView(st.mems[0].bytes.buffer).getUint32(KVM_SVM_HOST.VMCB01 + offset, true)) >>> 0;
}
