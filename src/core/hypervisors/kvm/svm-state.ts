// KVM's SVM vCPU state (arch/x86/kvm/svm/svm.h struct vcpu_svm), as plain data: the fields
// svm.c's event code keeps in software, named as the kernel names them, and the host memory
// the SVM model uses.
import { EFER_INITIAL } from '../../svm/bits';
import type { VmcbControls } from './nested-svm';

/** KVM's host memory on an AMD processor: vmcb01, the host save area, the permission maps. */
export const KVM_SVM_HOST = {
  /** svm->vmcb01: the guest's VMCB (a page); L1's state while L2 runs. */
  VMCB01: 0x2000,
  /** svm->nested.vmcb02: the VMCB KVM runs L2 with (nested SVM). */
  VMCB02: 0x6000,
  /** Where the host resumes after #VMEXIT (the instruction after VMRUN in __svm_vcpu_run). */
  SVM_VMEXIT: 0x3000,
  /** sd->save_area: VM_HSAVE_PA. */
  HSAVE: 0x5000,
  /** svm->msrpm: the MSR permission map (8 KiB). */
  MSRPM: 0x9000,
  /** iopm_base: the I/O permission map (12 KiB, all ones). */
  IOPM: 0xb000,
  /** svm->nested.msrpm: vmcb02's MSR permission map, vmcb01's merged with L1's. */
  MSRPM02: 0xe000,
} as const;

export const MSRPM_SIZE = 0x2000;
export const IOPM_SIZE = 0x3000;

/**
 * struct svm_nested_state: the SVM operation KVM emulates for L1 (arch/x86/kvm/svm/svm.h). Guest
 * mode and nested_run_pending are vcpu->arch's (KvmState.nested.guestMode / runPending, shared
 * with nested VMX).
 */
export interface SvmNestedState {
  /** svm->nested.initialized: vmcb02 allocated (svm_allocate_nested, when L1 sets EFER.SVME). */
  initialized: boolean;
  /** svm->nested.hsave_msr: L1's VM_HSAVE_PA (0 until L1 writes it: VMRUN is then #GP). */
  hsaveMsr: number;
  /** svm->nested.vm_cr_msr: L1's VM_CR MSR. */
  vmCr: number;
  /** svm->nested.vmcb12_gpa: the vmcb12 L2 runs, in L1's memory, or 0 outside guest mode. */
  vmcb12Gpa: number;
  /** svm->nested.last_vmcb12_gpa: the vmcb12 of L1's last VMRUN (0: none yet); for the views. */
  lastVmcb12Gpa: number;
  /** svm->nested.ctl: KVM's copy of vmcb12's control fields (nested_copy_vmcb_control_to_cache). */
  ctl: VmcbControls;
  /** svm->nmi_l1_to_l2: the NMI in vmcb02's EVENTINJ is L1's, injected into L2. */
  nmiL1ToL2: boolean;
  /** Where each vmcb02 field came from, by VMCB offset: for the view. */
  provenance: Record<number, string>;
}

export function emptyControls(): VmcbControls {
  return {
    intercepts: [0, 0, 0, 0, 0],
    intCtl: 0,
    intVector: 0,
    intState: 0,
    eventInj: 0,
    eventInjErr: 0,
    asid: 0,
    nestedCtl: 0,
    msrpmBasePa: 0,
    iopmBasePa: 0,
    nextRip: 0,
  };
}

export interface SvmVcpuState {
  /** svm->vmcb: the VMCB KVM runs now, vmcb01 (L1 or a plain guest) or vmcb02 (L2). */
  vmcb: number;
  /** vcpu->arch.efer: the guest's EFER as it set it (KVM adds SVME in the VMCB's copy). */
  efer: number;
  nested: SvmNestedState;
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
  /**
   * exception.has_error_code of an exception svm_complete_interrupts re-queued from EXITINTINFO
   * (its EV bit), or null for one KVM queued itself (then the vector says).
   */
  requeuedHasError: boolean | null;
  /** The last exit code handled, for the views (EXITCODE low half). */
  exitCode: number;
  /** What the last svm_enable_nmi_window armed (the IRET intercept, a single-step, ...). */
  nmiWindow: 'iret' | 'singlestep' | 'stgi' | 'none';
}

export function createSvmVcpu(vnmi: boolean): SvmVcpuState {
  return {
    vmcb: KVM_SVM_HOST.VMCB01,
    efer: EFER_INITIAL,
    nested: {
      initialized: false,
      hsaveMsr: 0,
      vmCr: 0,
      vmcb12Gpa: 0,
      lastVmcb12Gpa: 0,
      ctl: emptyControls(),
      nmiL1ToL2: false,
      provenance: {},
    },
    vnmi,
    nmiMasked: false,
    awaitingIretCompletion: false,
    nmiIretRip: 0,
    nmiSinglestep: false,
    nmiSinglestepGuestRflags: 0,
    requeuedHasError: null,
    exitCode: -1,
    nmiWindow: 'none',
  };
}

export function cloneSvmVcpu(s: SvmVcpuState): SvmVcpuState {
  const n = s.nested;
  return {
    ...s,
    nested: {
      ...n,
      ctl: { ...n.ctl, intercepts: [...n.ctl.intercepts] },
      provenance: { ...n.provenance },
    },
  };
}
