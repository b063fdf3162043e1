// The kernel functions the KVM model is made of: each decision in the trace names one, so the
// UI can say which function decided and where it lives. Names as in Linux 6.16's
// arch/x86/kvm/ (facts §3.9, §3.13; seed-scenarios A.6).

export interface KvmFunction {
  name: string;
  file: string;
}

export const KVM_FUNCTIONS = [
  { name: 'hardware_enable', file: 'vmx/vmx.c' }, // 0: VMXON
  { name: 'vmx_vcpu_create', file: 'vmx/vmx.c' }, // 1: VMCLEAR, VMPTRLD, init_vmcs
  { name: 'process_nmi', file: 'x86.c' }, // 2
  { name: 'kvm_check_and_inject_events', file: 'x86.c' }, // 3
  { name: 'vmx_inject_nmi', file: 'vmx/vmx.c' }, // 4
  { name: 'vmx_inject_irq', file: 'vmx/vmx.c' }, // 5
  { name: 'vmx_enable_nmi_window', file: 'vmx/vmx.c' }, // 6
  { name: 'vmx_enable_irq_window', file: 'vmx/vmx.c' }, // 7
  { name: 'vmx_vcpu_run', file: 'vmx/vmx.c' }, // 8: VMLAUNCH/VMRESUME
  { name: 'vmx_recover_nmi_blocking', file: 'vmx/vmx.c' }, // 9
  { name: '__vmx_complete_interrupts', file: 'vmx/vmx.c' }, // 10
  { name: '__vmx_handle_exit', file: 'vmx/vmx.c' }, // 11: soft-vNMI unblock and the 1 s break-out
  { name: 'handle_interrupt_window', file: 'vmx/vmx.c' }, // 12
  { name: 'handle_nmi_window', file: 'vmx/vmx.c' }, // 13
  { name: 'handle_external_interrupt_irqoff', file: 'vmx/vmx.c' }, // 14
  { name: 'vmx_do_nmi_irqoff', file: 'vmx/vmx.c' }, // 15: the host's NMI handler after an NMI exit
  { name: 'kvm_emulate_halt', file: 'x86.c' }, // 16
  { name: 'kvm_vcpu_block', file: 'virt/kvm/kvm_main.c' }, // 17
  { name: 'kvm_x2apic_msr_write', file: 'lapic.c' }, // 18: WRMSR exit to the emulated x2APIC
  { name: 'kvm_x2apic_msr_read', file: 'lapic.c' }, // 19
  { name: 'kvm_emulate_hypercall', file: 'x86.c' }, // 20: VMCALL
  { name: 'kvm_apic_set_irq', file: 'lapic.c' }, // 21: an IRQ for the vCPU arrives
  { name: 'kvm_inject_nmi', file: 'x86.c' }, // 22: an NMI for the vCPU arrives
  { name: 'kvm_vcpu_kick', file: 'x86.c' }, // 23
  { name: 'host interrupt handler', file: 'arch/x86/kernel/irq.c' }, // 24: a host IRQ in root operation
  { name: 'handle_preemption_timer', file: 'vmx/vmx.c' }, // 25
  { name: 'kvm_queue_exception (#GP)', file: 'x86.c' }, // 26: an MSR KVM does not emulate
  { name: 'vmx_handle_exit: unexpected exit', file: 'vmx/vmx.c' }, // 27
  { name: 'kvm_vcpu_wake_up', file: 'virt/kvm/kvm_main.c' }, // 28
  { name: 'handle_vmxon', file: 'vmx/nested.c' }, // 29
  { name: 'handle_vmxoff', file: 'vmx/nested.c' }, // 30
  { name: 'handle_vmclear', file: 'vmx/nested.c' }, // 31
  { name: 'handle_vmptrld', file: 'vmx/nested.c' }, // 32
  { name: 'handle_vmread', file: 'vmx/nested.c' }, // 33
  { name: 'handle_vmwrite', file: 'vmx/nested.c' }, // 34
  { name: 'nested_vmx_run', file: 'vmx/nested.c' }, // 35: L1's VMLAUNCH/VMRESUME
  { name: 'nested_vmx_reflect_vmexit', file: 'vmx/nested.c' }, // 36: an exit of L2 goes to L1
  { name: 'vmx_check_nested_events', file: 'vmx/nested.c' }, // 37: an event for L1 exits L2
  { name: 'vmx_preemption_timer_fn', file: 'vmx/nested.c' }, // 38: vmcs12's timer expired
  { name: 'nested_vmx_enter_non_root_mode', file: 'vmx/nested.c' }, // 39: VM-entry failure
  { name: 'vmx_get_vmx_msr', file: 'vmx/nested.c' }, // 40: L1 reads a VMX capability MSR
  { name: 'kvm_emulate_cpuid', file: 'cpuid.c' }, // 41
  { name: 'handle_cr', file: 'vmx/vmx.c' }, // 42: MOV to/from CR0, CR3, CR4, CR8
  { name: 'handle_io', file: 'vmx/vmx.c' }, // 43: IN/OUT (no device: reads all ones)
  { name: 'handle_invlpg', file: 'vmx/vmx.c' }, // 44
  { name: 'handle_rdpmc', file: 'vmx/vmx.c' }, // 45: kvm_emulate_rdpmc
  { name: 'handle_wbinvd', file: 'vmx/vmx.c' }, // 46: kvm_emulate_wbinvd
  { name: 'handle_monitor', file: 'vmx/vmx.c' }, // 47: kvm_emulate_monitor, a NOP
  { name: 'handle_mwait', file: 'vmx/vmx.c' }, // 48: kvm_emulate_mwait, a NOP
  { name: 'kvm_handle_invalid_op', file: 'x86.c' }, // 49: #UD (RDRAND exit)
  { name: 'handle_dr', file: 'vmx/vmx.c' }, // 50: MOV DR exit
  { name: 'vmx_sync_dirty_debug_regs', file: 'vmx/vmx.c' }, // 51: MOV-DR exiting set again
  { name: 'vmx_set_msr (IA32_DEBUGCTL)', file: 'vmx/vmx.c' }, // 52
  { name: 'vmx_get_msr (IA32_DEBUGCTL)', file: 'vmx/vmx.c' }, // 53
  { name: 'handle_invd', file: 'vmx/vmx.c' }, // 54: kvm_emulate_invd, a NOP
  { name: 'svm_hardware_enable', file: 'svm/svm.c' }, // 55: EFER.SVME and VM_HSAVE_PA
  { name: 'svm_vcpu_create', file: 'svm/svm.c' }, // 56: init_vmcb: intercepts, permission maps, int_ctl, guest state
  { name: 'svm_vcpu_run', file: 'svm/svm.c' }, // 57: VMRUN
  { name: 'svm_complete_interrupts', file: 'svm/svm.c' }, // 58: EXITINTINFO re-queued; the IRET completion
  { name: 'svm_handle_exit', file: 'svm/svm.c' }, // 59: an exit KVM cannot handle, or VMEXIT_INVALID
  { name: 'intr_interception', file: 'svm/svm.c' }, // 60: exit 0x60: the host took its interrupt after STGI
  { name: 'nmi_interception', file: 'svm/svm.c' }, // 61: exit 0x61: the host took its NMI after STGI
  { name: 'interrupt_window_interception', file: 'svm/svm.c' }, // 62: exit 0x64 (VINTR): svm_clear_vintr
  { name: 'iret_interception', file: 'svm/svm.c' }, // 63: exit 0x74: awaiting_iret_completion
  { name: 'db_interception', file: 'svm/svm.c' }, // 64: exit 0x41: the NMI single-step ends, or #DB for the guest
  { name: 'io_interception', file: 'svm/svm.c' }, // 65: IOIO (no device: reads all ones)
  { name: 'ud_interception', file: 'svm/svm.c' }, // 66: exit 0x46, or an SVM instruction of the guest: #UD
  { name: 'shutdown_interception', file: 'svm/svm.c' }, // 67: exit 0x7f: KVM_EXIT_SHUTDOWN
  { name: 'ac_interception', file: 'svm/svm.c' }, // 68: exit 0x51: #AC re-injected
  { name: 'nested_svm_vmrun', file: 'svm/nested.c' }, // 69: L1's VMRUN: vmcb12 checked, vmcb02 built
  { name: 'nested_svm_vmexit', file: 'svm/nested.c' }, // 70: an exit of L2 L1 intercepts (nested_svm_exit_handled)
  { name: 'svm_check_nested_events', file: 'svm/nested.c' }, // 71: an event for L1 exits L2
  { name: 'vmload_vmsave_interception', file: 'svm/svm.c' }, // 72: L1's VMLOAD/VMSAVE
  { name: 'stgi_interception', file: 'svm/svm.c' }, // 73: GIF = 1 (the STGI window)
  { name: 'clgi_interception', file: 'svm/svm.c' }, // 74: GIF = 0
  { name: 'cr_interception', file: 'svm/svm.c' }, // 75: MOV CR emulated (no decode assists)
  { name: 'dr_interception', file: 'svm/svm.c' }, // 76: DR intercepts dropped until the next exit
  { name: 'svm_set_msr', file: 'svm/svm.c' }, // 77: EFER, VM_HSAVE_PA
  { name: 'gp_interception', file: 'svm/svm.c' }, // 78: #GP re-injected (the SVM-instruction erratum check)
  { name: 'svm_get_msr', file: 'svm/svm.c' }, // 79: EFER, VM_HSAVE_PA
  { name: 'vcpu_enter_guest: local_irq_enable', file: 'x86.c' }, // 80: above L0, after exit 0x60/0x61
] as const satisfies readonly KvmFunction[];

