// A VMCS as the processor holds it: its launch state and its fields by encoding. The real
// VMCS region's format is implementation-specific (SDM "Format of the VMCS Region"); the lab
// keeps the fields as plain data keyed by encoding, values as JS numbers (64-bit fields are
// exact below 2^53, which covers every value the lab's programs use).
import { fieldByName, resolveFieldEncoding } from './fields';

export interface VmcsState {
  /** Physical address of the VMCS region. */
  addr: number;
  /** "clear" or "launched" (SDM "VMCS States"). */
  launched: boolean;
  /** The shadow-VMCS indicator (revision bit 31): a VMCS for VMCS shadowing, never entered. */
  shadow?: boolean;
  fields: Record<number, number>;
}

export function createVmcs(addr: number, shadow = false): VmcsState {
  return shadow ? { addr, launched: false, shadow, fields: {} } : { addr, launched: false, fields: {} };
}

export function cloneVmcs(v: VmcsState): VmcsState {
  const c: VmcsState = { addr: v.addr, launched: v.launched, fields: { ...v.fields } };
  if (v.shadow) c.shadow = true;
  return c;
}

/** Encodings of the fields the hardware model reads and writes, resolved once by name. */
function enc(name: string): number {
  const f = fieldByName(name);
  if (!f) throw new Error(`VMCS field ${name} missing from the table`);
  return f.encoding;
}

export const F = {
  PIN_BASED_VM_EXEC_CONTROL: enc('PIN_BASED_VM_EXEC_CONTROL'),
  CPU_BASED_VM_EXEC_CONTROL: enc('CPU_BASED_VM_EXEC_CONTROL'),
  SECONDARY_VM_EXEC_CONTROL: enc('SECONDARY_VM_EXEC_CONTROL'),
  EXCEPTION_BITMAP: enc('EXCEPTION_BITMAP'),
  VM_EXIT_CONTROLS: enc('VM_EXIT_CONTROLS'),
  VM_ENTRY_CONTROLS: enc('VM_ENTRY_CONTROLS'),
  VM_ENTRY_INTR_INFO_FIELD: enc('VM_ENTRY_INTR_INFO_FIELD'),
  VM_ENTRY_EXCEPTION_ERROR_CODE: enc('VM_ENTRY_EXCEPTION_ERROR_CODE'),
  VM_ENTRY_INSTRUCTION_LEN: enc('VM_ENTRY_INSTRUCTION_LEN'),
  TSC_OFFSET: enc('TSC_OFFSET'),
  MSR_BITMAP: enc('MSR_BITMAP'),
  VM_INSTRUCTION_ERROR: enc('VM_INSTRUCTION_ERROR'),
  VM_EXIT_REASON: enc('VM_EXIT_REASON'),
  VM_EXIT_INTR_INFO: enc('VM_EXIT_INTR_INFO'),
  VM_EXIT_INTR_ERROR_CODE: enc('VM_EXIT_INTR_ERROR_CODE'),
  IDT_VECTORING_INFO_FIELD: enc('IDT_VECTORING_INFO_FIELD'),
  IDT_VECTORING_ERROR_CODE: enc('IDT_VECTORING_ERROR_CODE'),
  VM_EXIT_INSTRUCTION_LEN: enc('VM_EXIT_INSTRUCTION_LEN'),
  EXIT_QUALIFICATION: enc('EXIT_QUALIFICATION'),
  VMX_INSTRUCTION_INFO: enc('VMX_INSTRUCTION_INFO'),
  GUEST_RIP: enc('GUEST_RIP'),
  GUEST_RSP: enc('GUEST_RSP'),
  GUEST_RFLAGS: enc('GUEST_RFLAGS'),
  GUEST_SS_SELECTOR: enc('GUEST_SS_SELECTOR'),
  GUEST_IDTR_BASE: enc('GUEST_IDTR_BASE'),
  GUEST_INTERRUPTIBILITY_INFO: enc('GUEST_INTERRUPTIBILITY_INFO'),
  GUEST_ACTIVITY_STATE: enc('GUEST_ACTIVITY_STATE'),
  GUEST_PENDING_DBG_EXCEPTIONS: enc('GUEST_PENDING_DBG_EXCEPTIONS'),
  GUEST_DR7: enc('GUEST_DR7'),
  GUEST_IA32_DEBUGCTL: enc('GUEST_IA32_DEBUGCTL'),
  VMX_PREEMPTION_TIMER_VALUE: enc('VMX_PREEMPTION_TIMER_VALUE'),
  HOST_RIP: enc('HOST_RIP'),
  HOST_RSP: enc('HOST_RSP'),
  HOST_SS_SELECTOR: enc('HOST_SS_SELECTOR'),
  HOST_IDTR_BASE: enc('HOST_IDTR_BASE'),
  VMCS_LINK_POINTER: enc('VMCS_LINK_POINTER'),
  VMREAD_BITMAP: enc('VMREAD_BITMAP'),
  VMWRITE_BITMAP: enc('VMWRITE_BITMAP'),
  CR0_GUEST_HOST_MASK: enc('CR0_GUEST_HOST_MASK'),
  CR4_GUEST_HOST_MASK: enc('CR4_GUEST_HOST_MASK'),
  CR0_READ_SHADOW: enc('CR0_READ_SHADOW'),
  CR4_READ_SHADOW: enc('CR4_READ_SHADOW'),
  CR3_TARGET_COUNT: enc('CR3_TARGET_COUNT'),
  CR3_TARGET_VALUE0: enc('CR3_TARGET_VALUE0'),
  IO_BITMAP_A: enc('IO_BITMAP_A'),
  IO_BITMAP_B: enc('IO_BITMAP_B'),
  GUEST_CR0: enc('GUEST_CR0'),
  GUEST_CR3: enc('GUEST_CR3'),
  GUEST_CR4: enc('GUEST_CR4'),
  HOST_CR0: enc('HOST_CR0'),
  HOST_CR3: enc('HOST_CR3'),
  HOST_CR4: enc('HOST_CR4'),
  GUEST_SYSENTER_ESP: enc('GUEST_SYSENTER_ESP'),
  GUEST_SYSENTER_EIP: enc('GUEST_SYSENTER_EIP'),
  GUEST_GDTR_BASE: enc('GUEST_GDTR_BASE'),
  GUEST_GDTR_LIMIT: enc('GUEST_GDTR_LIMIT'),
  GUEST_IDTR_LIMIT: enc('GUEST_IDTR_LIMIT'),
} as const;

/** Mask a value to a field's width, as VMWRITE does (SDM "VMWRITE"). */
export function fieldMask(encoding: number, value: number): number {
  const a = resolveFieldEncoding(encoding);
  if (!a) return value;
  if (a.high) return value >>> 0;
  const w = a.field.width;
  if (w === 16) return value & 0xffff;
  if (w === 32) return value >>> 0;
  return value;
}

/** Read a field (0 when never written); a `_HIGH` encoding reads bits 63:32. */
export function readField(v: VmcsState, encoding: number): number {
  if (encoding & 1) {
    const full = v.fields[encoding & ~1] ?? 0;
    return Math.floor(full / 0x100000000) >>> 0;
  }
  return v.fields[encoding] ?? 0;
}

export function writeField(v: VmcsState, encoding: number, value: number): void {
  if (encoding & 1) {
    const full = v.fields[encoding & ~1] ?? 0;
    v.fields[encoding & ~1] = (value >>> 0) * 0x100000000 + (full % 0x100000000);
    return;
  }
  v.fields[encoding] = fieldMask(encoding, value);
}
