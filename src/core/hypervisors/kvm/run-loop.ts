// KVM's vCPU run loop (arch/x86/kvm/x86.c vcpu_run → vcpu_enter_guest,
// kvm_check_and_inject_events, process_nmi, kvm_vcpu_block) as a resumable state machine: each
// call makes one decision, records it in the trace naming the kernel function, and returns. No
// closure or generator holds state: everything is in KvmState. The vendor's code (vmx.c or
// svm.c) is reached through the kvm_x86_ops hooks of the context (x86-ops.ts).
import { acknowledge, deliverableVector } from '../../cpu/apic';
import { DR6_INIT, RFLAGS } from '../../cpu/state';
import { DR7 } from '../../cpu/debug';
import { Inject, type KvmContext, type KvmStepResult, decide } from './context';
import { Fn } from './functions';

export { Inject, KVM_HOST, type KvmContext, type KvmStepResult } from './context';
import { hasInjectableIntr } from './lapic';
import { KvmPhase } from './state';
import { kvmApicRead, kvmRead } from './vmx';

/**
 * process_nmi: at most two NMIs pending, or one when NMIs are masked or one is in flight; one
 * fewer when an NMI is already parked in hardware (is_vnmi_pending), and one is parked there
 * now when the vendor can (set_vnmi_pending: SVM's V_NMI_PENDING). d1 = NMIs left pending in
 * software, d2 = NMIs dropped, and bit 8 of d1 = one was parked in hardware.
 */
function processNmi(c: KvmContext): KvmStepResult {
  const { h, kvm, ops } = c;
  kvm.reqNmi = false;
  let limit = ops.get_nmi_mask(c) || kvmRead(c, 'nmi_injected', kvm.nmiInjected) ? 1 : 2;
  if (ops.is_vnmi_pending(c)) limit--;
  const before = kvmRead(c, 'nmi_pending', kvm.nmiPending) + kvmRead(c, 'nmi_queued', kvm.nmiQueued);
  kvm.nmiPending = Math.min(before, limit);
  kvm.nmiQueued = 0;
  const dropped = before - kvm.nmiPending;
  let parked = 0;
  if (kvm.nmiPending && ops.set_vnmi_pending(c)) {
    kvm.nmiPending--;
    parked = 0x100;
  }
  if (kvm.nmiPending) kvm.reqEvent = true;
  return decide(h, Fn.process_nmi, kvm.nmiPending | parked, dropped);
}

/**
 * kvm_check_and_inject_events: in guest mode the nested events first (nested_ops->check_events:
 * an event for L1 becomes an emulated VM exit from L2, recorded as its own step); then
 * re-injection, then NMI, then IRQ; a blocked event opens its window; an event that cannot be
 * injected now (-EBUSY: an event is already being injected, a nested entry is pending, or L1
 * must see the event as a VM exit) asks for an immediate exit.
 */
