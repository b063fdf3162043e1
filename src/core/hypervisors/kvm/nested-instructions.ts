// KVM's emulation of L1's VMX instructions (arch/x86/kvm/vmx/nested.c): VMXON, VMXOFF,
// VMCLEAR, VMPTRLD, VMREAD and VMWRITE exit to KVM, which checks them as the SDM's instruction
// reference says and answers VMsucceed, VMfailInvalid or VMfailValid (nested_vmx_succeed,
// nested_vmx_failInvalid, nested_vmx_failValid) on its cached vmcs12.
import type { DOperand } from '../../cpu/decoded';
import { loaded, read, write } from '../../cpu/memory';
import { ARITH_FLAGS, RFLAGS, RSP } from '../../cpu/state';
import { VMX_REVISION, readRevision } from '../../vmx/capabilities';
import { resolveFieldEncoding } from '../../vmx/fields';
import { VmxError } from '../../vmx/vm-entry';
import { F, createVmcs, readField, writeField } from '../../vmx/vmcs';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn } from './functions';
import { nestedVmxCaps } from './nested';
import { INVALID_GPA, currentVmcs12 } from './nested-state';
import {
  allocShadowVmcs,
  enableShadowing,
  releaseShadow,
  shadowVmcsEnabled,
  writeShadowReadOnly,
} from './nested-shadow';
import { queueKvmException } from './state';
import { rd, wr } from './vmx';

/** VM-instruction outcome reported in the decision (d2): as VmxOutcome. */
const SUCCEED = 0;
const FAIL_INVALID = 1;
const FAIL_VALID = 2;

// ---- L1's instruction and its operands, as KVM reads them after the exit ----------------

/**
 * The instruction L1 executed, read at GUEST_RIP from L1's code. KVM learns a VMX
 * instruction's operands from VMX_INSTRUCTION_INFO and the exit qualification; the lab's
 * assembly also lets VMREAD/VMWRITE take a field name or a constant where x86 has a register,
 * which that field cannot describe, so the model reads the operands from the instruction
 * itself, as an instruction emulator would (docs/nesting.md).
 */
function l1Instruction(c: KvmContext) {
  return instructionAt(c, c.guestLane, rd(c, F.GUEST_RIP));
}

/**
 * The instruction at `rip` in the code of `lane`, as KVM's instruction emulator decodes a
 * guest's instruction (kvm_emulate_instruction), or null when there is none.
 */
export function instructionAt(c: KvmContext, laneIndex: number, rip: number) {
  const lane = c.h.lanes[laneIndex]!;
  const off = rip - lane.prog.origin;
  const idx = off >= 0 && off < lane.prog.indexAt.length ? lane.prog.indexAt[off] : -1;
  return idx >= 0 ? lane.code[idx] : null;
}

/** L1's register r: the processor's GPRs are L1's after the exit, but RSP is in vmcs01. */
function l1Reg(c: KvmContext, r: number): number {
  return r === RSP ? rd(c, F.GUEST_RSP) : c.kvm.guestRegs[2 * r + 1] * 0x100000000 + c.kvm.guestRegs[2 * r];
}

function l1Address(c: KvmContext, o: DOperand): number {
  const ea = (o.base < 0 ? 0 : l1Reg(c, o.base)) + o.disp;
  return o.index < 0 ? ea : ea + l1Reg(c, o.index) * o.scale;
}

function readOperand(c: KvmContext, o: DOperand): number {
  if (o.k === 0) {
    const v = l1Reg(c, o.reg);
    return o.size === 8 ? v : v % 0x100000000;
  }
  if (o.k === 1) return o.hi * 0x100000000 + o.lo;
  read(c.h.lanes[c.guestLane]!.mem, l1Address(c, o), 8);
  return loaded.hi * 0x100000000 + loaded.lo;
}

function writeOperand(c: KvmContext, o: DOperand, v: number): void {
  const lo = v >>> 0;
  const hi = Math.floor(v / 0x100000000) >>> 0;
  if (o.k === 0) {
    c.kvm.guestRegs[2 * o.reg] = lo;
    c.kvm.guestRegs[2 * o.reg + 1] = hi;
  } else if (o.k === 2) write(c.h.lanes[c.guestLane]!.mem, l1Address(c, o), 8, lo, hi);
}

