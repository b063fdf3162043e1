// How KVM decides, while L2 runs, between L0 and L1 (arch/x86/kvm/vmx/nested.c): which
// exits of L2 go up to L1 (nested_vmx_reflect_vmexit with nested_vmx_l0_wants_exit and
// nested_vmx_l1_wants_exit), and which events for L1 become an emulated VM exit from L2
// (vmx_check_nested_events, in the priority order of the SDM table as KVM documents it).
import { l1BitmapBit, l1WantsSystemExit } from './nested-exit-system';
import { acknowledge, deliverableVector } from '../../cpu/apic';
import { DR6 } from '../../cpu/debug';
import { hwExceptionInfo } from '../../cpu/deliver';
import { CPU_BASED, GUEST_INTR_STATE, PIN_BASED, VM_EXIT } from '../../vmx/bits';
import { ExitReason } from '../../vmx/vm-exit';
import { F, type VmcsState, readField } from '../../vmx/vmcs';
import type { KvmContext } from './context';
import { hasInjectableIntr } from './lapic';
import { currentVmcs12 } from './nested-state';
import { nestedVmxVmexit } from './nested';
import type { KvmState } from './state';
import { rd, vmxInterruptBlocked, vmxNmiBlocked, wr } from './vmx';
import { hypervisorNote, noteRule } from '../../causes/why';

function vmcs12Of(kvm: KvmState): VmcsState {
  return currentVmcs12(kvm.nested)!;
}

