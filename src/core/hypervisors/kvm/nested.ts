// KVM's emulation of VMX for its guest (arch/x86/kvm/vmx/nested.c): vmcs12 is KVM's cached
// copy of L1's VMCS (nested-instructions.ts emulates L1's VMX instructions on it),
// nested_vmx_run merges it with vmcs01 into vmcs02 and enters L2, and nested_vmx_vmexit turns
// an exit of L2 into the exit L1 sees. Written against the VMX interface only: KVM reads and
// writes vmcs01/vmcs02 with VMREAD/VMWRITE through its port.
import { RFLAGS } from '../../cpu/state';
import { CPU_BASED, PIN_BASED, SECONDARY_EXEC, VM_EXIT } from '../../vmx/bits';
import { ACTIVITY_MISC, type VmxCaps, vmxCaps } from '../../vmx/capabilities';
import { VmxError, checkControls, checkHostState } from '../../vmx/vm-entry';
import { guestStateFailure } from '../../vmx/guest-state-checks';
import { l1Field } from './nested-exit-system';
import { l1DebugState, loadVmcs12HostDebug, prepareVmcs02Debug, syncVmcs02DebugToVmcs12 } from './debug';
import { EXIT_REASON_FAILED_VMENTRY, ExitReason } from '../../vmx/vm-exit';
import { F, type VmcsState, readField, writeField } from '../../vmx/vmcs';
import { KVM_HOST, type KvmContext, type KvmStepResult, decide } from './context';
import { Fn } from './functions';
import { hasInjectableIntr } from './lapic';
import { currentVmcs12 } from './nested-state';
import { KvmPhase, type KvmState } from './state';
import { rd, wr } from './vmx';
import { emulated, fail, failInvalid, needVmxon } from './nested-instructions';
import { copyShadowToVmcs12 } from './nested-shadow';
import { loadVmcs12HostCrs, prepareVmcs02Crs, syncVmcs02CrsToVmcs12 } from './nested-cr';

/** nested_vmx_run's decision record: d1 = RUN_FAILED when a check failed (d2 = outcome). */
export const RUN_FAILED = 2;

/** VMX_MISC_EMULATED_PREEMPTION_TIMER_RATE: the rate KVM reports to L1 and emulates. */
export const EMULATED_PREEMPTION_TIMER_RATE = 5;

/**
 * nested_vmx_setup_ctls_msrs: the VMX capabilities KVM offers L1 — the processor's, with
 * virtual NMIs only when KVM itself uses them (enable_vnmi) and the VMX-preemption timer
 * always (KVM emulates it with an hrtimer, at rate 5).
 */
export function nestedVmxCaps(kvm: KvmState, hw: VmxCaps): VmxCaps {
  // Lab choice (docs/kvm.md): VMCS shadowing for L1's own guests is not offered (KVM emulates
  // it with a cached shadow vmcs12; the lab does not model that yet).
  return vmxCaps({
    virtualNmis: kvm.enableVnmi && hw.features.virtualNmis,
    preemptionTimer: true,
    preemptionTimerRate: EMULATED_PREEMPTION_TIMER_RATE,
    vmcsShadowing: false,
    // nested_vmx_setup_misc_data: VMX_MISC_VMWRITE_SHADOW_RO_FIELDS, always.
    vmwriteAnyField: true,
    // nested_vmx_setup_misc_data offers HLT and wait-for-SIPI, not shutdown
    // (nested_check_guest_non_reg_state fails any other state). The lab has no SIPI: HLT only.
    activityStates: ACTIVITY_MISC.HLT,
    // What the processor does with an NMI injected into STI blocking holds for vmcs02 too.
    stiBlocksNmiInjection: hw.features.stiBlocksNmiInjection,
  });
}

// ---- nested VM entry -------------------------------------------------------------------------

/** The primary controls KVM never takes from vmcs01 into vmcs02 (prepare_vmcs02_early). */
const L0_ONLY_PROC =
  CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING |
  CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING |
  CPU_BASED.CPU_BASED_TPR_SHADOW;

/**
 * prepare_vmcs02_early and prepare_vmcs02: vmcs02 = vmcs12 merged with vmcs01. Pin controls:
 * vmcs01's OR vmcs12's without the preemption timer (KVM emulates L1's timer), so physical
 * interrupts and NMIs always exit to L0. Primary controls: vmcs01's without the interrupt-
 * and NMI-window bits (L0's windows for L1 stay in vmcs01, inert while L2 runs) OR vmcs12's,
 * and no MSR bitmaps (L0 intercepts every MSR; L1's bitmap is checked when reflecting). The
 * exception bitmap is both; exit controls are L0's; guest state and, while nested_run_pending,
 * the event L1 injects come from vmcs12. Returns where each field came from, for the view.
 */