/** kvm_skip_emulated_instruction: GUEST_RIP past the instruction; the STI/MOV-SS shadow ends. */
export function skipEmulatedInstruction(c: KvmContext): void {
  wr(c, F.GUEST_RIP, rd(c, F.GUEST_RIP) + rd(c, F.VM_EXIT_INSTRUCTION_LEN));
  const intr = rd(c, F.GUEST_INTERRUPTIBILITY_INFO);
  if (intr & 3) wr(c, F.GUEST_INTERRUPTIBILITY_INFO, intr & ~3);
}

// ---- nested_vmx_succeed / nested_vmx_failInvalid / nested_vmx_failValid --------------------

function setL1Flags(c: KvmContext, set: number): void {
  const rflags = rd(c, F.GUEST_RFLAGS);
  wr(c, F.GUEST_RFLAGS, ((rflags & ~ARITH_FLAGS) | set) >>> 0);
}

export function succeed(c: KvmContext): number {
  setL1Flags(c, 0);
  return SUCCEED;
}

export function failInvalid(c: KvmContext): number {
  setL1Flags(c, RFLAGS.CF);
  return FAIL_INVALID;
}

/** nested_vmx_fail: VMfailValid (error in vmcs12) with a current vmcs12, else VMfailInvalid. */
export function fail(c: KvmContext, error: number): number {
  const vmcs12 = currentVmcs12(c.kvm.nested);
  if (!vmcs12) return failInvalid(c);
  setL1Flags(c, RFLAGS.ZF);
  writeField(vmcs12, F.VM_INSTRUCTION_ERROR, error);
  // The decision records the error number above the outcome (d2 = outcome | error << 8).
  return FAIL_VALID | (error << 8);
}

/** A VMX instruction KVM emulated: its outcome, then skip it. */
export function emulated(c: KvmContext, fn: number, outcome: number, d1 = 0): KvmStepResult {
  skipEmulatedInstruction(c);
  return decide(c.h, fn, d1, outcome);
}

/** nested_vmx_check_permission: outside emulated VMX operation the instruction is #UD. */
export function needVmxon(c: KvmContext, fn: number): KvmStepResult | null {
  if (c.kvm.nested.vmxon) return null;
  queueKvmException(c.kvm, 6);
  return decide(c.h, fn, 0, 3);
}

function l1Revision(c: KvmContext, addr: number): number {
  return readRevision(c.h.lanes[c.guestLane]!.mem.bytes, addr);
}

function validL1Page(c: KvmContext, addr: number): boolean {
  return addr > 0 && addr % 4096 === 0 && addr + 4096 <= c.h.lanes[c.guestLane]!.mem.bytes.length;
}

/**
 * The checks of the VMCS pointer of VMCLEAR and VMPTRLD (SDM "VMCLEAR", "VMPTRLD"): a 4-KByte
 * aligned address in L1's memory, and not the VMXON region. The error number, or null.
 */
function vmcsPointerError(c: KvmContext, addr: number, invalid: number, vmxonPointer: number): number | null {
  if (!validL1Page(c, addr)) return invalid;
  if (addr === c.kvm.nested.vmxonPtr) return vmxonPointer;
  return null;
}

// ---- the VMX instructions of L1 -----------------------------------------------------------

/** handle_vmxon: VMX operation for L1, with the checks of the SDM's VMXON. */
export function handleVmxon(c: KvmContext): KvmStepResult {
  const n = c.kvm.nested;
  const ins = l1Instruction(c);
  if (!ins) return decide(c.h, Fn.handle_vmxon, 0, 3);
  if (n.vmxon) return emulated(c, Fn.handle_vmxon, fail(c, VmxError.VMXON_IN_ROOT));
  const addr = readOperand(c, ins.a);
  if (!validL1Page(c, addr) || l1Revision(c, addr) !== VMX_REVISION)
    return emulated(c, Fn.handle_vmxon, failInvalid(c), addr);
  n.vmxon = true;
  n.vmxonPtr = addr;
  n.currentVmptr = INVALID_GPA;
  // enter_vmx_operation → alloc_shadow_vmcs.
  if (shadowVmcsEnabled(c)) allocShadowVmcs(c);
  return emulated(c, Fn.handle_vmxon, succeed(c), addr);
}

/** handle_vmxoff: leave VMX operation (free_nested). */
export function handleVmxoff(c: KvmContext): KvmStepResult {
  const ud = needVmxon(c, Fn.handle_vmxoff);
  if (ud) return ud;
  const n = c.kvm.nested;
  if (n.currentVmptr !== INVALID_GPA && shadowVmcsEnabled(c)) releaseShadow(c);
  n.vmxon = false;
  n.currentVmptr = INVALID_GPA;
  return emulated(c, Fn.handle_vmxoff, succeed(c));
}

