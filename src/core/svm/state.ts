// The processor's SVM state: EFER (SVME), VM_HSAVE_PA, the global interrupt flag, whether a
// guest runs (between VMRUN and #VMEXIT), and the VMCB control fields the processor holds
// while it does (AMD APM vol. 2 "Secure Virtual Machine"). Plain data, cloned with the state.
import { EFER_INITIAL } from './bits';
import { ALL_SVM_FEATURES } from './cpuid';

/** A #VMEXIT decided while VMRUN delivered EVENTINJ, taken at the next step (as VMX's pendingExit). */
export interface SvmPendingExit {
  code: number;
  info1: number;
  info2: number;
  intInfo: number;
  intErr: number;
}

export interface SvmState {
  /**
   * The processor is AMD's (scenario `arch: "svm"`): the SVM instructions and MSRs exist, the
   * VMX instructions raise #UD and CR4.VMXE is reserved. On Intel (`vmx`) it is the reverse.
   */
  available: boolean;
  /** CPUID Fn8000_000A EDX: the SVM features of this processor (svm/cpuid.ts). */
  features: number;
  /** EFER (MSR C000_0080), low half (the lab's EFER has no bits above 31). */
  efer: number;
  /** VM_HSAVE_PA (MSR C001_0117): where VMRUN saves the host's state. */
  hsavePa: number;
  /** GIF: 0 holds INTR, NMI (and SMI, INIT) pending. 1 at reset. */
  gif: boolean;
  /** A guest runs (VMRUN entered it; no #VMEXIT since). */
  guest: boolean;
  /** The running guest's VMCB (physical address in the host's memory), or -1. */
  vmcb: number;
  /** Lane of the host that executed VMRUN. */
  hostLane: number;
  /** Lane the last VMRUN's guest runs: hostLane + 1, or deeper for a KVM's vmcb02 (-1: none yet). */
  guestLane: number;
  /** The intercept vectors 0–4 as VMRUN read them (CR, DR, exceptions, misc 1, misc 2). */
  interceptCr: number;
  interceptDr: number;
  interceptExceptions: number;
  intercept3: number;
  intercept4: number;
  /** int_ctl as the processor holds it (V_IRQ, V_NMI, V_NMI_MASK, V_GIF change as it runs). */
  intCtl: number;
  intVector: number;
  /** Host RFLAGS.IF at VMRUN: masks physical INTR in the guest when V_INTR_MASKING = 1. */
  hostIf: boolean;
  /** Host RFLAGS.TF was 1 when VMRUN began: the single-step trap is due after the #VMEXIT. */
  hostSingleStep: boolean;
  tscOffset: number;
  iopm: number;
  msrpm: number;
  pendingExit: SvmPendingExit | null;
  /** Guest RIP of the `work` the last #VMEXIT interrupted, or -1 (as VmxState.workRip). */
  workRip: number;
}

export function createSvm(available = false, features = ALL_SVM_FEATURES): SvmState {
  return {
    available,
    features,
    efer: EFER_INITIAL,
    hsavePa: 0,
    gif: true,
    guest: false,
    vmcb: -1,
    hostLane: 0,
    guestLane: -1,
    interceptCr: 0,
    interceptDr: 0,
    interceptExceptions: 0,
    intercept3: 0,
    intercept4: 0,
    intCtl: 0,
    intVector: 0,
    hostIf: false,
    hostSingleStep: false,
    tscOffset: 0,
    iopm: 0,
    msrpm: 0,
    pendingExit: null,
    workRip: -1,
  };
}

export function cloneSvm(s: SvmState): SvmState {
  return { ...s, pendingExit: s.pendingExit ? { ...s.pendingExit } : null };
}

/** Whether the INTERCEPT_* bit is set in the intercept vectors VMRUN loaded. */
export function intercepted(s: SvmState, bit: number): boolean {
  const word =
    [s.interceptCr, s.interceptDr, s.interceptExceptions, s.intercept3, s.intercept4][bit >> 5] ?? 0;
  return ((word >>> (bit & 31)) & 1) === 1;
}
