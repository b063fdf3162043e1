// KVM's vCPU run loop (arch/x86/kvm/x86.c vcpu_run → vcpu_enter_guest, and vmx.c
// vmx_vcpu_run / __vmx_handle_exit) as a resumable state machine: each call makes one
// decision, records it in the trace naming the kernel function, and returns. No closure or
// generator holds state: everything is in KvmState.
import { acknowledge, deliverableVector, eoi } from '../../cpu/apic';
import type { Hart } from '../../cpu/hart';
import type { Program } from '../../asm/ir';
import { EventKind } from '../../engine/view';
import { CPU_BASED, GUEST_INTR_STATE, PIN_BASED, VM_ENTRY, VM_EXIT } from '../../vmx/bits';
import { VMX_REVISION } from '../../vmx/capabilities';
import { vmclear, vmenter, vmptrld, vmxon } from '../../vmx/instructions';
import { F } from '../../vmx/vmcs';
import { ExitReason } from '../../vmx/vm-exit';
import { Fn, RESCHEDULE_VECTOR, SOFT_VNMI_TIMEOUT_NS } from './functions';
import { hasInjectableIntr, x2apicMsrRead, x2apicMsrWrite } from './lapic';
import { KvmPhase, type KvmState } from './state';
import {
  handleInterruptWindow,
  handleNmiWindow,
  kvmPinControls,
  rd,
  vmxCompleteInterrupts,
  vmxEnableIrqWindow,
  vmxEnableNmiWindow,
  vmxGetNmiMask,
  vmxInjectIrq,
  vmxInjectNmi,
  vmxInterruptBlocked,
  vmxNmiBlocked,
  wr,
} from './vmx';

/** What kvm_check_and_inject_events did, as bits of the DECISION record's d1. */
export const Inject = {
  REINJECT_NMI: 1,
  REINJECT_IRQ: 2,
  NMI: 4,
  IRQ: 8,
  NMI_WINDOW: 16,
  IRQ_WINDOW: 32,
  IMMEDIATE_EXIT: 64,
  /** The NMI window was armed with the interrupt window (no virtual NMIs, or STI blocking). */
  NMI_WINDOW_VIA_IRQ: 128,
  /** A queued exception was injected (kvm_inject_exception). */
  EXCEPTION: 256,
} as const;

/** Host memory layout of the KVM model: VMXON region, vmcs01, and where VM exits land. */
export const KVM_HOST = { VMXON: 0x1000, VMCS01: 0x2000, VMX_VMEXIT: 0x3000, STACK: 0x8000 } as const;

export interface KvmContext {
  h: Hart;
  kvm: KvmState;
  guestLane: number;
  guest: Program;
  guestMemory: number;
  tscHz: number;
  immediateExit: 'preemption-timer' | 'self-ipi';
  /** '2008': events are evaluated on every entry (vmx_intr_assist); 'current': on KVM_REQ_EVENT. */
  era: 'current' | '2008';
  step: number;
}

/** One step's outcome: a decision was recorded, or the vCPU waits for an event. */
export type KvmStepResult = 'recorded' | 'wait' | 'stopped';

function decide(h: Hart, fn: number, d1 = 0, d2 = 0): KvmStepResult {
  h.out.kind = EventKind.DECISION;
  h.out.rip = h.cpu.rip;
  h.out.d0 = fn;
  h.out.d1 = d1 >>> 0;
  h.out.d2 = d2 >>> 0;
  return 'recorded';
}

function writeRevision(h: Hart, addr: number): void {
  const b = h.mem.bytes;
  b[addr] = VMX_REVISION & 0xff;
  b[addr + 1] = b[addr + 2] = b[addr + 3] = 0;
}