/** handle_vmclear: the vmcs12's launch state becomes clear; it stops being current. */
export function handleVmclear(c: KvmContext): KvmStepResult {
  const ud = needVmxon(c, Fn.handle_vmclear);
  if (ud) return ud;
  const n = c.kvm.nested;
  const addr = readOperand(c, l1Instruction(c)!.a);
  const bad = vmcsPointerError(c, addr, VmxError.VMCLEAR_INVALID_ADDRESS, VmxError.VMCLEAR_VMXON_POINTER);
  if (bad) return emulated(c, Fn.handle_vmclear, fail(c, bad), addr);
  // nested_release_vmcs12 first when it is the current one (its shadowed fields come back).
  if (n.currentVmptr === addr && shadowVmcsEnabled(c)) releaseShadow(c);
  const v = n.vmcs12[addr] ?? (n.vmcs12[addr] = createVmcs(addr));
  v.launched = false;
  if (n.currentVmptr === addr) n.currentVmptr = INVALID_GPA;
  return emulated(c, Fn.handle_vmclear, succeed(c), addr);
}

/** handle_vmptrld: make a vmcs12 current, after the address and revision checks. */
export function handleVmptrld(c: KvmContext): KvmStepResult {
  const ud = needVmxon(c, Fn.handle_vmptrld);
  if (ud) return ud;
  const n = c.kvm.nested;
  const addr = readOperand(c, l1Instruction(c)!.a);
  const bad =
    vmcsPointerError(c, addr, VmxError.VMPTRLD_INVALID_ADDRESS, VmxError.VMPTRLD_VMXON_POINTER) ??
    (l1Revision(c, addr) !== VMX_REVISION ? VmxError.VMPTRLD_BAD_REVISION : null);
  if (bad) return emulated(c, Fn.handle_vmptrld, fail(c, bad), addr);
  if (n.currentVmptr !== addr) {
    // nested_release_vmcs12 of the previous one, then set_current_vmptr.
    if (n.currentVmptr !== INVALID_GPA && shadowVmcsEnabled(c)) releaseShadow(c);
    n.vmcs12[addr] ??= createVmcs(addr);
    n.currentVmptr = addr;
    if (shadowVmcsEnabled(c)) enableShadowing(c);
  }
  return emulated(c, Fn.handle_vmptrld, succeed(c), addr);
}

/** handle_vmread: a field of the current vmcs12 into L1's destination operand. */
export function handleVmread(c: KvmContext): KvmStepResult {
  const ud = needVmxon(c, Fn.handle_vmread);
  if (ud) return ud;
  const ins = l1Instruction(c)!;
  const enc = readOperand(c, ins.b);
  const vmcs12 = currentVmcs12(c.kvm.nested);
  if (!vmcs12) return emulated(c, Fn.handle_vmread, failInvalid(c), enc);
  if (!resolveFieldEncoding(enc))
    return emulated(c, Fn.handle_vmread, fail(c, VmxError.UNSUPPORTED_FIELD), enc);
  writeOperand(c, ins.a, readField(vmcs12, enc));
  return emulated(c, Fn.handle_vmread, succeed(c), enc);
}

/** handle_vmwrite: L1's value into a field of the current vmcs12. */
export function handleVmwrite(c: KvmContext): KvmStepResult {
  const ud = needVmxon(c, Fn.handle_vmwrite);
  if (ud) return ud;
  const ins = l1Instruction(c)!;
  const enc = readOperand(c, ins.a);
  const vmcs12 = currentVmcs12(c.kvm.nested);
  if (!vmcs12) return emulated(c, Fn.handle_vmwrite, failInvalid(c), enc);
  const f = resolveFieldEncoding(enc);
  if (!f) return emulated(c, Fn.handle_vmwrite, fail(c, VmxError.UNSUPPORTED_FIELD), enc);
  // A VM-exit information field only with "VMWRITE to any supported field" (IA32_VMX_MISC[29]
  // as KVM offers it: nested_cpu_has_vmwrite_any_field).
  if (f.field.readOnly && !nestedVmxCaps(c.kvm, c.port.caps).features.vmwriteAnyField)
    return emulated(c, Fn.handle_vmwrite, fail(c, VmxError.VMWRITE_READONLY), enc);
  const value = readOperand(c, ins.b);
  writeField(vmcs12, enc, value);
  writeShadowReadOnly(c, enc, value);
  return emulated(c, Fn.handle_vmwrite, succeed(c), enc);
}
