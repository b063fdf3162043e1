// KVM and the guest's debug registers (arch/x86/kvm/vmx/vmx.c handle_dr,
// vmx_sync_dirty_debug_regs, vmx_set_msr/vmx_get_msr of MSR_IA32_DEBUGCTLMSR; vmx/nested.c
// prepare_vmcs02, sync_vmcs02_to_vmcs12, load_vmcs12_host_state for DR7 and IA32_DEBUGCTL).
//
// KVM runs its guests with "MOV-DR exiting" and drops it lazily: the first MOV DR exits,
// handle_dr clears the control and re-enters at the same instruction, which then runs on the
// processor's debug registers (KVM_DEBUGREG_WONT_EXIT); after the next exit,
// vmx_sync_dirty_debug_regs reads them back and sets the control again. The lab's debug
// registers DR0–DR3 and DR6 are not switched between host and guest (nothing in the lab uses
// them on the host side), so KVM's save and restore of them is not modelled; DR7 and
// IA32_DEBUGCTL travel in the VMCS ("load/save debug controls", always on in vmcs01).
import { queueKvmException } from './state';
import { DEBUGCTL, DR6, DR7 } from '../../cpu/debug';
import { CR4 } from '../../cpu/state';
import { queueException } from './handle-system';
import { CPU_BASED, VM_ENTRY, VM_EXIT } from '../../vmx/bits';
import { F, readField, writeField, type VmcsState } from '../../vmx/vmcs';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn } from './functions';
import { rd, wr } from './vmx';

/**
 * handle_dr: an exit for MOV to or from a debug register (exit qualification bits 2:0 the
 * register, bit 4 the direction, 11:8 the GPR). With DR7.GD the #DB (DR6.BD) the exit
 * overtook is queued for the guest ("As the vm-exit takes precedence over the debug trap, we
 * need to emulate the latter"); otherwise, with no host debugging (guest_debug == 0), MOV-DR
 * exiting is cleared and the guest re-executes the instruction without an exit.
 */
export function handleDr(c: KvmContext): KvmStepResult {
  const { kvm } = c;
  const qual = rd(c, F.EXIT_QUALIFICATION);
  // kvm_require_dr: DR4/DR5 with the guest's CR4.DE = 1 do not exist: #UD (the MOV-DR exit
  // takes priority over that #UD on the processor, SDM "Instructions That Cause VM Exits
  // Conditionally", so KVM raises it).
  const dr = qual & 7;
  if ((dr === 4 || dr === 5) && kvm.cr4 & CR4.DE) return queueException(c, 6, Fn.handle_dr, qual);
  const dr7 = rd(c, F.GUEST_DR7);
  if (dr7 & DR7.GD) {
    // kvm_queue_exception_p(vcpu, DB_VECTOR, DR6_BD): the payload goes into the guest's DR6
    // only when the #DB is injected (kvm_deliver_exception_payload), at the MOV, a fault, and
    // the injection clears DR7.GD (kvm_check_and_inject_events); if L1 intercepts #DB the
    // payload is the exit qualification instead and DR6/DR7 stay as they are
    // (nested_vmx_inject_exception_vmexit).
    queueKvmException(kvm, 1);
    kvm.exceptionPayload = DR6.BD;
    return decide(c.h, Fn.handle_dr, qual, 1);
  }
  const proc = rd(c, F.CPU_BASED_VM_EXEC_CONTROL);
  wr(c, F.CPU_BASED_VM_EXEC_CONTROL, (proc & ~CPU_BASED.CPU_BASED_MOV_DR_EXITING) >>> 0);
  kvm.dbregsWontExit = true;
  return decide(c.h, Fn.handle_dr, qual, 0);
}

/**
 * vcpu_enter_guest after vmx_vcpu_run: with KVM_DEBUGREG_WONT_EXIT, vmx_sync_dirty_debug_regs
 * reads the guest's debug registers back and sets MOV-DR exiting again in the loaded VMCS.
 * Returns a decision, or null when there is nothing to do.
 */
export function syncDirtyDebugRegs(c: KvmContext): KvmStepResult | null {
  const { kvm } = c;
  if (!kvm.dbregsWontExit) return null;
  kvm.dbregsWontExit = false;
  wr(
    c,
    F.CPU_BASED_VM_EXEC_CONTROL,
    (rd(c, F.CPU_BASED_VM_EXEC_CONTROL) | CPU_BASED.CPU_BASED_MOV_DR_EXITING) >>> 0,
  );
  return decide(c.h, Fn.vmx_sync_dirty_debug_regs, rd(c, F.GUEST_DR7));
}

