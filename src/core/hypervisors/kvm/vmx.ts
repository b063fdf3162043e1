// KVM's VMX vendor code (arch/x86/kvm/vmx/vmx.c), written against the architectural
// interface only: it reads and writes its VMCS with VMREAD/VMWRITE and learns about the guest
// from exits, as the kernel does. Each function is named after the kernel's.
import { GUEST_INTR_STATE, CPU_BASED, PIN_BASED } from '../../vmx/bits';
import { F } from '../../vmx/vmcs';
import type { KvmContext } from './context';
import { RFLAGS } from '../../cpu/state';
import type { KvmState } from './state';
import { hypervisorNote, noteApic } from '../../causes/why';

/** VMREAD of the loaded VMCS. With `mask`, a decision reads those bits: they are noted as one
 *  of its inputs (causes/why.ts; only while a step is being explained). */
export function rd(c: KvmContext, enc: number, mask?: number): number {
  const v = c.port.vmread(enc);
  if (mask !== undefined && c.h.why) noteRead(c, enc, mask, v);
  return v;
}

/** Note bits of a field KVM already read (`v`, from its VMREAD) as an input of the decision
 *  that follows: for the tail of vmx_vcpu_run, which reads its fields first and decides only
 *  when they say so (causes/why.ts). Returns `v`. */
export function noteRead(c: KvmContext, enc: number, mask: number, v: number): number {
  if (!c.h.why) return v;
  const at = { k: 'vmcs', owner: c.lane, addr: c.kvm.loadedVmcs, enc } as const;
  if (mask === 0xffffffff) hypervisorNote(c.h, c.lane, { ...at, mask }, v >>> 0);
  // Each bit tested is an input of its own (the VMCS panel marks bits).
  else
    for (let m = mask; m; m &= m - 1)
      hypervisorNote(c.h, c.lane, { ...at, mask: (m & -m) >>> 0 }, v & m & -m ? 1 : 0);
  return v;
}

/** KVM asked its virtual APIC for an injectable interrupt (kvm_cpu_has_injectable_intr): the
 *  highest IRR vector and the PPR are the decision's inputs. Returns `value`. */
export function kvmApicRead(c: KvmContext, value: boolean): boolean {
  if (c.h.why) noteApic(c.h.why, c.kvm.lapic, c.lane, `KVM L${c.lane}`, true);
  return value;
}

/** A KVM variable a decision reads (its kernel name, as search-targets' KVM_VARIABLES). */
export function kvmRead<T extends number | boolean>(c: KvmContext, name: string, value: T): T {
  if (c.h.why) hypervisorNote(c.h, c.lane, { k: 'kvm', lane: c.lane, name }, Number(value));
  return value;
}

/**
 * VMWRITE to the loaded VMCS; KVM keeps its own copy of what it wrote (as its controls_shadow
 * does), so that prepare_vmcs02 can read vmcs01's controls without a VMREAD.
 */
export function wr(c: KvmContext, enc: number, value: number): void {
  c.port.vmwrite(enc, value);
  const kvm = c.kvm;
  (kvm.vmcsCache[kvm.loadedVmcs] ??= {})[enc] = value >>> 0;
}

/** A field of one of KVM's own VMCSs, from KVM's copy of what it wrote (0 if never written). */
export function written(kvm: KvmState, vmcs: number, enc: number): number {
  return kvm.vmcsCache[vmcs]?.[enc] ?? 0;
}

function setBits(c: KvmContext, enc: number, mask: number): void {
  wr(c, enc, (rd(c, enc) | mask) >>> 0);
}

function clearBits(c: KvmContext, enc: number, mask: number): void {
  wr(c, enc, (rd(c, enc) & ~mask) >>> 0);
}

/**
 * vmx_interrupt_blocked: IF = 0, or blocking by STI or MOV SS in the guest's interruptibility
 * state (read from the VMCS after the exit).
 */
export function vmxInterruptBlocked(c: KvmContext): boolean {
  const rflags = rd(c, F.GUEST_RFLAGS, RFLAGS.IF);
  if (!(rflags & RFLAGS.IF)) return true;
  const blocking = GUEST_INTR_STATE.GUEST_INTR_STATE_STI | GUEST_INTR_STATE.GUEST_INTR_STATE_MOV_SS;
  return (rd(c, F.GUEST_INTERRUPTIBILITY_INFO, blocking) & blocking) !== 0;
}

/**
 * vmx_nmi_blocked: without virtual NMIs, the soft flag first; then blocking by STI, MOV SS or
 * NMI in the interruptibility state (facts §3.2, seed A.6).
 */
export function vmxNmiBlocked(c: KvmContext, kvm: KvmState): boolean {
  if (!kvmRead(c, 'enable_vnmi', kvm.enableVnmi) && kvmRead(c, 'soft_vnmi_blocked', kvm.softVnmiBlocked))
    return true;
  const blocking =
    GUEST_INTR_STATE.GUEST_INTR_STATE_STI |
    GUEST_INTR_STATE.GUEST_INTR_STATE_MOV_SS |
    GUEST_INTR_STATE.GUEST_INTR_STATE_NMI;
  return (rd(c, F.GUEST_INTERRUPTIBILITY_INFO, blocking) & blocking) !== 0;
}

