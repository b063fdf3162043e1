// KVM's vCPU run loop (arch/x86/kvm/x86.c vcpu_run → vcpu_enter_guest, and vmx.c
// vmx_vcpu_run / __vmx_handle_exit) as a resumable state machine: each call makes one
// decision, records it in the trace naming the kernel function, and returns. No closure or
// generator holds state: everything is in KvmState.
import { acknowledge, deliverableVector } from '../../cpu/apic';
import { hwExceptionInfo } from '../../cpu/deliver';
import { CPU_BASED, PIN_BASED, SECONDARY_EXEC, VM_ENTRY, VM_EXIT } from '../../vmx/bits';
import { initVmcsCrs } from './cr';
import { F } from '../../vmx/vmcs';
import { DR6_INIT, RFLAGS } from '../../cpu/state';
import { DR7 } from '../../cpu/debug';
import { Inject, KVM_HOST, type KvmContext, type KvmStepResult, decide } from './context';
import { afterExit, handleExit } from './exit-handling';
import { Fn, RESCHEDULE_VECTOR } from './functions';

export { Inject, KVM_HOST, type KvmContext, type KvmStepResult } from './context';
import { hasInjectableIntr } from './lapic';
import { copyVmcs12ToShadow } from './nested-shadow';
import { KvmPhase } from './state';
import {
  nestedExitOnIntr,
  nestedExitOnNmi,
  vmxCheckNestedEvents,
  vmxHasNestedEvents,
  vmxInterruptBlockedNested,
  vmxNmiBlockedNested,
} from './nested-events';
import {
  kvmApicRead,
  kvmPinControls,
  kvmRead,
  rd,
  vmxEnableIrqWindow,
  vmxEnableNmiWindow,
  vmxGetNmiMask,
  vmxInjectIrq,
  vmxInjectNmi,
  wr,
} from './vmx';

/** hardware_enable and vmx_vcpu_create → init_vmcs: VMXON, vmcs01, controls, host and guest state. */
function setUp(c: KvmContext): KvmStepResult {
  const { h, kvm, port } = c;
  if (kvm.stage === 0) {
    kvm.stage = 1;
    port.writeRevision(KVM_HOST.VMXON);
    port.vmxon(KVM_HOST.VMXON);
    return decide(h, Fn.hardware_enable, KVM_HOST.VMXON);
  }
  kvm.stage = 0;
  port.writeRevision(KVM_HOST.VMCS01);
  port.vmclear(KVM_HOST.VMCS01);
  port.vmptrld(KVM_HOST.VMCS01);
  kvm.vmcsAddr = KVM_HOST.VMCS01;
  kvm.loadedVmcs = KVM_HOST.VMCS01;
  wr(c, F.PIN_BASED_VM_EXEC_CONTROL, kvmPinControls(kvm));
  // vmx_exec_control without EPT and TPR shadow (the processor offers neither): HLT exits so
  // KVM can emulate it (kvm_hlt_in_guest is off); CR3 loads and stores and INVLPG exit for
  // shadow paging; CR8 accesses exit (no TPR shadow); every I/O instruction exits; MWAIT,
  // MONITOR and RDPMC exit. x2APIC MSR accesses exit (no MSR bitmaps, no APIC virtualization
  // in this model). Secondary controls: WBINVD exiting (RDRAND exits only for a guest whose
  // CPUID lacks RDRAND). MOV-DR exiting too (setup_vmcs_config requires it; handle_dr drops it
  // lazily, debug.ts).
  wr(
    c,
    F.CPU_BASED_VM_EXEC_CONTROL,
    CPU_BASED.CPU_BASED_HLT_EXITING |
      CPU_BASED.CPU_BASED_CR3_LOAD_EXITING |
      CPU_BASED.CPU_BASED_CR3_STORE_EXITING |
      CPU_BASED.CPU_BASED_INVLPG_EXITING |
      CPU_BASED.CPU_BASED_CR8_LOAD_EXITING |
      CPU_BASED.CPU_BASED_CR8_STORE_EXITING |
      CPU_BASED.CPU_BASED_UNCOND_IO_EXITING |
      CPU_BASED.CPU_BASED_MWAIT_EXITING |
      CPU_BASED.CPU_BASED_MONITOR_EXITING |
      CPU_BASED.CPU_BASED_RDPMC_EXITING |
      CPU_BASED.CPU_BASED_MOV_DR_EXITING |
      CPU_BASED.CPU_BASED_ACTIVATE_SECONDARY_CONTROLS,
  );
  wr(c, F.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC.SECONDARY_EXEC_WBINVD_EXITING);
  initVmcsCrs(c);
  wr(c, F.EXCEPTION_BITMAP, (1 << 18) | (1 << 17)); // #MC and #AC, as init_vmcs
  // DR7 and IA32_DEBUGCTL travel in the VMCS: "save debug controls" and "load debug controls"
  // are required controls of setup_vmcs_config.
  wr(
    c,
    F.VM_EXIT_CONTROLS,
    VM_EXIT.VM_EXIT_HOST_ADDR_SPACE_SIZE |
      VM_EXIT.VM_EXIT_ACK_INTR_ON_EXIT |
      VM_EXIT.VM_EXIT_SAVE_DEBUG_CONTROLS,
  );
  wr(c, F.VM_ENTRY_CONTROLS, VM_ENTRY.VM_ENTRY_IA32E_MODE | VM_ENTRY.VM_ENTRY_LOAD_DEBUG_CONTROLS);
  wr(c, F.GUEST_DR7, 0x400);
  wr(c, F.GUEST_IA32_DEBUGCTL, 0);
  wr(c, F.HOST_RIP, KVM_HOST.VMX_VMEXIT);
  wr(c, F.HOST_RSP, KVM_HOST.STACK);
  wr(c, F.HOST_IDTR_BASE, c.hostIdt);
  // The vCPU starts at the guest program's entry, its stack at the top of its memory, with
  // RFLAGS 0x2 (IF = 0) as after reset, and its IDT.
  wr(c, F.GUEST_RIP, c.guest.entry);
  wr(c, F.GUEST_RSP, c.guestMemory);
  wr(c, F.GUEST_RFLAGS, 0x2);
  wr(c, F.GUEST_IDTR_BASE, c.guest.idtBase);
  wr(c, F.GUEST_INTERRUPTIBILITY_INFO, 0);
  wr(c, F.GUEST_ACTIVITY_STATE, 0);
  kvm.phase = KvmPhase.ENTER;
  return decide(h, Fn.vmx_vcpu_create, KVM_HOST.VMCS01);
}

