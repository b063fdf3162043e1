// svm_x86_ops and svm_nested_ops (arch/x86/kvm/svm/svm.c, nested.c): the SVM functions behind
// the hooks x86.c calls (x86-ops.ts). KVM runs at L0 on the AMD processor.
import { Fn } from './functions';
import { svmCheckNestedEvents } from './nested-svm-vmexit';
import {
  nestedExitOnIntr,
  nestedExitOnNmi,
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
  // svm_inject_exception: EV as exception.has_error_code — EXITINTINFO's for a re-injected one.
  inject_exception: (c, reinjected) => {
    const s = c.kvm.svm;
    if (!reinjected) s.requeuedHasError = null;
    svmInjectException(c, s.requeuedHasError ?? exceptionHasErrorCode(c.kvm.exceptionVector));
  },
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
  check_nested_events: svmCheckNestedEvents,
  check_nested_events_fn: Fn.svm_check_nested_events,
  nested_exit_on_nmi: nestedExitOnNmi,
  nested_exit_on_intr: nestedExitOnIntr,
  // No nested event KVM synthesizes on SVM outside those (no emulated timer, no MTF).
  has_nested_events: () => false,
};