/** hardware_enable and vmx_vcpu_create → init_vmcs: VMXON, vmcs01, controls, host and guest state. */
function setUp(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  if (!h.vmx.on) {
    writeRevision(h, KVM_HOST.VMXON);
    vmxon(h, KVM_HOST.VMXON);
    return decide(h, Fn.hardware_enable, KVM_HOST.VMXON);
  }
  writeRevision(h, KVM_HOST.VMCS01);
  vmclear(h, KVM_HOST.VMCS01);
  vmptrld(h, KVM_HOST.VMCS01);
  kvm.vmcsAddr = KVM_HOST.VMCS01;
  wr(h, F.PIN_BASED_VM_EXEC_CONTROL, kvmPinControls(kvm));
  // HLT exits so KVM can emulate it (kvm_hlt_in_guest is off); x2APIC MSR accesses exit
  // (no MSR bitmaps, no APIC virtualization in this model).
  wr(h, F.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED.CPU_BASED_HLT_EXITING);
  wr(h, F.EXCEPTION_BITMAP, (1 << 18) | (1 << 17)); // #MC and #AC, as init_vmcs
  wr(h, F.VM_EXIT_CONTROLS, VM_EXIT.VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT.VM_EXIT_ACK_INTR_ON_EXIT);
  wr(h, F.VM_ENTRY_CONTROLS, VM_ENTRY.VM_ENTRY_IA32E_MODE);
  wr(h, F.HOST_RIP, KVM_HOST.VMX_VMEXIT);
  wr(h, F.HOST_RSP, KVM_HOST.STACK);
  wr(h, F.HOST_IDTR_BASE, 0);
  // The vCPU starts at the guest program's entry, its stack at the top of its memory, with
  // RFLAGS 0x2 (IF = 0) as after reset, and its IDT.
  wr(h, F.GUEST_RIP, c.guest.entry);
  wr(h, F.GUEST_RSP, c.guestMemory);
  wr(h, F.GUEST_RFLAGS, 0x2);
  wr(h, F.GUEST_IDTR_BASE, c.guest.idtBase);
  wr(h, F.GUEST_INTERRUPTIBILITY_INFO, 0);
  wr(h, F.GUEST_ACTIVITY_STATE, 0);
  kvm.phase = KvmPhase.ENTER;
  return decide(h, Fn.vmx_vcpu_create, KVM_HOST.VMCS01);
}

/** process_nmi: at most two NMIs pending, or one when NMIs are masked or one is in flight. */
function processNmi(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  kvm.reqNmi = false;
  const limit = vmxGetNmiMask(h, kvm) || kvm.nmiInjected ? 1 : 2;
  const before = kvm.nmiPending + kvm.nmiQueued;
  kvm.nmiPending = Math.min(before, limit);
  kvm.nmiQueued = 0;
  if (kvm.nmiPending) kvm.reqEvent = true;
  return decide(h, Fn.process_nmi, kvm.nmiPending, before - kvm.nmiPending);
}

/**
 * kvm_check_and_inject_events: re-injection first, then NMI, then IRQ; a blocked event opens
 * its window; an IRQ that cannot be injected because an NMI was just injected asks for an
 * immediate exit (-EBUSY).
 */
function checkAndInjectEvents(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  kvm.reqEvent = false;
  let did = 0;
  let vector = 0;
  let canInject = true;
  // "New events, other than exceptions, cannot be injected if KVM needs to re-inject a
  // previous event."
  if (kvm.nmiInjected) {
    vmxInjectNmi(h, kvm);
    did |= Inject.REINJECT_NMI;
    canInject = false;
  } else if (kvm.irqInjected) {
    vmxInjectIrq(h, kvm);
    did |= Inject.REINJECT_IRQ;
    vector = kvm.irqVector;
    canInject = false;
  }
  // "Pending exception injected" before SMI, NMI and IRQ; it takes the injection slot.
  if (kvm.exceptionPending && canInject) {
    kvm.exceptionPending = false;
    const v = kvm.exceptionVector;
    const withErr = [8, 10, 11, 12, 13, 14, 17].includes(v);
    wr(h, F.VM_ENTRY_INTR_INFO_FIELD, (0x80000300 | (withErr ? 0x800 : 0) | v) >>> 0);
    if (withErr) wr(h, F.VM_ENTRY_EXCEPTION_ERROR_CODE, kvm.exceptionErrorCode);
    did |= Inject.EXCEPTION;
    vector = v;
    canInject = false;
  }
  let busy = false;
  if (kvm.nmiPending > 0) {
    if (!canInject) busy = true;
    else if (!vmxNmiBlocked(h, kvm)) {
      kvm.nmiPending--;
      kvm.nmiInjected = true;
      vmxInjectNmi(h, kvm);
      did |= Inject.NMI;
      canInject = false;
    }
    if (!busy && kvm.nmiPending > 0)
      did |= vmxEnableNmiWindow(h, kvm) === 'nmi' ? Inject.NMI_WINDOW : Inject.NMI_WINDOW_VIA_IRQ;
  }
  if (!busy && hasInjectableIntr(kvm)) {
    if (!canInject) busy = true;
    else if (!vmxInterruptBlocked(h)) {
      const v = deliverableVector(kvm.lapic);
      acknowledge(kvm.lapic, v); // kvm_cpu_get_interrupt: IRR → ISR
      kvm.irqInjected = true;
      kvm.irqVector = v;
      kvm.irqSoft = false;
      vmxInjectIrq(h, kvm);
      did |= Inject.IRQ;
      vector = v;
    }
    if (!busy && hasInjectableIntr(kvm)) {
      vmxEnableIrqWindow(h);
      did |= Inject.IRQ_WINDOW;
    }
  }
  if (busy) {
    kvm.immediateExit = true;
    did |= Inject.IMMEDIATE_EXIT;
  }
  return decide(h, Fn.kvm_check_and_inject_events, did, vector);
}

