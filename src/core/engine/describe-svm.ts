// The SVM state as the views show it (StepView.svm).
import { EFER } from '../svm/bits';
import type { SvmState } from '../svm/state';
import type { SvmView } from './view';

export function describeSvm(s: SvmState): SvmView {
  return {
    enabled: (s.efer & EFER.SVME) !== 0,
    gif: s.gif,
    guest: s.guest,
    vmHsavePa: s.hsavePa,
    vmcb: s.vmcb,
    intCtl: s.intCtl >>> 0,
  };
}
