// KVM's nested-VMX state for one vCPU (struct nested_vmx in arch/x86/kvm/vmx/vmx.h), as plain
// data: the VMX operation KVM emulates for its guest (L1), the cached vmcs12s, and what a
// nested VM entry leaves pending.
import { type VmcsState, cloneVmcs } from '../../vmx/vmcs';

/** INVALID_GPA: no current vmcs12. */
export const INVALID_GPA = -1;

export interface NestedVmxState {
  /** nested.vmxon: L1 executed VMXON (KVM emulates VMX operation for it). */
  vmxon: boolean;
  /** nested.vmxon_ptr. */
  vmxonPtr: number;
  /** nested.current_vmptr: the vmcs12 L1 made current with VMPTRLD, or INVALID_GPA. */
  currentVmptr: number;
  /**
   * nested.cached_vmcs12: KVM's copy of each VMCS region L1 has used, by its address in L1's
   * memory. The lab keeps every one (KVM keeps only the current one and writes it back to L1's
   * memory on VMCLEAR or a VMPTRLD of another); the region in L1's memory holds only the
   * revision identifier, as the real format is implementation-specific.
   */
  vmcs12: Record<number, VmcsState>;
  /** is_guest_mode(vcpu): the vCPU runs L2 (vmcs02 is loaded). */
  guestMode: boolean;
  /** nested.nested_run_pending: a nested VM entry is pending completion. */
  runPending: boolean;
  /** nested.preemption_timer_expired. */
  preemptionTimerExpired: boolean;
  /** The hrtimer that emulates vmcs12's VMX-preemption timer: its TSC deadline, or -1. */
  preemptionTimerDeadline: number;
  /** nested.mtf_pending. */
  mtfPending: boolean;
  /** nested.vmcs02: launched once entered (loaded_vmcs->launched). */
  vmcs02Launched: boolean;
  /** The lane vmcs02 runs: the guest of the level whose VMCS is vmcs12. */
  l2Lane: number;
  /**
   * The injection L1 asked for in vmcs12, kept while nested_run_pending (the lab's record, so
   * that the view can show an injection that never reached L2).
   */
  l1Injection: number;
  /** nested.need_vmcs12_to_shadow_sync: copy vmcs12 into the shadow VMCS before L1 runs. */
  needShadowSync: boolean;
  /** Where each vmcs02 field came from (vmcs12, vmcs01, L0), by encoding: for the view. */
  provenance: Record<number, string>;
}

export function createNestedVmx(): NestedVmxState {
  return {
    vmxon: false,
    vmxonPtr: INVALID_GPA,
    currentVmptr: INVALID_GPA,
    vmcs12: {},
    guestMode: false,
    runPending: false,
    preemptionTimerExpired: false,
    preemptionTimerDeadline: -1,
    mtfPending: false,
    vmcs02Launched: false,
    l2Lane: -1,
    l1Injection: 0,
    provenance: {},
    needShadowSync: false,
  };
}

export function cloneNestedVmx(n: NestedVmxState): NestedVmxState {
  const vmcs12: Record<number, VmcsState> = {};
  for (const k of Object.keys(n.vmcs12)) vmcs12[Number(k)] = cloneVmcs(n.vmcs12[Number(k)]);
  return { ...n, vmcs12, provenance: { ...n.provenance } };
}

/** get_vmcs12: the current vmcs12, or null. */
export function currentVmcs12(n: NestedVmxState): VmcsState | null {
  return n.currentVmptr === INVALID_GPA ? null : (n.vmcs12[n.currentVmptr] ?? null);
}
