// The SVM state as the views show it (StepView.svm).
import { EFER } from '../svm/bits';
import type { CompiledScenario } from '../scenario/load';
import { describeVmcbs } from './describe-vmcb';
import type { SimState } from './machine';
import type { SvmView } from './view';

/** The processor's SVM state at `cur`, with every VMCB (changes against `prev`, the step before). */
export function describeSvm(c: CompiledScenario, prev: SimState | null, cur: SimState): SvmView {
  const s = cur.svm;
  return {
    enabled: (s.efer & EFER.SVME) !== 0,
    gif: s.gif,
    guest: s.guest,
    vmHsavePa: s.hsavePa,
    vmcb: s.vmcb,
    intCtl: s.intCtl >>> 0,
    vmcbs: describeVmcbs(c, prev, cur),
  };
}
