// vmx_x86_ops (arch/x86/kvm/vmx/main.c vt_x86_ops): the VMX functions behind the hooks x86.c
// calls. Each is the VMX model's own function (vmx.ts, vmx-run.ts, exit-handling.ts,
// nested-events.ts), unchanged.
import { hwExceptionInfo } from '../../cpu/deliver';
import { F } from '../../vmx/vmcs';
import { afterExit, handleExit } from './exit-handling';
import { Fn } from './functions';
import {
  nestedExitOnIntr,
  nestedExitOnNmi,
  vmxCheckNestedEvents,
  vmxHasNestedEvents,
  vmxInterruptBlockedNested,
  vmxNmiBlockedNested,
} from './nested-events';
import {
  rd,
  vmxEnableIrqWindow,
  vmxEnableNmiWindow,
  vmxGetNmiMask,
  vmxInjectIrq,
  vmxInjectNmi,
  wr,
} from './vmx';
import { vmxVcpuCreate, vmxVcpuRun } from './vmx-run';
import type { KvmX86Ops } from './x86-ops';

export const VMX_OPS: KvmX86Ops = {
  vendor: 'vmx',
  vcpu_create: vmxVcpuCreate,
  vcpu_run: vmxVcpuRun,
  complete_exit: afterExit,
  handle_exit: handleExit,
  get_nmi_mask: (c) => vmxGetNmiMask(c, c.kvm),
  nmi_blocked: vmxNmiBlockedNested,
  interrupt_blocked: vmxInterruptBlockedNested,
  inject_nmi: (c) => vmxInjectNmi(c, c.kvm),
  inject_irq: (c) => vmxInjectIrq(c, c.kvm),
  /**
   * vmx_inject_exception: VM_ENTRY_INTR_INFO_FIELD (and the error code for a new one; a
   * re-injection keeps the one already in the field).
   */
  inject_exception: (c, reinjected) => {
    const info = hwExceptionInfo(c.kvm.exceptionVector);
    wr(c, F.VM_ENTRY_INTR_INFO_FIELD, info);
    if (!reinjected && info & 0x800) wr(c, F.VM_ENTRY_EXCEPTION_ERROR_CODE, c.kvm.exceptionErrorCode);
  },
  enable_nmi_window: (c) => vmxEnableNmiWindow(c, c.kvm),
  enable_irq_window: vmxEnableIrqWindow,
  // VMX parks no NMI in hardware (kvm_x86_ops.is_vnmi_pending / set_vnmi_pending are NULL).
  is_vnmi_pending: () => false,
  set_vnmi_pending: () => false,
  get_rflags: (c) => rd(c, F.GUEST_RFLAGS),
  set_rflags: (c, v) => wr(c, F.GUEST_RFLAGS, v),
  get_dr7: (c) => rd(c, F.GUEST_DR7),
  set_dr7: (c, v) => wr(c, F.GUEST_DR7, v),
  check_nested_events: vmxCheckNestedEvents,
  check_nested_events_fn: Fn.vmx_check_nested_events,
  nested_exit_on_nmi: (c) => nestedExitOnNmi(c.kvm),
  nested_exit_on_intr: (c) => nestedExitOnIntr(c.kvm),
  has_nested_events: (c) => vmxHasNestedEvents(c.kvm),
};