/** nested_exit_on_intr: L1 asked to exit on external interrupts (vmcs12 pin bit 0). */
export function nestedExitOnIntr(kvm: KvmState): boolean {
  return (readField(vmcs12Of(kvm), F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_EXT_INTR_MASK) !== 0;
}

/** nested_exit_on_nmi: L1 asked to exit on NMIs (vmcs12 pin bit 3). */
export function nestedExitOnNmi(kvm: KvmState): boolean {
  return (readField(vmcs12Of(kvm), F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_NMI_EXITING) !== 0;
}

/** nested_exit_intr_ack_set: L1 set "acknowledge interrupt on exit" in vmcs12. */
export function nestedExitIntrAckSet(kvm: KvmState): boolean {
  return (readField(vmcs12Of(kvm), F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_ACK_INTR_ON_EXIT) !== 0;
}

/** nested_vmx_preemption_timer_pending: vmcs12's timer is on and its hrtimer expired. */
export function nestedPreemptionTimerPending(kvm: KvmState): boolean {
  return (
    kvm.nested.preemptionTimerExpired &&
    (readField(vmcs12Of(kvm), F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER) !== 0
  );
}

/** vmx_has_nested_events: a nested exit KVM must still synthesize (timer, MTF). */
export function vmxHasNestedEvents(kvm: KvmState): boolean {
  return kvm.nested.guestMode && (nestedPreemptionTimerPending(kvm) || kvm.nested.mtfPending);
}

/**
 * vmx_interrupt_blocked in guest mode: an interrupt that L1 intercepts is never blocked by
 * L2's IF or shadows ("the VM exit is not gated by L2's IF"); else L2's state in vmcs02.
 */
export function vmxInterruptBlockedNested(c: KvmContext): boolean {
  if (c.kvm.nested.guestMode && nestedExitOnIntr(c.kvm)) return false;
  return vmxInterruptBlocked(c);
}

/** vmx_nmi_blocked in guest mode: an NMI L1 intercepts is never blocked by L2's state. */
export function vmxNmiBlockedNested(c: KvmContext): boolean {
  if (c.kvm.nested.guestMode && nestedExitOnNmi(c.kvm)) return false;
  return vmxNmiBlocked(c, c.kvm);
}

/** kvm_event_needs_reinjection: an event is being re-injected, so new ones must wait. */
function needsReinjection(kvm: KvmState): boolean {
  return kvm.exceptionInjected || kvm.nmiInjected || kvm.irqInjected;
}

export type NestedCheck =
  | { r: 'none' }
  | { r: 'busy'; why: 'run-pending' | 'reinjection' }
  | { r: 'exit'; reason: number; intrInfo: number };

/**
 * vmx_check_nested_events: the events for L1 that must become a VM exit from L2, in priority
 * order (facts §3.1): MTF, an exception L1 intercepts, the VMX-preemption timer, NMI, INTR.
 * While nested_run_pending (or an event is re-injected) they are blocked: -EBUSY, and the
 * caller forces an immediate exit so they are taken right after the entry ("VM exits can only
 * occur at instruction boundaries").
 */
export function vmxCheckNestedEvents(c: KvmContext): NestedCheck {
  const { kvm } = c;
  const n = kvm.nested;
  // The 'pretend L2 ran' toggle models an L0 that never blocks: the lost injection of seed C.
  const blockExceptions = n.runPending && !c.nested.pretendL2Ran;
  const blockEvents = blockExceptions || needsReinjection(kvm);
  const busy = (): NestedCheck => ({ r: 'busy', why: blockExceptions ? 'run-pending' : 'reinjection' });
  const vmcs12 = vmcs12Of(kvm);
  // "Process exceptions that are higher priority than Monitor Trap Flag": a fault-like
  // exception queued for L2 comes before the MTF exit; a #DB trap (vmx_is_low_priority_db_trap:
  // a payload other than BD, e.g. the single-step trap of an emulated instruction) after it.
  const dbTrap = kvm.exceptionPending && kvm.exceptionVector === 1 ? kvm.exceptionPayload & ~DR6.BD : 0;
  if (n.mtfPending && (!kvm.exceptionPending || dbTrap)) {
    if (blockEvents) return busy();
    // nested_vmx_update_pending_dbg: the trap becomes L2's pending debug exceptions, which
    // prepare_vmcs12 saves in vmcs12 (and nested_vmx_vmexit drops the queued #DB).
    if (dbTrap) wr(c, F.GUEST_PENDING_DBG_EXCEPTIONS, dbTrap);
    return exit(c, ExitReason.MTF, 0);
  }
  if (kvm.exceptionPending) {
    const vector = kvm.exceptionVector;
    if ((readField(vmcs12, F.EXCEPTION_BITMAP) >>> vector) & 1) {
      if (blockExceptions) return busy();
      kvm.exceptionPending = false;
      // nested_vmx_inject_exception_vmexit: a #DB's payload is the exit qualification.
      const qual = kvm.exceptionPayload;
      kvm.exceptionPayload = 0;
      return exit(c, ExitReason.EXCEPTION_NMI, hwExceptionInfo(vector), qual);
    }
    if (blockExceptions) return busy();
    return { r: 'none' };
  }
  if (nestedPreemptionTimerPending(kvm)) {
    if (blockEvents) return busy();
    return exit(c, ExitReason.PREEMPTION_TIMER, 0);
  }
  if (kvm.nmiPending > 0 && !vmxNmiBlockedNested(c)) {
    if (blockEvents) return busy();
    if (!nestedExitOnNmi(kvm)) return { r: 'none' };
    const r = exit(c, ExitReason.EXCEPTION_NMI, 0x80000202);
    // "The NMI-triggered VM exit counts as injection: clear this one and block further NMIs."
    kvm.nmiPending = 0;
    vmxSetNmiMask(c);
    return r;
  }
  if (hasInjectableIntr(kvm) && !vmxInterruptBlockedNested(c)) {
    if (blockEvents) return busy();
    if (!nestedExitOnIntr(kvm)) return { r: 'none' };
    if (!nestedExitIntrAckSet(kvm) || !c.nested.ackOnExit) return exit(c, ExitReason.EXTERNAL_INTERRUPT, 0);
    // The highest-priority deliverable vector of L1's APIC goes into VM_EXIT_INTR_INFO, and
    // only after the emulated exit is it acknowledged (kvm_apic_ack_interrupt: IRR → ISR).
    const vector = deliverableVector(kvm.lapic);
    const r = exit(c, ExitReason.EXTERNAL_INTERRUPT, (0x80000000 | vector) >>> 0);
    acknowledge(kvm.lapic, vector);
    return r;
  }
  return { r: 'none' };
}

function exit(c: KvmContext, reason: number, intrInfo: number, qualification = 0): NestedCheck {
  nestedVmxVmexit(c, reason, intrInfo, qualification);
  return { r: 'exit', reason, intrInfo };
}

/** vmx_set_nmi_mask(vcpu, true) on vmcs01: L1's NMIs are blocked until its IRET. */
function vmxSetNmiMask(c: KvmContext): void {
  const { kvm } = c;
  if (!kvm.enableVnmi) {
    kvm.softVnmiBlocked = true;
    kvm.vnmiBlockedTimeNs = 0;
    return;
  }
  wr(
    c,
    F.GUEST_INTERRUPTIBILITY_INFO,
    rd(c, F.GUEST_INTERRUPTIBILITY_INFO) | GUEST_INTR_STATE.GUEST_INTR_STATE_NMI,
  );
}

/** nested_vmx_l0_wants_exit: exits L0 keeps whatever L1 asked (its interrupts, NMIs, timer). */
export function nestedVmxL0WantsExit(reason: number, intrInfo: number): boolean {
  switch (reason & 0xffff) {
    case ExitReason.EXCEPTION_NMI:
      return (intrInfo & 0x7ff) === 0x202;
    case ExitReason.EXTERNAL_INTERRUPT:
    case ExitReason.PREEMPTION_TIMER:
      return true;
    default:
      return false;
  }
}

/**
 * nested_vmx_exit_handled_msr: with MSR bitmaps in vmcs12, L1's bitmap (in L1's memory) says;
 * without, every MSR access exits to L1.
 */
function l1WantsMsr(c: KvmContext, vmcs12: VmcsState, write: boolean): boolean {
  if (!l1Bits(c, vmcs12, F.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED.CPU_BASED_USE_MSR_BITMAPS)) return true;
  const msr = c.kvm.guestRegs[2];
  let offset: number;
  if (msr <= 0x1fff) offset = write ? 0x800 : 0;
  else if (msr >= 0xc0000000 && msr <= 0xc0001fff) offset = write ? 0xc00 : 0x400;
  else return true;
  const bytes = c.h.lanes[c.guestLane]!.mem.bytes;
  const addr = readField(vmcs12, F.MSR_BITMAP) + offset + ((msr & 0x1fff) >>> 3);
  if (addr < 0 || addr >= bytes.length) return true;
  // The MSR's own bit in L1's bitmap, noted as the decision's input (causes/why.ts).
  return l1BitmapBit(c, write ? 'MSR write bitmap, MSR' : 'MSR read bitmap, MSR', msr, addr, msr & 7) === 1;
}

/** Bits of a vmcs12 control read to decide an exit's route, noted as the decision's input. */
function l1Bits(c: KvmContext, vmcs12: VmcsState, enc: number, mask: number): boolean {
  const set = (readField(vmcs12, enc) & mask) !== 0;
  if (c.h.why)
    hypervisorNote(c.h, c.lane, { k: 'vmcs', owner: c.lane + 1, addr: vmcs12.addr, enc, mask }, set ? 1 : 0);
  return set;
}

/** nested_vmx_l1_wants_exit: whether vmcs12 asks for this exit of L2. */
export function nestedVmxL1WantsExit(c: KvmContext, reason: number, intrInfo: number): boolean {
  const vmcs12 = vmcs12Of(c.kvm);
  // The control of vmcs12 that decides, noted as the decision's input (causes/why.ts).
  const l1Set = (enc: number, mask: number) => l1Bits(c, vmcs12, enc, mask);
  const proc = (mask: number) => l1Set(F.CPU_BASED_VM_EXEC_CONTROL, mask);
  if (reason & 0x80000000) return true; // a VM-entry failure (invalid guest state): L1's
  switch (reason & 0xffff) {
    case ExitReason.EXCEPTION_NMI:
      if ((intrInfo & 0x7ff) === 0x202) return true;
      return l1Set(F.EXCEPTION_BITMAP, 2 ** (intrInfo & 0x1f));
    case ExitReason.EXTERNAL_INTERRUPT:
      return l1Set(F.PIN_BASED_VM_EXEC_CONTROL, PIN_BASED.PIN_BASED_EXT_INTR_MASK);
    case ExitReason.INTERRUPT_WINDOW:
      return proc(CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING);
    case ExitReason.NMI_WINDOW:
      return proc(CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING);
    case ExitReason.HLT:
      return proc(CPU_BASED.CPU_BASED_HLT_EXITING);
    case ExitReason.RDTSC:
      return proc(CPU_BASED.CPU_BASED_RDTSC_EXITING);
    case ExitReason.PAUSE:
      return proc(CPU_BASED.CPU_BASED_PAUSE_EXITING);
    case ExitReason.MTF:
      // nested_vmx_exit_handled_mtf: L1's MTF control, or an MTF exit L1 injected itself
      // (interruption type 7, vector 0), which the hardware delivers whatever the control says.
      return (
        proc(CPU_BASED.CPU_BASED_MONITOR_TRAP_FLAG) ||
        readField(vmcs12, F.VM_ENTRY_INTR_INFO_FIELD) === 0x80000700
      );
    case ExitReason.MSR_READ:
      return l1WantsMsr(c, vmcs12, false);
    case ExitReason.MSR_WRITE:
      return l1WantsMsr(c, vmcs12, true);
    case ExitReason.DR_ACCESS:
      return proc(CPU_BASED.CPU_BASED_MOV_DR_EXITING);
    case ExitReason.PREEMPTION_TIMER:
      return false;
    default:
      // CR access, I/O, INVLPG, RDPMC, MWAIT, MONITOR, WBINVD, RDRAND: by vmcs12's controls;
      // CPUID, INVD, triple fault, VMCALL and the VMX instructions, invalid guest state: always L1's.
      return l1WantsSystemExit(c, vmcs12, reason & 0xffff) ?? true;
  }
}

/**
 * nested_vmx_reflect_vmexit: an exit of L2 goes to L1 unless L0 wants it or L1 does not.
 * Returns the exit as L1 will see it, or null when L0 handles it.
 */
export function nestedVmxReflectVmexit(c: KvmContext): { reason: number; intrInfo: number } | null {
  const reason = rd(c, F.VM_EXIT_REASON, 0xffffffff);
  const intrInfo = rd(c, F.VM_EXIT_INTR_INFO);
  const rule = (fn: string, to: 'L0' | 'L1') => noteRule(c.h, { fn, to, lane: c.lane, reason });
  if (!(reason & 0x80000000)) {
    if (nestedVmxL0WantsExit(reason, intrInfo)) {
      rule('nested_vmx_l0_wants_exit', 'L0');
      return null;
    }
    if (!nestedVmxL1WantsExit(c, reason, intrInfo)) {
      rule('nested_vmx_l1_wants_exit', 'L0');
      return null;
    }
    rule('nested_vmx_l1_wants_exit', 'L1');
  } else rule('nested_vmx_reflect_vmexit', 'L1');
  nestedVmxVmexit(c, reason, reason & 0x80000000 ? 0 : intrInfo, rd(c, F.EXIT_QUALIFICATION));
  return { reason, intrInfo };
}