/**
 * The IA32_DEBUGCTL bits KVM lets a guest set (vmx_get_supported_debugctl): none here — never
 * BTF, LBR only with a vPMU with LBRs (none), bus-lock detect and RTM debug only with those
 * features (the lab's processor has neither).
 */
const SUPPORTED = 0;

/**
 * vmx_set_msr(MSR_IA32_DEBUGCTLMSR): vmx_is_valid_debugctl drops unsupported BTF/LBR bits
 * quietly and refuses any other bit (#GP); the value goes to GUEST_IA32_DEBUGCTL, and to
 * vmcs12 too when L2 writes it and vmcs12 saves debug controls. Returns false for #GP.
 */
export function setDebugctl(c: KvmContext, lo: number, hi: number, vmcs12: VmcsState | null): boolean {
  const invalid = lo & ~SUPPORTED & ~(DEBUGCTL.BTF | DEBUGCTL.LBR);
  if (hi !== 0 || invalid) return false;
  const value = lo & SUPPORTED;
  if (vmcs12 && readField(vmcs12, F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_SAVE_DEBUG_CONTROLS)
    writeField(vmcs12, F.GUEST_IA32_DEBUGCTL, value);
  wr(c, F.GUEST_IA32_DEBUGCTL, value);
  return true;
}

/** vmx_get_msr(MSR_IA32_DEBUGCTLMSR): GUEST_IA32_DEBUGCTL. */
export function getDebugctl(c: KvmContext): number {
  return rd(c, F.GUEST_IA32_DEBUGCTL) >>> 0;
}

/** L1's DR7 and IA32_DEBUGCTL, read from vmcs01 before vmcs02 is loaded (vcpu->arch.dr7, pre_vmenter_debugctl). */
export function l1DebugState(c: KvmContext): { dr7: number; debugctl: number } {
  return { dr7: rd(c, F.GUEST_DR7), debugctl: rd(c, F.GUEST_IA32_DEBUGCTL) };
}

/**
 * prepare_vmcs02: with nested_run_pending and vmcs12's "load debug controls", L2 gets vmcs12's
 * DR7 and IA32_DEBUGCTL; otherwise it keeps L1's (kvm_set_dr(vcpu, 7, vcpu->arch.dr7),
 * pre_vmenter_debugctl). The pending debug exceptions come from vmcs12 with the rest of the
 * guest state.
 */
export function prepareVmcs02Debug(
  c: KvmContext,
  vmcs12: VmcsState,
  l1: { dr7: number; debugctl: number },
  set: (enc: number, value: number, from: string) => void,
): void {
  if (
    c.kvm.nested.runPending &&
    readField(vmcs12, F.VM_ENTRY_CONTROLS) & VM_ENTRY.VM_ENTRY_LOAD_DEBUG_CONTROLS
  ) {
    set(F.GUEST_DR7, readField(vmcs12, F.GUEST_DR7), 'vmcs12 (load debug controls): prepare_vmcs02');
    set(
      F.GUEST_IA32_DEBUGCTL,
      readField(vmcs12, F.GUEST_IA32_DEBUGCTL),
      'vmcs12 (load debug controls): prepare_vmcs02',
    );
  } else {
    set(F.GUEST_DR7, l1.dr7, "L1's DR7: prepare_vmcs02");
    set(F.GUEST_IA32_DEBUGCTL, l1.debugctl, "L1's IA32_DEBUGCTL (pre_vmenter_debugctl): prepare_vmcs02");
  }
}

/** sync_vmcs02_to_vmcs12: with vmcs12's "save debug controls", L2's DR7 and IA32_DEBUGCTL. */
export function syncVmcs02DebugToVmcs12(c: KvmContext, vmcs12: VmcsState): void {
  if (!(readField(vmcs12, F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_SAVE_DEBUG_CONTROLS)) return;
  writeField(vmcs12, F.GUEST_DR7, rd(c, F.GUEST_DR7));
  writeField(vmcs12, F.GUEST_IA32_DEBUGCTL, rd(c, F.GUEST_IA32_DEBUGCTL));
}

/** load_vmcs12_host_state: L1 continues with DR7 400H and IA32_DEBUGCTL 0, as after a VM exit. */
export function loadVmcs12HostDebug(c: KvmContext): void {
  wr(c, F.GUEST_DR7, 0x400);
  wr(c, F.GUEST_IA32_DEBUGCTL, 0);
}