/** vmx_get_nmi_mask: the soft flag without virtual NMIs, else interruptibility bit 3. */
export function vmxGetNmiMask(c: KvmContext, kvm: KvmState): boolean {
  if (!kvmRead(c, 'enable_vnmi', kvm.enableVnmi)) return kvmRead(c, 'soft_vnmi_blocked', kvm.softVnmiBlocked);
  const nmi = GUEST_INTR_STATE.GUEST_INTR_STATE_NMI;
  return (rd(c, F.GUEST_INTERRUPTIBILITY_INFO, nmi) & nmi) !== 0;
}

/**
 * vmx_inject_nmi: without virtual NMIs, track the NMI-blocked state in software — KVM's
 * comment: it relies on finding the next open IRQ window, and a guest that enables IRQs in
 * its NMI handler can get nested NMIs. Writes VM_ENTRY_INTR_INFO_FIELD = NMI.
 */
export function vmxInjectNmi(c: KvmContext, kvm: KvmState): void {
  if (!kvm.enableVnmi) {
    kvm.softVnmiBlocked = true;
    kvm.vnmiBlockedTimeNs = 0;
  }
  wr(c, F.VM_ENTRY_INTR_INFO_FIELD, 0x80000202);
}

/** vmx_inject_irq: VM_ENTRY_INTR_INFO_FIELD = valid | external interrupt | vector. */
export function vmxInjectIrq(c: KvmContext, kvm: KvmState): void {
  if (kvm.irqSoft) {
    wr(c, F.VM_ENTRY_INSTRUCTION_LEN, 2);
    wr(c, F.VM_ENTRY_INTR_INFO_FIELD, (0x80000400 | kvm.irqVector) >>> 0);
  } else wr(c, F.VM_ENTRY_INTR_INFO_FIELD, (0x80000000 | kvm.irqVector) >>> 0);
}

/** vmx_enable_irq_window: interrupt-window exiting. */
export function vmxEnableIrqWindow(c: KvmContext): void {
  setBits(c, F.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING);
}

/**
 * vmx_enable_nmi_window: without virtual NMIs, or with blocking by STI, the IRQ window stands
 * in for the NMI window; otherwise NMI-window exiting. Returns which window it armed.
 */
export function vmxEnableNmiWindow(c: KvmContext, kvm: KvmState): 'irq' | 'nmi' {
  const sti = GUEST_INTR_STATE.GUEST_INTR_STATE_STI;
  if (!kvmRead(c, 'enable_vnmi', kvm.enableVnmi) || rd(c, F.GUEST_INTERRUPTIBILITY_INFO, sti) & sti) {
    vmxEnableIrqWindow(c);
    return 'irq';
  }
  setBits(c, F.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING);
  return 'nmi';
}

/** handle_interrupt_window: clear interrupt-window exiting and re-evaluate events. */
export function handleInterruptWindow(c: KvmContext, kvm: KvmState): void {
  clearBits(c, F.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED.CPU_BASED_INTR_WINDOW_EXITING);
  kvm.reqEvent = true;
}

/** handle_nmi_window: clear NMI-window exiting and re-evaluate events. */
export function handleNmiWindow(c: KvmContext, kvm: KvmState): void {
  clearBits(c, F.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING);
  kvm.reqEvent = true;
}

/**
 * __vmx_complete_interrupts: the event VM entry was delivering when the exit came (IDT-vectoring
 * information) goes back into KVM's queues, to be re-injected first. Returns the vectoring
 * word (0 when nothing was in flight).
 */
export function vmxCompleteInterrupts(c: KvmContext, kvm: KvmState): number {
  kvm.nmiInjected = false;
  kvm.irqInjected = false;
  const info = rd(c, F.IDT_VECTORING_INFO_FIELD);
  if (!(info & 0x80000000)) return 0;
  // The decision's inputs (causes/why.ts): the valid bit and the type of the event the exit
  // interrupted.
  noteRead(c, F.IDT_VECTORING_INFO_FIELD, 0x80000700, info);
  kvm.reqEvent = true;
  const type = (info >>> 8) & 7;
  const vector = info & 0xff;
  if (type === 2) {
    kvm.nmiInjected = true;
    // With virtual NMIs the entry check forbids re-injecting while bit 3 is set: clear it
    // (vmx_set_nmi_mask(vcpu, false)).
    if (kvmRead(c, 'enable_vnmi', kvm.enableVnmi))
      clearBits(c, F.GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE.GUEST_INTR_STATE_NMI);
  } else if (type === 0 || type === 4) {
    kvm.irqInjected = true;
    kvm.irqVector = vector;
    kvm.irqSoft = type === 4;
  }
  return info;
}

/** The pin-based controls KVM runs its guest with (init_vmcs → vmx_pin_based_exec_ctrl). */
export function kvmPinControls(kvm: KvmState): number {
  return (
    PIN_BASED.PIN_BASED_EXT_INTR_MASK |
    PIN_BASED.PIN_BASED_NMI_EXITING |
    (kvm.enableVnmi ? PIN_BASED.PIN_BASED_VIRTUAL_NMIS : 0)
  );
}
