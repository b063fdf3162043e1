// The vendor hooks of the KVM model, as arch/x86/include/asm/kvm_host.h's struct kvm_x86_ops
// (and its nested_ops) splits them: x86.c's vendor-neutral code (run-loop.ts: vcpu_enter_guest,
// kvm_check_and_inject_events, process_nmi, kvm_vcpu_block) calls these, and vmx.c or svm.c
// supplies them (vmx-ops.ts, svm-ops.ts). The scenario's `arch` chooses the vendor, as the
// kvm_intel or kvm_amd module does at load time. Names follow the kernel's members.
import type { KvmContext, KvmStepResult } from './context';
import type { NestedCheck } from './nested-events';

/** Which window enable_nmi_window armed (its Inject bit in the decision record). */
export type NmiWindow = 'nmi' | 'irq';

export interface KvmX86Ops {
  readonly vendor: 'vmx' | 'svm';
  /** hardware_enable and vcpu_create (the VMCS/VMCB set-up): one decision per call. */
  vcpu_create(c: KvmContext): KvmStepResult;
  /** vcpu_run: the entry into the guest (VMLAUNCH/VMRESUME or VMRUN). */
  vcpu_run(c: KvmContext): KvmStepResult;
  /**
   * The tail of vcpu_run after the exit and handle_exit_irqoff (complete_interrupts, the
   * host's interrupt or NMI): one decision per call, null when done (the phase moves to HANDLE).
   */
  complete_exit(c: KvmContext): KvmStepResult | null;
  /** handle_exit: the exit's handler; null when it had nothing to record. */
  handle_exit(c: KvmContext): KvmStepResult | null;

  /** get_nmi_mask: the guest's NMIs are masked (an NMI handler runs). */
  get_nmi_mask(c: KvmContext): boolean;
  /** nmi_allowed's blocking part (*_nmi_blocked; in guest mode L1's intercept first). */
  nmi_blocked(c: KvmContext): boolean;
  /** interrupt_allowed's blocking part (*_interrupt_blocked). */
  interrupt_blocked(c: KvmContext): boolean;
  /** inject_nmi: vcpu->arch.nmi_injected is set; put the NMI in the entry's event. */
  inject_nmi(c: KvmContext): void;
  /** inject_irq: vcpu->arch.interrupt into the entry's event (`reinjected` from a previous exit). */
  inject_irq(c: KvmContext, reinjected: boolean): void;
  /** inject_exception: vcpu->arch.exception into the entry's event. */
  inject_exception(c: KvmContext, reinjected: boolean): void;
  enable_nmi_window(c: KvmContext): NmiWindow;
  enable_irq_window(c: KvmContext): void;
  /** is_vnmi_pending: an NMI parked in hardware (SVM's V_NMI_PENDING). */
  is_vnmi_pending(c: KvmContext): boolean;
  /** set_vnmi_pending: park one NMI in hardware; false when the vendor cannot. */
  set_vnmi_pending(c: KvmContext): boolean;
  get_rflags(c: KvmContext): number;
  set_rflags(c: KvmContext, rflags: number): void;
  get_dr7(c: KvmContext): number;
  set_dr7(c: KvmContext, dr7: number): void;

  // kvm_x86_nested_ops
  /** check_events: an event for L1 becomes an emulated exit from L2 (its decision's Fn). */
  check_nested_events(c: KvmContext): NestedCheck;
  readonly check_nested_events_fn: number;
  /** The NMI (IRQ) must become an exit to L1: -EBUSY for injection into L2. */
  nested_exit_on_nmi(c: KvmContext): boolean;
  nested_exit_on_intr(c: KvmContext): boolean;
  /** has_events: a nested exit KVM must still synthesize (the preemption timer, MTF). */
  has_nested_events(c: KvmContext): boolean;
}
