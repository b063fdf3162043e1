// KVM's SVM vCPU state (arch/x86/kvm/svm/svm.h struct vcpu_svm), as plain data: the fields
// svm.c's event code keeps in software, named as the kernel names them, and the host memory
// the SVM model uses.

/** KVM's host memory on an AMD processor: vmcb01, the host save area, the permission maps. */
export const KVM_SVM_HOST = {
  /** svm->vmcb01: the guest's VMCB (a page). */
  VMCB01: 0x2000,
  /** Where the host resumes after #VMEXIT (the instruction after VMRUN in __svm_vcpu_run). */
  SVM_VMEXIT: 0x3000,
  /** sd->save_area: VM_HSAVE_PA. */
  HSAVE: 0x5000,
  /** svm->msrpm: the MSR permission map (8 KiB). */
  MSRPM: 0x9000,
  /** iopm_base: the I/O permission map (12 KiB, all ones). */
  IOPM: 0xb000,
} as const;

export const MSRPM_SIZE = 0x2000;
export const IOPM_SIZE = 0x3000;

export interface SvmVcpuState {
  /** The processor runs KVM's guests with vNMI (kvm_amd.vnmi and CPUID 8000_000A EDX[25]). */
  vnmi: boolean;
  /** svm->nmi_masked: the software NMI mask (HF_NMI_MASK in older kernels), without vNMI. */
  nmiMasked: boolean;
  /** svm->awaiting_iret_completion: the IRET intercept fired; NMIs unmask once RIP moves. */
  awaitingIretCompletion: boolean;
  /** svm->nmi_iret_rip: the RIP of the intercepted IRET. */
  nmiIretRip: number;
  /** svm->nmi_singlestep: KVM set RFLAGS.TF|RF to single-step out of an NMI-blocked window. */
  nmiSinglestep: boolean;
  /** svm->nmi_singlestep_guest_rflags: the guest's own TF and RF, to restore. */
  nmiSinglestepGuestRflags: number;
  /** The last exit code handled, for the views (EXITCODE low half). */
  exitCode: number;
  /** What the last svm_enable_nmi_window armed (the IRET intercept, a single-step, ...). */
  nmiWindow: 'iret' | 'singlestep' | 'stgi' | 'none';
}

export function createSvmVcpu(vnmi: boolean): SvmVcpuState {
  return {
    vnmi,
    nmiMasked: false,
    awaitingIretCompletion: false,
    nmiIretRip: 0,
    nmiSinglestep: false,
    nmiSinglestepGuestRflags: 0,
    exitCode: -1,
    nmiWindow: 'none',
  };
}