/**
 * kvm_vcpu_has_events for a halted vCPU: a newly raised NMI (KVM_REQ_NMI), a pending NMI that
 * vmx_nmi_allowed lets in (not one NMIs are blocked for), or an IRQ the guest would take.
 */
function vcpuHasEvents(c: KvmContext): boolean {
  const { h, kvm } = c;
  if (kvm.nmiQueued > 0 || kvm.nmiInjected || kvm.irqInjected) return true;
  if (kvm.nmiPending > 0 && !vmxNmiBlocked(h, kvm)) return true;
  return hasInjectableIntr(kvm) && (rd(h, F.GUEST_RFLAGS) & 0x200) !== 0;
}

/** vmx_vcpu_run: stamp entry_time for the soft-vNMI clock, force an immediate exit if asked, enter. */
function vcpuRun(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  if (!kvm.enableVnmi && kvm.softVnmiBlocked) kvm.entryTime = h.tsc;
  if (kvm.immediateExit) {
    kvm.immediateExit = false;
    // vcpu_enter_guest (x86.c): with req_immediate_exit it raises KVM_REQ_EVENT again, so the
    // event that had to wait is evaluated after the forced exit (facts §3.9).
    kvm.reqEvent = true;
    // KVM_RUN_FORCE_IMMEDIATE_EXIT: the preemption timer at 0 when usable (exit 52 before any
    // guest instruction, after injection), else a self-IPI (smp_send_reschedule).
    if (c.immediateExit === 'preemption-timer' && h.caps.features.preemptionTimer) {
      wr(h, F.PIN_BASED_VM_EXEC_CONTROL, kvmPinControls(kvm) | PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER);
      wr(h, F.VMX_PREEMPTION_TIMER_VALUE, 0);
    } else {
      h.apic.irr[RESCHEDULE_VECTOR >>> 5] |= 1 << (RESCHEDULE_VECTOR & 31);
    }
  } else if (rd(h, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER) {
    wr(h, F.PIN_BASED_VM_EXEC_CONTROL, kvmPinControls(kvm));
  }
  const r = vmenter(h, !kvm.launched, KVM_HOST.VMX_VMEXIT, c.guestLane);
  if (!r.entered) {
    kvm.phase = KvmPhase.STOPPED;
    kvm.log.push({ step: c.step, text: `vmx_vcpu_run: VM entry failed (${r.reason})` });
    return decide(h, Fn.unexpected_exit, 0xffffffff);
  }
  kvm.launched = true;
  kvm.phase = KvmPhase.EXITED;
  return 'recorded'; // the hardware's VMENTRY (or entry-failure VMEXIT) record
}

/**
 * After the exit, in vmx_vcpu_run and handle_exit_irqoff: account soft-vNMI time, complete
 * interrupted injections, let the host take the interrupt or NMI that caused the exit.
 * `stage` walks through them, one recorded decision per step.
 */
function afterExit(c: KvmContext): KvmStepResult | null {
  const { h, kvm } = c;
  const reason = rd(h, F.VM_EXIT_REASON);
  for (;;) {
    const stage = kvm.stage++;
    if (stage === 0) {
      kvm.lastExitReason = reason;
      // vmx_recover_nmi_blocking: the guest's net run time counts toward the 1 s break-out.
      if (!kvm.enableVnmi && kvm.softVnmiBlocked) {
        const ns = Math.round(((h.tsc - kvm.entryTime) * 1e9) / c.tscHz);
        kvm.vnmiBlockedTimeNs += ns;
        return decide(h, Fn.vmx_recover_nmi_blocking, ns, kvm.vnmiBlockedTimeNs);
      }
    } else if (stage === 1) {
      const info = vmxCompleteInterrupts(h, kvm);
      if (info) return decide(h, Fn.vmx_complete_interrupts, info);
    } else if (stage === 2) {
      const intr = rd(h, F.VM_EXIT_INTR_INFO);
      if ((reason & 0xffff) === ExitReason.EXTERNAL_INTERRUPT && intr & 0x80000000) {
        // handle_external_interrupt_irqoff: the vector acknowledged at the exit runs the host's
        // handler, which ends with EOI to the physical APIC.
        eoi(h.apic);
        kvm.hostIrqs++;
        return decide(h, Fn.handle_external_interrupt_irqoff, intr & 0xff);
      }
      if ((reason & 0xffff) === ExitReason.EXCEPTION_NMI && (intr & 0x7ff) === 0x202) {
        // vmx_do_nmi_irqoff: the host's NMI handler; its IRET ends the host's NMI blocking.
        h.cpu.nmiBlocked = false;
        return decide(h, Fn.vmx_do_nmi_irqoff);
      }
    } else {
      kvm.stage = 0;
      kvm.phase = KvmPhase.HANDLE;
      return null;
    }
  }
}

/**
 * skip_emulated_instruction: GUEST_RIP past the instruction that exited, and "skipping an
 * emulated instruction also counts" as the end of an STI or MOV-SS shadow
 * (vmx_set_interrupt_shadow(vcpu, 0)): after `sti; hlt` the woken vCPU takes its interrupt
 * at once.
 */
function skipInstruction(h: Hart): void {
  wr(h, F.GUEST_RIP, rd(h, F.GUEST_RIP) + rd(h, F.VM_EXIT_INSTRUCTION_LEN));
  const intr = rd(h, F.GUEST_INTERRUPTIBILITY_INFO);
  const shadows = GUEST_INTR_STATE.GUEST_INTR_STATE_STI | GUEST_INTR_STATE.GUEST_INTR_STATE_MOV_SS;
  if (intr & shadows) wr(h, F.GUEST_INTERRUPTIBILITY_INFO, intr & ~shadows);
}

/** __vmx_handle_exit: the soft-vNMI check on every exit, then the exit's handler. */
function handleExit(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  if (kvm.stage === 0) {
    kvm.stage = 1;
    if (!kvm.enableVnmi && kvm.softVnmiBlocked) {
      if (!vmxInterruptBlocked(h)) {
        kvm.softVnmiBlocked = false;
        return decide(h, Fn.vmx_handle_exit, 1);
      }
      if (kvm.vnmiBlockedTimeNs > SOFT_VNMI_TIMEOUT_NS && kvm.nmiPending > 0) {
        kvm.softVnmiBlocked = false;
        kvm.log.push({
          step: c.step,
          text: '__vmx_handle_exit: Breaking out of NMI-blocked state on VCPU 0 after 1 s timeout',
        });
        return decide(h, Fn.vmx_handle_exit, 2, kvm.vnmiBlockedTimeNs);
      }
    }
  }
  kvm.stage = 0;
  kvm.phase = KvmPhase.ENTER;
  const reason = kvm.lastExitReason & 0xffff;
  switch (reason) {
    case ExitReason.EXTERNAL_INTERRUPT:
    case ExitReason.EXCEPTION_NMI:
      return handleExitDone(c);
    case ExitReason.INTERRUPT_WINDOW:
      handleInterruptWindow(h, kvm);
      return decide(h, Fn.handle_interrupt_window);
    case ExitReason.NMI_WINDOW:
      if (!kvm.enableVnmi)
        return stop(c, 'handle_nmi_window: KVM_BUG_ON — NMI-window exit without virtual NMIs');
      handleNmiWindow(h, kvm);
      return decide(h, Fn.handle_nmi_window);
    case ExitReason.HLT:
      // kvm_emulate_halt: skip the HLT, mark the vCPU halted; vcpu_block waits for an event.
      skipInstruction(h);
      kvm.halted = true;
      return decide(h, Fn.kvm_emulate_halt);
    case ExitReason.VMCALL:
      skipInstruction(h);
      h.cpu.regs[0] = h.cpu.regs[1] = 0;
      return decide(h, Fn.kvm_emulate_hypercall);
    case ExitReason.MSR_WRITE: {
      const msr = h.cpu.regs[2];
      const effect = x2apicMsrWrite(kvm, msr, h.cpu.regs[0], h.cpu.regs[4]);
      if (effect.gp) return injectGp(c, msr);
      skipInstruction(h);
      return decide(h, Fn.x2apic_msr_write, msr, h.cpu.regs[0]);
    }
    case ExitReason.MSR_READ: {
      const msr = h.cpu.regs[2];
      const v = x2apicMsrRead(kvm, msr, h.tsc);
      if (!v) return injectGp(c, msr);
      h.cpu.regs[0] = v[0];
      h.cpu.regs[1] = 0;
      h.cpu.regs[4] = v[1];
      h.cpu.regs[5] = 0;
      skipInstruction(h);
      return decide(h, Fn.x2apic_msr_read, msr, v[0]);
    }
    case ExitReason.PREEMPTION_TIMER:
      return decide(h, Fn.handle_preemption_timer);
    default:
      return stop(
        c,
        `vmx_handle_exit: unexpected exit reason 0x${kvm.lastExitReason.toString(16)} (KVM_EXIT_INTERNAL_ERROR to userspace)`,
      );
  }
}

function handleExitDone(c: KvmContext): KvmStepResult {
  // External interrupts and NMIs were handled in handle_exit_irqoff; back to the run loop.
  return enterGuest(c);
}

/** kvm_queue_exception(#GP): KVM injects #GP(0) for an MSR it does not emulate. */
function injectGp(c: KvmContext, msr: number): KvmStepResult {
  const kvm = c.kvm;
  kvm.exceptionPending = true;
  kvm.exceptionVector = 13;
  kvm.exceptionErrorCode = 0;
  kvm.reqEvent = true;
  return decide(c.h, Fn.inject_gp, msr);
}

function stop(c: KvmContext, text: string): KvmStepResult {
  c.kvm.phase = KvmPhase.STOPPED;
  c.kvm.log.push({ step: c.step, text });
  return decide(c.h, Fn.unexpected_exit, c.kvm.lastExitReason);
}

/** vcpu_enter_guest: requests, injection, then vmx_vcpu_run. */
function enterGuest(c: KvmContext): KvmStepResult {
  const { kvm } = c;
  if (kvm.halted) {
    kvm.phase = KvmPhase.BLOCKED;
    return block(c);
  }
  if (kvm.reqNmi) return processNmi(c);
  if (kvm.reqEvent) return checkAndInjectEvents(c);
  if (c.era === '2008' && kvm.stage === 0) {
    // Before KVM_REQ_EVENT (3842d135ff, 2010) the injection logic ran on every VM entry.
    kvm.stage = 1;
    const before = kvm.nmiPending + (hasInjectableIntr(kvm) ? 1 : 0);
    if (before > 0) return checkAndInjectEvents(c);
  }
  kvm.stage = 0;
  kvm.phase = KvmPhase.RUN;
  return vcpuRun(c);
}

/** kvm_vcpu_block: a halted vCPU waits until it has an event, then kvm_vcpu_wake_up. */
function block(c: KvmContext): KvmStepResult {
  const { kvm } = c;
  if (!vcpuHasEvents(c)) return 'wait';
  kvm.halted = false;
  kvm.reqEvent = true;
  kvm.phase = KvmPhase.ENTER;
  return decide(c.h, Fn.kvm_vcpu_wake_up);
}

/** A host interrupt or NMI that reaches the host while KVM runs in root operation. */
function hostEvents(c: KvmContext): KvmStepResult | null {
  const { h, kvm } = c;
  if (h.cpu.nmiPending && !h.cpu.nmiBlocked) {
    h.cpu.nmiPending = false;
    return decide(h, Fn.host_irq, 2, 1);
  }
  const v = deliverableVector(h.apic);
  if (v < 0) return null;
  // The host kernel takes it through its IDT (IRR → ISR), runs the handler, and EOIs.
  acknowledge(h.apic, v);
  eoi(h.apic);
  kvm.hostIrqs++;
  return decide(h, Fn.host_irq, v);
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
  if (kvm.phase === KvmPhase.HANDLE) return handleExit(c);
  if (kvm.phase === KvmPhase.BLOCKED) return block(c);
  return enterGuest(c);
}
