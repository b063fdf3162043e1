// svm_x86_ops (arch/x86/kvm/svm/svm.c): the SVM functions behind the hooks x86.c calls
// (x86-ops.ts). KVM runs at L0 on the AMD processor; nested SVM is not modelled yet, so the
// nested hooks report no nested events.
import { Fn } from './functions';
import {
  svmEnableIrqWindow,
  svmEnableNmiWindow,
  svmGetNmiMask,
  svmGetRflags,
  svmInjectException,
  svmInjectIrq,
  svmInjectNmi,
  svmInterruptBlocked,
  svmIsVnmiPending,
  svmNmiBlocked,
  svmSetRflags,
  svmSetVnmiPending,
  vmcbRd64,
  vmcbWr64,
} from './svm';
import { svmHandleExit } from './svm-exit';
import { exceptionHasErrorCode, svmCompleteExit, svmVcpuCreate, svmVcpuRun } from './svm-run';
import { VMCB } from '../../svm/vmcb';
import type { KvmX86Ops } from './x86-ops';

export const SVM_OPS: KvmX86Ops = {
  vendor: 'svm',
  vcpu_create: svmVcpuCreate,
  vcpu_run: svmVcpuRun,
  complete_exit: svmCompleteExit,
  handle_exit: svmHandleExit,
  get_nmi_mask: svmGetNmiMask,
  nmi_blocked: svmNmiBlocked,
  interrupt_blocked: svmInterruptBlocked,
  inject_nmi: svmInjectNmi,
  inject_irq: (c) => svmInjectIrq(c),
  inject_exception: (c) => svmInjectException(c, exceptionHasErrorCode(c.kvm.exceptionVector)),
  // The SVM NMI window is the IRET intercept or a single-step (svm.ts): the decision records it
  // as NMI_WINDOW; kvm.svm says which.
  enable_nmi_window: (c) => {
    c.kvm.svm.nmiWindow = svmEnableNmiWindow(c);
    return 'nmi';
  },
  enable_irq_window: svmEnableIrqWindow,
  is_vnmi_pending: svmIsVnmiPending,
  set_vnmi_pending: svmSetVnmiPending,
  get_rflags: svmGetRflags,
  set_rflags: svmSetRflags,
  get_dr7: (c) => vmcbRd64(c, VMCB.DR7),
  set_dr7: (c, v) => vmcbWr64(c, VMCB.DR7, v),
  check_nested_events: () => ({ r: 'none' }),
  check_nested_events_fn: Fn.svm_handle_exit,
  nested_exit_on_nmi: () => false,
  nested_exit_on_intr: () => false,
  has_nested_events: () => false,
};