export function prepareVmcs02(
  c: KvmContext,
  vmcs12: VmcsState,
  vmcs01: Record<number, number>,
  l1Debug = { dr7: 0x400, debugctl: 0 },
): void {
  const v01 = (enc: number) => vmcs01[enc] ?? 0;
  const v12 = (enc: number) => readField(vmcs12, enc);
  const prov = c.kvm.nested.provenance;
  const set = (enc: number, value: number, from: string) => {
    wr(c, enc, value >>> 0);
    prov[enc] = from;
  };
  set(
    F.PIN_BASED_VM_EXEC_CONTROL,
    v01(F.PIN_BASED_VM_EXEC_CONTROL) |
      (v12(F.PIN_BASED_VM_EXEC_CONTROL) & ~PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER),
    'vmcs01 | vmcs12 (preemption timer emulated): prepare_vmcs02_early',
  );
  // KVM never uses I/O bitmaps for L2: every I/O instruction exits (nested_vmx_exit_handled_io
  // then asks vmcs12).
  const proc =
    (((v01(F.CPU_BASED_VM_EXEC_CONTROL) & ~L0_ONLY_PROC) |
      (v12(F.CPU_BASED_VM_EXEC_CONTROL) & ~CPU_BASED.CPU_BASED_USE_MSR_BITMAPS)) &
      ~CPU_BASED.CPU_BASED_USE_IO_BITMAPS) |
    CPU_BASED.CPU_BASED_UNCOND_IO_EXITING;
  set(
    F.CPU_BASED_VM_EXEC_CONTROL,
    proc,
    'vmcs01 without the window bits | vmcs12; MSR bitmaps off; I/O bitmaps off and unconditional I/O exiting: prepare_vmcs02_early',
  );
  // Secondary controls: vmcs01's without VMCS shadowing (the shadow VMCS is L1's: "VMCS
  // shadowing for L2 is emulated for now"), OR vmcs12's of those KVM offers L1.
  set(
    F.SECONDARY_VM_EXEC_CONTROL,
    (v01(F.SECONDARY_VM_EXEC_CONTROL) & ~SECONDARY_EXEC.SECONDARY_EXEC_SHADOW_VMCS) |
      (v12(F.SECONDARY_VM_EXEC_CONTROL) & nestedVmxCaps(c.kvm, c.port.caps).proc2Allowed),
    'vmcs01 without VMCS shadowing | vmcs12: prepare_vmcs02_early',
  );
  set(
    F.EXCEPTION_BITMAP,
    v01(F.EXCEPTION_BITMAP) | v12(F.EXCEPTION_BITMAP),
    'vmcs01 | vmcs12: vmx_update_exception_bitmap',
  );
  set(F.VM_EXIT_CONTROLS, v01(F.VM_EXIT_CONTROLS), "L0's own: prepare_vmcs02_early");
  set(F.VM_ENTRY_CONTROLS, v01(F.VM_ENTRY_CONTROLS) | v12(F.VM_ENTRY_CONTROLS), 'vmcs01 | vmcs12');
  for (const enc of [
    F.HOST_RIP,
    F.HOST_RSP,
    F.HOST_IDTR_BASE,
    F.HOST_SS_SELECTOR,
    F.HOST_CR0,
    F.HOST_CR3,
    F.HOST_CR4,
  ])
    set(enc, v01(enc), "L0's host state: vmx_set_constant_host_state");
  for (const enc of [
    F.GUEST_RIP,
    F.GUEST_RSP,
    F.GUEST_RFLAGS,
    F.GUEST_SS_SELECTOR,
    F.GUEST_IDTR_BASE,
    F.GUEST_INTERRUPTIBILITY_INFO,
    F.GUEST_PENDING_DBG_EXCEPTIONS,
    F.TSC_OFFSET,
  ])
    set(enc, v12(enc), 'vmcs12: prepare_vmcs02');
  // KVM runs its guests active and emulates HLT itself (nested_vmx_run).
  set(F.GUEST_ACTIVITY_STATE, 0, 'L0: active (a halted L2 is emulated by nested_vmx_run)');
  if (c.kvm.nested.runPending) {
    for (const enc of [
      F.VM_ENTRY_INTR_INFO_FIELD,
      F.VM_ENTRY_EXCEPTION_ERROR_CODE,
      F.VM_ENTRY_INSTRUCTION_LEN,
    ])
      set(enc, v12(enc), 'vmcs12 (nested_run_pending): prepare_vmcs02_early');
  } else set(F.VM_ENTRY_INTR_INFO_FIELD, 0, 'L0: prepare_vmcs02_early');
  set(F.VMX_PREEMPTION_TIMER_VALUE, 0, "L0's own (vmcs12's timer is an hrtimer)");
  prepareVmcs02Crs(c, vmcs12);
  prepareVmcs02Debug(c, vmcs12, l1Debug, set);
}

