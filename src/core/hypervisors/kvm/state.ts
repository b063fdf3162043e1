// The KVM model's software state for one vCPU, as plain data. Field names follow the
// kernel's (struct kvm_vcpu_arch, struct vcpu_vmx, struct loaded_vmcs) so the panel and the
// kernel can be read side by side.
import { CR0_INITIAL, CR4_INITIAL } from '../../cpu/state';
import { type ApicState, cloneApic, createApic } from '../../cpu/apic';
import { type NestedVmxState, cloneNestedVmx, createNestedVmx } from './nested-state';
import { type SvmVcpuState, cloneSvmVcpu, createSvmVcpu } from './svm-state';

/** Where KVM is in its run loop (vcpu_run → vcpu_enter_guest → vmx_vcpu_run → exit handling). */
export const KvmPhase = {
  /** hardware_enable / vmx_vcpu_create: VMXON and the vmcs01 set-up. */
  SETUP: 0,
  /** vcpu_enter_guest: process requests (KVM_REQ_NMI, KVM_REQ_EVENT) and inject. */
  ENTER: 1,
  /** vmx_vcpu_run: VM entry. */
  RUN: 2,
  /** After a VM exit: vmx_vcpu_run's tail (vmx_recover_nmi_blocking, vmx_complete_interrupts). */
  EXITED: 3,
  /** __vmx_handle_exit and the exit handler. */
  HANDLE: 4,
  /** kvm_vcpu_block: the vCPU is halted until an event arrives for it. */
  BLOCKED: 5,
  /** KVM stopped the vCPU (an exit it cannot handle). */
  STOPPED: 6,
} as const;
export type KvmPhase = (typeof KvmPhase)[keyof typeof KvmPhase];

export interface KvmState {
  phase: KvmPhase;
  /** Position inside a phase that takes several steps: after an exit, and handling it. */
  stage: number;
  /** enable_vnmi: the vnmi module parameter and the CPU's support for virtual NMIs. */
  enableVnmi: boolean;
  /** vcpu->arch.mp_state: runnable, or halted by an emulated HLT. */
  halted: boolean;
  /** vcpu->arch.nmi_queued: NMIs raised, not yet seen by process_nmi. */
  nmiQueued: number;
  /** vcpu->arch.nmi_pending. */
  nmiPending: number;
  /** vcpu->arch.nmi_injected: an NMI written to VM_ENTRY_INTR_INFO_FIELD, or to re-inject. */
  nmiInjected: boolean;
  /** vcpu->arch.interrupt: an IRQ injected (or to re-inject), with its vector and soft flag. */
  irqInjected: boolean;
  irqVector: number;
  irqSoft: boolean;
  /** vcpu->arch.exception: an exception KVM queued for the guest (kvm_queue_exception). */
  exceptionPending: boolean;
  exceptionVector: number;
  exceptionErrorCode: number;
  /**
   * kvm_queue_exception_p: the payload of a queued #DB (the DR6 bits it reports), 0 for none.
   * It goes to DR6 when the #DB is injected (kvm_deliver_exception_payload) and to the exit
   * qualification when it becomes a VM exit to L1 (nested_vmx_inject_exception_vmexit).
   */
  exceptionPayload: number;
  /**
   * vcpu->arch.exception.injected: the queued exception is in VM_ENTRY_INTR_INFO_FIELD for the
   * coming VM entry. Until that entry happens it blocks nested events like a re-injection
   * (kvm_event_needs_reinjection; a cancelled entry keeps it, vmx_cancel_injection).
   */
  exceptionInjected: boolean;
  /** Events were evaluated for the coming VM entry (for era 2008's once-per-entry evaluation). */
  eventsChecked: boolean;
  /** Pending requests: KVM_REQ_EVENT, KVM_REQ_NMI. */
  reqEvent: boolean;
  reqNmi: boolean;
  /** kvm_check_and_inject_events asked for an immediate exit (KVM_RUN_FORCE_IMMEDIATE_EXIT). */
  immediateExit: boolean;
  /** loaded_vmcs->soft_vnmi_blocked (the soft-vNMI path, enable_vnmi = 0). */
  softVnmiBlocked: boolean;
  /** loaded_vmcs->vnmi_blocked_time, in ns of guest run time. */
  vnmiBlockedTimeNs: number;
  /** loaded_vmcs->entry_time, as TSC cycles. */
  entryTime: number;
  /** The emulated local APIC of the vCPU (the guest's x2APIC). */
  lapic: ApicState;
  /** The last exit reason handled, for the views. */
  lastExitReason: number;
  /** VMCS region and other host memory KVM set up. */
  vmcsAddr: number;
  launched: boolean;
  /** Host interrupts taken by KVM's host kernel, for the views. */
  hostIrqs: number;
  /** The VMCS KVM has loaded (VMPTRLD): vmcs01, or vmcs02 in guest mode. */
  loadedVmcs: number;
  /** KVM's copy of what it wrote to each of its VMCSs, by address then encoding. */
  vmcsCache: Record<number, Record<number, number>>;
  /** vcpu->arch.regs: the guest's general registers, saved at the exit, loaded before entry. */
  guestRegs: Uint32Array;
  /** The guest's registers have been saved since the last exit. */
  regsSaved: boolean;
  /**
   * vcpu->arch.cr0, cr3, cr4: the control registers as the guest (L2 in guest mode) sees them;
   * CR8 is the emulated local APIC's TPR[7:4] (kvm/cr.ts).
   */
  cr0: number;
  cr3: number;
  cr4: number;
  /** struct nested_vmx: the VMX operation KVM emulates for L1. */
  nested: NestedVmxState;
  /** switch_db_regs & KVM_DEBUGREG_WONT_EXIT: handle_dr dropped MOV-DR exiting until the next exit. */
  dbregsWontExit: boolean;
  /** Log lines KVM printed (pr_info / pr_warn), with their step. */
  log: { step: number; text: string }[];
  /** struct vcpu_svm: KVM's SVM event state (used on an AMD processor only). */
  svm: SvmVcpuState;
}