function checkAndInjectEvents(c: KvmContext): KvmStepResult {
  const { h, kvm, ops } = c;
  const nested = kvm.nested;
  kvm.reqEvent = false;
  kvm.eventsChecked = true;
  let nestedBusy = false;
  if (nested.guestMode) {
    const r = ops.check_nested_events(c);
    if (r.r === 'exit') {
      // The rest of kvm_check_and_inject_events runs for L1, as the next step.
      kvm.reqEvent = true;
      return decide(h, ops.check_nested_events_fn, r.reason, r.intrInfo);
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
    ops.inject_exception(c, true);
    did |= Inject.EXCEPTION;
    vector = kvm.exceptionVector;
    canInject = false;
  } else if (kvmRead(c, 'nmi_injected', kvm.nmiInjected)) {
    ops.inject_nmi(c);
    did |= Inject.REINJECT_NMI;
    canInject = false;
  } else if (kvmRead(c, 'interrupt.injected', kvm.irqInjected)) {
    ops.inject_irq(c, true);
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
      // kvm_deliver_exception_payload: a #DB's payload replaces DR6's B3–B0, and its other
      // bits are set (bit 12, "enabled breakpoint", is not a DR6 bit).
      if (v === 1 && kvm.exceptionPayload) {
        const dr6 = c.h.cpu.dr[12];
        c.h.cpu.dr[12] = ((dr6 & ~0xf) | DR6_INIT | (kvm.exceptionPayload & ~0x1000)) >>> 0;
      }
      // Injecting a #DB clears DR7.GD, as the processor's own delivery does, so that the
      // handler can use the debug registers.
      if (v === 1) ops.set_dr7(c, (ops.get_dr7(c) & ~DR7.GD) >>> 0);
      kvm.exceptionPayload = 0;
      // "Intel SDM 17.3.1.1": a fault-class exception is delivered with RF set in the
      // pushed RFLAGS; hardware injection pushes RFLAGS as it is, so KVM sets RF itself
      // (exception_type: not #DB, #BP, #OF, #DF, #MC).
      if (![1, 3, 4, 8, 18].includes(v)) ops.set_rflags(c, ops.get_rflags(c) | RFLAGS.RF);
      ops.inject_exception(c, false);
      did |= Inject.EXCEPTION;
      vector = v;
      canInject = false;
    }
    if (kvmRead(c, 'nmi_pending', kvm.nmiPending) > 0) {
      // nmi_allowed: -EBUSY while a nested entry is pending; 0 while the NMI is blocked; -EBUSY
      // when L1 must see it as an exit from L2 (vmx_nmi_allowed asks before the blocking, but
      // an NMI L1 intercepts is never blocked by L2's state there, so the order is svm.c's).
      if (!canInject) busy = true;
      else if (kvmRead(c, 'nested_run_pending', nested.runPending)) nestedBusy = true;
      else if (ops.nmi_blocked(c)) {
        // The window opens below.
      } else if (kvmRead(c, 'guest_mode', nested.guestMode) && ops.nested_exit_on_nmi(c)) nestedBusy = true;
      else {
        kvm.nmiPending--;
        kvm.nmiInjected = true;
        ops.inject_nmi(c);
        did |= Inject.NMI;
        canInject = false;
      }
      if (!busy && !nestedBusy && kvm.nmiPending > 0)
        did |= ops.enable_nmi_window(c) === 'nmi' ? Inject.NMI_WINDOW : Inject.NMI_WINDOW_VIA_IRQ;
    }
    if (!busy && !nestedBusy && kvmApicRead(c, hasInjectableIntr(kvm))) {
      // interrupt_allowed: the same -EBUSY cases around the blocking (L2's or L1's IF and
      // shadows; on SVM an interrupt L1 intercepts can be blocked by L2's IF, and then its
      // window opens).
      if (!canInject) busy = true;
      else if (kvmRead(c, 'nested_run_pending', nested.runPending)) nestedBusy = true;
      else if (ops.interrupt_blocked(c)) {
        // The window opens below.
      } else if (kvmRead(c, 'guest_mode', nested.guestMode) && ops.nested_exit_on_intr(c)) nestedBusy = true;
      else {
        const v = deliverableVector(kvm.lapic);
        acknowledge(kvm.lapic, v); // kvm_cpu_get_interrupt: IRR → ISR
        kvm.irqInjected = true;
        kvm.irqVector = v;
        kvm.irqSoft = false;
        ops.inject_irq(c, false);
        did |= Inject.IRQ;
        vector = v;
      }
      if (!busy && !nestedBusy && hasInjectableIntr(kvm)) {
        ops.enable_irq_window(c);
        did |= Inject.IRQ_WINDOW;
      }
    }
    // A nested exit KVM must still synthesize (the preemption timer, MTF) comes right after
    // the entry (nested_ops->has_events).
    if (ops.has_nested_events(c)) nestedBusy = true;
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
 * nmi_allowed lets in (not one NMIs are blocked for), or an IRQ the guest would take.
 */
function vcpuHasEvents(c: KvmContext): boolean {
  const { kvm, ops } = c;
  if (kvm.nmiQueued > 0 || kvm.nmiInjected || kvm.irqInjected) return true;
  // In guest mode, the nested events too (nested_ops->has_events), and an event L1 intercepts
  // is never blocked by L2's state.
  if (ops.has_nested_events(c)) return true;
  if (kvm.nmiPending > 0 && !ops.nmi_blocked(c)) return true;
  return hasInjectableIntr(kvm) && !ops.interrupt_blocked(c);
}

/** vcpu_enter_guest: requests, injection, then the vendor's vcpu_run. */
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
  return c.ops.vcpu_run(c);
}

/** kvm_vcpu_block: a halted vCPU waits until it has an event, then kvm_vcpu_wake_up. */
function block(c: KvmContext): KvmStepResult {
  const { kvm } = c;
  if (!vcpuHasEvents(c)) return 'wait';
  // vcpu_block: "Evaluate nested events before exiting the halted state", so that vmcs12 records
  // the HLT activity state.
  if (kvm.nested.guestMode) {
    const r = c.ops.check_nested_events(c);
    if (r.r === 'exit') {
      kvm.reqEvent = true;
      return decide(c.h, c.ops.check_nested_events_fn, r.reason, r.intrInfo);
    }
  }
  kvm.halted = false;
  kvm.reqEvent = true;
  kvm.phase = KvmPhase.ENTER;
  return decide(c.h, Fn.kvm_vcpu_wake_up);
}

/** A host interrupt or NMI that reaches the host while KVM runs in root operation. */
export function hostEvents(c: KvmContext): KvmStepResult | null {
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
  if (kvm.phase === KvmPhase.SETUP) return c.ops.vcpu_create(c);
  if (kvm.phase !== KvmPhase.EXITED) {
    const host = hostEvents(c);
    if (host) return host;
  }
  if (kvm.phase === KvmPhase.EXITED) {
    const r = c.ops.complete_exit(c);
    if (r) return r;
  }
  if (kvm.phase === KvmPhase.HANDLE) return c.ops.handle_exit(c) ?? enterGuest(c);
  if (kvm.phase === KvmPhase.BLOCKED) return block(c);
  return enterGuest(c);
}