/** process_nmi: at most two NMIs pending, or one when NMIs are masked or one is in flight. */
function processNmi(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  kvm.reqNmi = false;
  const limit = vmxGetNmiMask(c, kvm) || kvmRead(c, 'nmi_injected', kvm.nmiInjected) ? 1 : 2;
  const before = kvmRead(c, 'nmi_pending', kvm.nmiPending) + kvmRead(c, 'nmi_queued', kvm.nmiQueued);
  kvm.nmiPending = Math.min(before, limit);
  kvm.nmiQueued = 0;
  if (kvm.nmiPending) kvm.reqEvent = true;
  return decide(h, Fn.process_nmi, kvm.nmiPending, before - kvm.nmiPending);
}

/**
 * kvm_check_and_inject_events: in guest mode the nested events first (vmx_check_nested_events:
 * an event for L1 becomes an emulated VM exit from L2, recorded as its own step); then
 * re-injection, then NMI, then IRQ; a blocked event opens its window; an event that cannot be
 * injected now (-EBUSY: an event is already being injected, a nested entry is pending, or L1
 * must see the event as a VM exit) asks for an immediate exit.
 */
function checkAndInjectEvents(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  const nested = kvm.nested;
  kvm.reqEvent = false;
  kvm.eventsChecked = true;
  let nestedBusy = false;
  if (nested.guestMode) {
    const r = vmxCheckNestedEvents(c);
    if (r.r === 'exit') {
      // The rest of kvm_check_and_inject_events runs for L1, as the next step.
      kvm.reqEvent = true;
      return decide(h, Fn.vmx_check_nested_events, r.reason, r.intrInfo);
    }
    nestedBusy = r.r === 'busy';
  }
  let did = 0;
  let vector = 0;
  let canInject = true;
  // "New events, other than exceptions, cannot be injected if KVM needs to re-inject a
  // previous event."
  if (kvmRead(c, 'exception.injected', kvm.exceptionInjected)) {
    // kvm_inject_exception again: the entry that was to deliver it has not happened yet.
    wr(c, F.VM_ENTRY_INTR_INFO_FIELD, hwExceptionInfo(kvm.exceptionVector));
    did |= Inject.EXCEPTION;
    vector = kvm.exceptionVector;
    canInject = false;
  } else if (kvmRead(c, 'nmi_injected', kvm.nmiInjected)) {
    vmxInjectNmi(c, kvm);
    did |= Inject.REINJECT_NMI;
    canInject = false;
  } else if (kvmRead(c, 'interrupt.injected', kvm.irqInjected)) {
    vmxInjectIrq(c, kvm);
    did |= Inject.REINJECT_IRQ;
    vector = kvm.irqVector;
    canInject = false;
  }
  let busy = false;
  if (!nestedBusy) {
    // "Pending exception injected" before SMI, NMI and IRQ; it takes the injection slot.
    if (kvmRead(c, 'exception.pending', kvm.exceptionPending) && canInject) {
      kvm.exceptionPending = false;
      kvm.exceptionInjected = true;
      const v = kvm.exceptionVector;
      const info = hwExceptionInfo(v);
      // kvm_deliver_exception_payload: a #DB's payload replaces DR6's B3–B0, and its other
      // bits are set (bit 12, "enabled breakpoint", is not a DR6 bit).
      if (v === 1 && kvm.exceptionPayload) {
        const dr6 = c.h.cpu.dr[12];
        c.h.cpu.dr[12] = ((dr6 & ~0xf) | DR6_INIT | (kvm.exceptionPayload & ~0x1000)) >>> 0;
      }
      // Injecting a #DB clears DR7.GD, as the processor's own delivery does, so that the
      // handler can use the debug registers.
      if (v === 1) wr(c, F.GUEST_DR7, (rd(c, F.GUEST_DR7) & ~DR7.GD) >>> 0);
      kvm.exceptionPayload = 0;
      // "Intel SDM 17.3.1.1": a fault-class exception is delivered with RF set in the
      // pushed RFLAGS; hardware injection pushes RFLAGS as it is, so KVM sets RF itself
      // (exception_type: not #DB, #BP, #OF, #DF, #MC).
      if (![1, 3, 4, 8, 18].includes(v)) wr(c, F.GUEST_RFLAGS, rd(c, F.GUEST_RFLAGS) | RFLAGS.RF);
      wr(c, F.VM_ENTRY_INTR_INFO_FIELD, info);
      if (info & 0x800) wr(c, F.VM_ENTRY_EXCEPTION_ERROR_CODE, kvm.exceptionErrorCode);
      did |= Inject.EXCEPTION;
      vector = v;
      canInject = false;
    }
    if (kvmRead(c, 'nmi_pending', kvm.nmiPending) > 0) {
      // vmx_nmi_allowed: -EBUSY while a nested entry is pending or when L1 must see the NMI as
      // a VM exit; else whether the guest (L2's state in guest mode) blocks NMIs.
      const nmiBusy =
        kvmRead(c, 'nested_run_pending', nested.runPending) ||
        (kvmRead(c, 'guest_mode', nested.guestMode) && nestedExitOnNmi(kvm));
      if (!canInject) busy = true;
      else if (nmiBusy) nestedBusy = true;
      else if (!vmxNmiBlockedNested(c)) {
        kvm.nmiPending--;
        kvm.nmiInjected = true;
        vmxInjectNmi(c, kvm);
        did |= Inject.NMI;
        canInject = false;
      }
      if (!busy && !nestedBusy && kvm.nmiPending > 0)
        did |= vmxEnableNmiWindow(c, kvm) === 'nmi' ? Inject.NMI_WINDOW : Inject.NMI_WINDOW_VIA_IRQ;
    }
    if (!busy && !nestedBusy && kvmApicRead(c, hasInjectableIntr(kvm))) {
      // vmx_interrupt_allowed: the same -EBUSY cases, else L2's (or L1's) IF and shadows.
      const irqBusy =
        kvmRead(c, 'nested_run_pending', nested.runPending) ||
        (kvmRead(c, 'guest_mode', nested.guestMode) && nestedExitOnIntr(kvm));
      if (!canInject) busy = true;
      else if (irqBusy) nestedBusy = true;
      else if (!vmxInterruptBlockedNested(c)) {
        const v = deliverableVector(kvm.lapic);
        acknowledge(kvm.lapic, v); // kvm_cpu_get_interrupt: IRR → ISR
        kvm.irqInjected = true;
        kvm.irqVector = v;
        kvm.irqSoft = false;
        vmxInjectIrq(c, kvm);
        did |= Inject.IRQ;
        vector = v;
      }
      if (!busy && !nestedBusy && hasInjectableIntr(kvm)) {
        vmxEnableIrqWindow(c);
        did |= Inject.IRQ_WINDOW;
      }
    }
    // A nested exit KVM must still synthesize (the preemption timer, MTF) comes right after
    // the entry (nested_ops->has_events).
    if (vmxHasNestedEvents(kvm)) nestedBusy = true;
  }
  if (busy) {
    kvm.immediateExit = true;
    did |= Inject.IMMEDIATE_EXIT;
  }
  if (nestedBusy) {
    // Before d6185f20 (2011) nothing was done here: the event waited for L2's next exit.
    if (c.nested.immediateExit) {
      kvm.immediateExit = true;
      did |= Inject.IMMEDIATE_EXIT;
    }
    did |= Inject.NESTED_BUSY;
  }
  return decide(h, Fn.kvm_check_and_inject_events, did, vector);
}