/**
 * kvm_queue_exception(_e): an exception for the guest, injected at the next
 * kvm_check_and_inject_events (KVM_REQ_EVENT).
 */
export function queueKvmException(kvm: KvmState, vector: number, errorCode = 0): void {
  kvm.exceptionPending = true;
  kvm.exceptionVector = vector;
  kvm.exceptionErrorCode = errorCode;
  kvm.reqEvent = true;
}

export function createKvm(enableVnmi: boolean): KvmState {
  return {
    phase: KvmPhase.SETUP,
    stage: 0,
    enableVnmi,
    halted: false,
    nmiQueued: 0,
    nmiPending: 0,
    nmiInjected: false,
    irqInjected: false,
    irqVector: 0,
    irqSoft: false,
    exceptionPending: false,
    exceptionVector: 0,
    exceptionErrorCode: 0,
    exceptionPayload: 0,
    exceptionInjected: false,
    eventsChecked: false,
    reqEvent: true,
    reqNmi: false,
    immediateExit: false,
    softVnmiBlocked: false,
    vnmiBlockedTimeNs: 0,
    entryTime: 0,
    lapic: createApic(),
    lastExitReason: -1,
    vmcsAddr: 0x2000,
    launched: false,
    hostIrqs: 0,
    loadedVmcs: 0x2000,
    vmcsCache: {},
    guestRegs: new Uint32Array(32),
    regsSaved: false,
    cr0: CR0_INITIAL,
    cr3: 0,
    cr4: CR4_INITIAL,
    nested: createNestedVmx(),
    dbregsWontExit: false,
    log: [],
    svm: createSvmVcpu(enableVnmi),
  };
}

export function cloneKvm(k: KvmState): KvmState {
  const vmcsCache: Record<number, Record<number, number>> = {};
  for (const a of Object.keys(k.vmcsCache)) vmcsCache[Number(a)] = { ...k.vmcsCache[Number(a)] };
  return {
    ...k,
    lapic: cloneApic(k.lapic),
    vmcsCache,
    guestRegs: k.guestRegs.slice(),
    nested: cloneNestedVmx(k.nested),
    log: k.log.slice(),
    svm: cloneSvmVcpu(k.svm),
  };
}