/**
 * vmx_start_preemption_timer: vmcs12's timer runs as an hrtimer at the emulated rate; a value
 * of 0 expires at once (vmx_preemption_timer_fn: "architecturally guaranteed to cause a
 * VMExit prior to executing any instructions in the guest").
 */
function startPreemptionTimer(c: KvmContext, value: number): void {
  const n = c.kvm.nested;
  if (value === 0) {
    n.preemptionTimerExpired = true;
    n.preemptionTimerDeadline = -1;
    c.kvm.reqEvent = true;
    return;
  }
  const period = 2 ** EMULATED_PREEMPTION_TIMER_RATE;
  n.preemptionTimerDeadline = (Math.floor(c.port.tsc() / period) + value) * period;
}

/**
 * nested_vmx_run: L1's VMLAUNCH/VMRESUME. The checks that end in VMfail (SDM "VMLAUNCH/
 * VMRESUME", against the capabilities KVM offers L1), then nested_vmx_enter_non_root_mode:
 * nested_run_pending = 1, vmcs02 built and loaded, vmcs12's timer started; a guest-state check
 * that fails is an emulated VM-entry failure (exit reason 0x80000021 to L1).
 */
export function nestedVmxRun(c: KvmContext, launch: boolean): KvmStepResult {
  const fn = Fn.nested_vmx_run;
  const ud = needVmxon(c, fn);
  if (ud) return ud;
  const { h, kvm } = c;
  const n = kvm.nested;
  const vmcs12 = currentVmcs12(n);
  if (!vmcs12) return emulated(c, fn, failInvalid(c), RUN_FAILED);
  // What L1 wrote through the shadow VMCS comes into vmcs12 first (copy_shadow_to_vmcs12).
  copyShadowToVmcs12(c);
  if (rd(c, F.GUEST_INTERRUPTIBILITY_INFO) & 2)
    return emulated(c, fn, fail(c, VmxError.ENTRY_MOVSS_BLOCKING), RUN_FAILED);
  if (launch && vmcs12.launched) return emulated(c, fn, fail(c, VmxError.VMLAUNCH_NONCLEAR), RUN_FAILED);
  if (!launch && !vmcs12.launched) return emulated(c, fn, fail(c, VmxError.VMRESUME_NONLAUNCHED), RUN_FAILED);
  const caps = nestedVmxCaps(kvm, c.port.caps);
  const controls = checkControls(caps, vmcs12);
  if (controls) {
    kvm.log.push({ step: c.step, text: `nested_vmx_run: VMfailValid(7): ${controls}` });
    return emulated(c, fn, fail(c, VmxError.ENTRY_INVALID_CONTROLS), RUN_FAILED);
  }
  const host = checkHostState(vmcs12);
  if (host) {
    kvm.log.push({ step: c.step, text: `nested_vmx_run: VMfailValid(8): ${host}` });
    return emulated(c, fn, fail(c, VmxError.ENTRY_INVALID_HOST_STATE), RUN_FAILED);
  }
  // nested_vmx_check_guest_state: the hardware model's checks, with what KVM offers L1.
  const guest = guestStateFailure(vmcs12, caps);
  if (guest) {
    // nested_vmx_enter_non_root_mode → vmentry_fail_vmexit: load_vmcs12_host_state and only
    // the exit reason and qualification are written (SDM "VM-Entry Failures During or After
    // Loading Guest State").
    kvm.log.push({
      step: c.step,
      text: `nested_vmx_run: VM-entry failure, invalid guest state: ${guest.reason}`,
    });
    // The vmcs12 fields the failed check read are the decision's inputs (causes/why.ts).
    for (const enc of guest.fields) l1Field(c, vmcs12, enc, 0xffffffff);
    writeField(vmcs12, F.VM_EXIT_REASON, (EXIT_REASON_FAILED_VMENTRY | ExitReason.INVALID_GUEST_STATE) >>> 0);
    writeField(vmcs12, F.EXIT_QUALIFICATION, guest.qualification);
    loadVmcs12HostState(c, vmcs12);
    n.needShadowSync = true;
    return decide(h, Fn.nested_vmx_entry_failure, ExitReason.INVALID_GUEST_STATE);
  }
  n.runPending = true;
  n.l1Injection = readField(vmcs12, F.VM_ENTRY_INTR_INFO_FIELD);
  const vmcs01 = kvm.vmcsCache[KVM_HOST.VMCS01] ?? {};
  // b5861e5cf2fc: re-evaluate L1's events at nested entry if vmcs01 had a window armed or L1
  // has an interrupt pending ("Fix loss of pending IRQ/NMI before entering L2").
  if (
    c.nested.reevaluateOnEntry &&
    ((vmcs01[F.CPU_BASED_VM_EXEC_CONTROL] ?? 0) &
      (CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING | CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING) ||
      hasInjectableIntr(kvm))
  )
    kvm.reqEvent = true;
  // vmx_switch_vmcs(vcpu, &vmx->nested.vmcs02).
  if (!kvm.vmcsCache[KVM_HOST.VMCS02]) {
    c.port.writeRevision(KVM_HOST.VMCS02);
    c.port.vmclear(KVM_HOST.VMCS02);
  }
  const l1Debug = l1DebugState(c);
  c.port.vmptrld(KVM_HOST.VMCS02);
  kvm.loadedVmcs = KVM_HOST.VMCS02;
  kvm.vmcsCache[KVM_HOST.VMCS02] ??= {};
  n.provenance = {};
  prepareVmcs02(c, vmcs12, vmcs01, l1Debug);
  n.guestMode = true;
  // The lane vmcs12 runs: L1's guest, or, when L1 is KVM running its own nested guest, that
  // guest's (lab bookkeeping of whose code runs; the processor does not care).
  n.l2Lane = c.laneRunBy(c.guestLane, vmcs12.addr);
  n.preemptionTimerExpired = false;
  n.preemptionTimerDeadline = -1;
  if (readField(vmcs12, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER)
    startPreemptionTimer(c, readField(vmcs12, F.VMX_PREEMPTION_TIMER_VALUE) >>> 0);
  // Entering a halted L2 that nothing will wake: KVM halts the vCPU (kvm_emulate_halt_noskip).
  if (
    readField(vmcs12, F.GUEST_ACTIVITY_STATE) === 1 &&
    !(n.l1Injection & 0x80000000) &&
    !(readField(vmcs12, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING) &&
    !(
      readField(vmcs12, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING &&
      readField(vmcs12, F.GUEST_RFLAGS) & RFLAGS.IF
    )
  ) {
    n.runPending = false;
    kvm.halted = true;
  }
  return decide(h, fn, launch ? 1 : 0, n.l1Injection);
}

// ---- nested VM exit ----------------------------------------------------------------------

/**
 * load_vmcs12_host_state: L1 resumes at vmcs12's HOST_RIP/HOST_RSP with RFLAGS 0x2 (IF = 0)
 * and no interrupt shadow — written into vmcs01, which is current again.
 */
function loadVmcs12HostState(c: KvmContext, vmcs12: VmcsState): void {
  wr(c, F.GUEST_RIP, readField(vmcs12, F.HOST_RIP));
  wr(c, F.GUEST_RSP, readField(vmcs12, F.HOST_RSP));
  wr(c, F.GUEST_RFLAGS, RFLAGS.FIXED);
  wr(c, F.GUEST_SS_SELECTOR, readField(vmcs12, F.HOST_SS_SELECTOR));
  wr(c, F.GUEST_IDTR_BASE, readField(vmcs12, F.HOST_IDTR_BASE));
  wr(c, F.GUEST_INTERRUPTIBILITY_INFO, rd(c, F.GUEST_INTERRUPTIBILITY_INFO) & ~3);
  wr(c, F.GUEST_ACTIVITY_STATE, 0);
  loadVmcs12HostCrs(c, vmcs12);
  loadVmcs12HostDebug(c);
}

/**
 * vmcs12_save_pending_event: an event injected into L2 and not delivered (KVM's injected
 * queues, filled by __vmx_complete_interrupts from vmcs02) goes into vmcs12's IDT-vectoring
 * information, so that L1 can re-inject it.
 */
function saveL2PendingEvent(kvm: KvmState, vmcs12: VmcsState, reason: number, intrInfo: number): void {
  let info = 0;
  const doubleFault = reason === ExitReason.EXCEPTION_NMI && (intrInfo & 0x7ff) === 0x308;
  if (reason === ExitReason.TRIPLE_FAULT || doubleFault) info = 0;
  else if (kvm.nmiInjected) info = 0x80000202;
  else if (kvm.irqInjected) info = (0x80000000 | (kvm.irqSoft ? 0x400 : 0) | kvm.irqVector) >>> 0;
  writeField(vmcs12, F.IDT_VECTORING_INFO_FIELD, info);
}

/**
 * nested_vmx_vmexit: the exit L1 sees. prepare_vmcs12 syncs L2's state from vmcs02 into vmcs12
 * and writes the exit information (the entry's valid bit cleared, the pending event in
 * IDT_VECTORING_INFO_FIELD); vmcs01 becomes current; load_vmcs12_host_state; what KVM had
 * picked up for L2 is dropped; KVM_REQ_EVENT if L1 has an interrupt or NMI waiting.
 */
export function nestedVmxVmexit(
  c: KvmContext,
  reason: number,
  intrInfo: number,
  qualification: number,
): void {
  const { kvm } = c;
  const n = kvm.nested;
  const vmcs12 = currentVmcs12(n)!;
  // sync_vmcs02_to_vmcs12.
  for (const enc of [
    F.GUEST_RIP,
    F.GUEST_RSP,
    F.GUEST_RFLAGS,
    F.GUEST_SS_SELECTOR,
    F.GUEST_IDTR_BASE,
    F.GUEST_INTERRUPTIBILITY_INFO,
    F.GUEST_PENDING_DBG_EXCEPTIONS,
  ])
    writeField(vmcs12, enc, rd(c, enc));
  writeField(vmcs12, F.GUEST_ACTIVITY_STATE, kvm.halted ? 1 : 0);
  syncVmcs02CrsToVmcs12(c, vmcs12);
  syncVmcs02DebugToVmcs12(c, vmcs12);
  if (
    readField(vmcs12, F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_SAVE_VMX_PREEMPTION_TIMER &&
    readField(vmcs12, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER &&
    !n.runPending
  ) {
    const period = 2 ** EMULATED_PREEMPTION_TIMER_RATE;
    const left =
      n.preemptionTimerDeadline < 0
        ? 0
        : Math.max(0, Math.floor(n.preemptionTimerDeadline / period) - Math.floor(c.port.tsc() / period));
    writeField(vmcs12, F.VMX_PREEMPTION_TIMER_VALUE, left);
  }
  // prepare_vmcs12: the exit information.
  writeField(vmcs12, F.VM_EXIT_REASON, reason >>> 0);
  writeField(vmcs12, F.EXIT_QUALIFICATION, qualification);
  vmcs12.launched = true;
  writeField(vmcs12, F.VM_ENTRY_INTR_INFO_FIELD, readField(vmcs12, F.VM_ENTRY_INTR_INFO_FIELD) & ~0x80000000);
  saveL2PendingEvent(kvm, vmcs12, reason, intrInfo);
  writeField(vmcs12, F.VM_EXIT_INTR_INFO, intrInfo >>> 0);
  writeField(vmcs12, F.VM_EXIT_INTR_ERROR_CODE, intrInfo & 0x800 ? rd(c, F.VM_EXIT_INTR_ERROR_CODE) : 0);
  writeField(vmcs12, F.VM_EXIT_INSTRUCTION_LEN, rd(c, F.VM_EXIT_INSTRUCTION_LEN));
  writeField(vmcs12, F.VMX_INSTRUCTION_INFO, rd(c, F.VMX_INSTRUCTION_INFO));
  writeField(vmcs12, F.IDT_VECTORING_ERROR_CODE, 0);
  // __nested_vmx_vmexit: the hrtimer is cancelled, a pending MTF dropped, vmcs01 loaded.
  n.preemptionTimerDeadline = -1;
  n.preemptionTimerExpired = false;
  n.mtfPending = false;
  n.guestMode = false;
  n.runPending = false;
  c.port.vmptrld(KVM_HOST.VMCS01);
  kvm.loadedVmcs = KVM_HOST.VMCS01;
  loadVmcs12HostState(c, vmcs12);
  // "in case we halted in L2".
  kvm.halted = false;
  n.needShadowSync = true;
  kvm.phase = KvmPhase.ENTER;
  // Drop what was picked up for L2 by __vmx_complete_interrupts: it is in vmcs12 now.
  kvm.nmiInjected = false;
  kvm.irqInjected = false;
  // kvm_clear_exception_queue: an exception still queued for L2 is dropped too.
  kvm.exceptionPending = false;
  kvm.exceptionPayload = 0;
  kvm.exceptionInjected = false;
  if (hasInjectableIntr(kvm) || kvm.nmiPending > 0) kvm.reqEvent = true;
}