export const Fn = {
  hardware_enable: 0,
  vmx_vcpu_create: 1,
  process_nmi: 2,
  kvm_check_and_inject_events: 3,
  vmx_inject_nmi: 4,
  vmx_inject_irq: 5,
  vmx_enable_nmi_window: 6,
  vmx_enable_irq_window: 7,
  vmx_vcpu_run: 8,
  vmx_recover_nmi_blocking: 9,
  vmx_complete_interrupts: 10,
  vmx_handle_exit: 11,
  handle_interrupt_window: 12,
  handle_nmi_window: 13,
  handle_external_interrupt_irqoff: 14,
  vmx_do_nmi_irqoff: 15,
  kvm_emulate_halt: 16,
  kvm_vcpu_block: 17,
  x2apic_msr_write: 18,
  x2apic_msr_read: 19,
  kvm_emulate_hypercall: 20,
  kvm_apic_set_irq: 21,
  kvm_inject_nmi: 22,
  kvm_vcpu_kick: 23,
  host_irq: 24,
  handle_preemption_timer: 25,
  inject_gp: 26,
  unexpected_exit: 27,
  kvm_vcpu_wake_up: 28,
  handle_vmxon: 29,
  handle_vmxoff: 30,
  handle_vmclear: 31,
  handle_vmptrld: 32,
  handle_vmread: 33,
  handle_vmwrite: 34,
  nested_vmx_run: 35,
  nested_vmx_reflect_vmexit: 36,
  vmx_check_nested_events: 37,
  vmx_preemption_timer_fn: 38,
  nested_vmx_entry_failure: 39,
  vmx_get_vmx_msr: 40,
  kvm_emulate_cpuid: 41,
  handle_cr: 42,
  handle_io: 43,
  handle_invlpg: 44,
  handle_rdpmc: 45,
  handle_wbinvd: 46,
  handle_monitor: 47,
  handle_mwait: 48,
  kvm_handle_invalid_op: 49,
  handle_dr: 50,
  vmx_sync_dirty_debug_regs: 51,
  vmx_set_debugctl: 52,
  vmx_get_debugctl: 53,
  handle_invd: 54,
  svm_hardware_enable: 55,
  svm_vcpu_create: 56,
  svm_vcpu_run: 57,
  svm_complete_interrupts: 58,
  svm_handle_exit: 59,
  intr_interception: 60,
  nmi_interception: 61,
  interrupt_window_interception: 62,
  iret_interception: 63,
  db_interception: 64,
  io_interception: 65,
  ud_interception: 66,
  shutdown_interception: 67,
  ac_interception: 68,
  nested_svm_vmrun: 69,
  nested_svm_vmexit: 70,
  svm_check_nested_events: 71,
  vmload_vmsave_interception: 72,
  stgi_interception: 73,
  clgi_interception: 74,
  cr_interception: 75,
  dr_interception: 76,
  svm_set_msr: 77,
  gp_interception: 78,
  svm_get_msr: 79,
  local_irq_enable: 80,
} as const;

export function kvmFunction(id: number): KvmFunction {
  return KVM_FUNCTIONS[id] ?? { name: `function ${id}`, file: '?' };
}

/** Linux's RESCHEDULE_VECTOR: the IPI kvm_vcpu_kick sends to force a running vCPU to exit. */
export const RESCHEDULE_VECTOR = 0xfd;
/** Linux's LOCAL_TIMER_VECTOR: the host's timer tick. */
export const LOCAL_TIMER_VECTOR = 0xec;
/** One second, the soft-vNMI break-out (vmx.c __vmx_handle_exit). */
export const SOFT_VNMI_TIMEOUT_NS = 1_000_000_000;