/**
 * kvm_vcpu_has_events for a halted vCPU: a newly raised NMI (KVM_REQ_NMI), a pending NMI that
 * vmx_nmi_allowed lets in (not one NMIs are blocked for), or an IRQ the guest would take.
 */
function vcpuHasEvents(c: KvmContext): boolean {
  const { kvm } = c;
  if (kvm.nmiQueued > 0 || kvm.nmiInjected || kvm.irqInjected) return true;
  // In guest mode, the nested events too (nested_ops->has_events), and an event L1 intercepts
  // is never blocked by L2's state.
  if (vmxHasNestedEvents(kvm)) return true;
  if (kvm.nmiPending > 0 && !vmxNmiBlockedNested(c)) return true;
  return hasInjectableIntr(kvm) && !vmxInterruptBlockedNested(c);
}

/** vmx_vcpu_run: stamp entry_time for the soft-vNMI clock, force an immediate exit if asked, enter. */
function vcpuRun(c: KvmContext): KvmStepResult {
  const { h, kvm, port } = c;
  if (!kvm.enableVnmi && kvm.softVnmiBlocked) kvm.entryTime = port.tsc();
  if (kvm.immediateExit) {
    kvm.immediateExit = false;
    // vcpu_enter_guest (x86.c): with req_immediate_exit it raises KVM_REQ_EVENT again, so the
    // event that had to wait is evaluated after the forced exit (facts §3.9).
    kvm.reqEvent = true;
    // KVM_RUN_FORCE_IMMEDIATE_EXIT: the preemption timer at 0 when usable (exit 52 before any
    // guest instruction, after injection), else a self-IPI (smp_send_reschedule).
    if (c.immediateExit === 'preemption-timer' && port.caps.features.preemptionTimer) {
      wr(
        c,
        F.PIN_BASED_VM_EXEC_CONTROL,
        rd(c, F.PIN_BASED_VM_EXEC_CONTROL) | PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
      );
      wr(c, F.VMX_PREEMPTION_TIMER_VALUE, 0);
    } else {
      port.selfIpi(RESCHEDULE_VECTOR); // smp_send_reschedule to this CPU, interrupts disabled
    }
  } else if (rd(c, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER) {
    wr(
      c,
      F.PIN_BASED_VM_EXEC_CONTROL,
      rd(c, F.PIN_BASED_VM_EXEC_CONTROL) & ~PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER,
    );
  }
  const nested = kvm.nested;
  // In guest mode the loaded VMCS is vmcs02, and the guest it runs is L2.
  const launch = nested.guestMode ? !nested.vmcs02Launched : !kvm.launched;
  const lane = nested.guestMode ? nested.l2Lane : c.guestLane;
  // vmx_prepare_switch_to_guest → nested_sync_vmcs12_to_shadow, before L1 runs.
  if (nested.needShadowSync && !nested.guestMode) copyVmcs12ToShadow(c);
  // __vmx_vcpu_run: the guest's registers go back into the processor.
  port.loadGuestRegs(kvm.guestRegs);
  kvm.regsSaved = false;
  const r = port.vmenter(launch, lane);
  if (!r.entered) {
    kvm.phase = KvmPhase.STOPPED;
    kvm.log.push({ step: c.step, text: `vmx_vcpu_run: VM entry failed (${r.reason})` });
    return decide(h, Fn.unexpected_exit, 0xffffffff);
  }
  // The entry delivered the injected exception (a delivery that itself exits comes back
  // through the IDT-vectoring information).
  kvm.exceptionInjected = false;
  if (nested.guestMode) {
    nested.vmcs02Launched = true;
    // vmx_vcpu_run: the nested entry has happened (whether or not L2 then exits at once).
    nested.runPending = false;
  } else kvm.launched = true;
  kvm.eventsChecked = false;
  kvm.phase = KvmPhase.EXITED;
  // At L0 the step's record is the hardware's VMENTRY (or entry-failure VMEXIT). Above L0 the
  // VMLAUNCH/VMRESUME trapped and the level below ran the guest; KVM is back after its exit.
  return port.level === 0 ? 'recorded' : decide(h, Fn.vmx_vcpu_run, launch ? 1 : 0, lane);
}

/** vcpu_enter_guest: requests, injection, then vmx_vcpu_run. */
function enterGuest(c: KvmContext): KvmStepResult {
  const { kvm } = c;
  if (kvm.halted) {
    kvm.phase = KvmPhase.BLOCKED;
    return block(c);
  }
  if (kvm.reqNmi) return processNmi(c);
  // Before KVM_REQ_EVENT (3842d135ff, 2010) the injection logic (vmx_intr_assist) ran once on
  // every VM entry; since, only when requested.
  const everyEntry =
    c.era === '2008' &&
    !kvm.eventsChecked &&
    (kvm.nmiPending > 0 ||
      kvm.nmiInjected ||
      kvm.irqInjected ||
      kvm.exceptionPending ||
      hasInjectableIntr(kvm));
  if (kvm.reqEvent || everyEntry) return checkAndInjectEvents(c);
  kvm.phase = KvmPhase.RUN;
  return vcpuRun(c);
}

/** kvm_vcpu_block: a halted vCPU waits until it has an event, then kvm_vcpu_wake_up. */
function block(c: KvmContext): KvmStepResult {
  const { kvm } = c;
  if (!vcpuHasEvents(c)) return 'wait';
  // vcpu_block: "Evaluate nested events before exiting the halted state", so that vmcs12 records
  // the HLT activity state.
  if (kvm.nested.guestMode) {
    const r = vmxCheckNestedEvents(c);
    if (r.r === 'exit') {
      kvm.reqEvent = true;
      return decide(c.h, Fn.vmx_check_nested_events, r.reason, r.intrInfo);
    }
  }
  kvm.halted = false;
  kvm.reqEvent = true;
  kvm.phase = KvmPhase.ENTER;
  return decide(c.h, Fn.kvm_vcpu_wake_up);
}

/** A host interrupt or NMI that reaches the host while KVM runs in root operation. */
function hostEvents(c: KvmContext): KvmStepResult | null {
  const v = c.port.hostInterrupt();
  if (v < 0) return null;
  if (v === 2) return decide(c.h, Fn.host_irq, 2, 1);
  c.kvm.hostIrqs++;
  return decide(c.h, Fn.host_irq, v);
}

/**
 * The host kernel's interrupt handler of a KVM above L0: the processor delivered `vector`
 * through KVM's IDT (the level below injected it). It runs with interrupts off (an interrupt
 * gate), EOIs its APIC — a WRMSR that traps to the level below — and returns with IRET.
 */
export function kvmHostIrq(c: KvmContext, vector: number): KvmStepResult {
  if (vector === 2) return decide(c.h, Fn.host_irq, 2, 1);
  c.kvm.hostIrqs++;
  c.port.hostEoi();
  return decide(c.h, Fn.host_irq, vector);
}

/** One step of KVM in root operation. */
export function kvmStep(c: KvmContext): KvmStepResult {
  const { kvm } = c;
  if (kvm.phase === KvmPhase.STOPPED) return 'stopped';
  if (kvm.phase === KvmPhase.SETUP) return setUp(c);
  if (kvm.phase !== KvmPhase.EXITED) {
    const host = hostEvents(c);
    if (host) return host;
  }
  if (kvm.phase === KvmPhase.EXITED) {
    const r = afterExit(c);
    if (r) return r;
  }
  if (kvm.phase === KvmPhase.HANDLE) return handleExit(c) ?? enterGuest(c);
  if (kvm.phase === KvmPhase.BLOCKED) return block(c);
  return enterGuest(c);
}
