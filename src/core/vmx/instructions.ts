// The VMX instructions in VMX root operation: VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMREAD,
// VMWRITE, VMLAUNCH, VMRESUME, VMCALL, with the SDM's conventions for their outcome
// (SDM Vol. 3C "VMX Instruction Reference": "Conventions" — VMsucceed, VMfailInvalid,
// VMfailValid(ErrorNumber)). In non-root operation they cause VM exits instead (non-root.ts).
import { Op } from '../asm/ir';
import type { DInstr } from '../cpu/decoded';
import type { Hart } from '../cpu/hart';
import { ARITH_FLAGS, RFLAGS, Shadow } from '../cpu/state';
import { VMX_REVISION, readRevision } from './capabilities';
import { resolveFieldEncoding } from './fields';
import { NO_VMCS, currentVmcs } from './state';
import { F, createVmcs, readField, writeField } from './vmcs';
import { VmxError, checkControls, checkHostState, enterGuest } from './vm-entry';

/** What a VMX instruction did, for the trace (INSTR record d1) and the explanation. */
export const VmxOutcome = { SUCCEED: 0, FAIL_INVALID: 1, FAIL_VALID: 2, UD: 3 } as const;

export interface OperandAccess {
  read(o: DInstr['a']): number;
  write(o: DInstr['a'], v: number): void;
}

function succeed(h: Hart): number {
  h.cpu.rflags &= ~ARITH_FLAGS;
  return VmxOutcome.SUCCEED;
}

function failInvalid(h: Hart): number {
  h.cpu.rflags = (h.cpu.rflags & ~ARITH_FLAGS) | RFLAGS.CF;
  return VmxOutcome.FAIL_INVALID;
}

function failValid(h: Hart, error: number): number {
  h.cpu.rflags = (h.cpu.rflags & ~ARITH_FLAGS) | RFLAGS.ZF;
  writeField(currentVmcs(h.vmx)!, F.VM_INSTRUCTION_ERROR, error);
  return VmxOutcome.FAIL_VALID;
}

/** VMfail: VMfailValid when there is a current VMCS, else VMfailInvalid. */
function fail(h: Hart, error: number): number {
  return currentVmcs(h.vmx) ? failValid(h, error) : failInvalid(h);
}

// VMXON compares the whole dword, so a shadow-VMCS indicator fails it (SDM "VMXON": VMfailInvalid).
function regionRevision(h: Hart, addr: number): number {
  return readRevision(h.mem.bytes, addr);
}

function validRegion(h: Hart, addr: number): boolean {
  return addr % 4096 === 0 && addr > 0 && addr + 4096 <= h.mem.bytes.length;
}

export interface VmxResult {
  outcome: number;
  /** Why a check failed, for the explanation. */
  reason: string | null;
  /** VMLAUNCH/VMRESUME passed their checks: h.out holds the VMENTRY or entry-failure record. */
  entered: boolean;
}

const result = (outcome: number, reason: string | null = null, entered = false): VmxResult => ({
  outcome,
  reason,
  entered,
});

// The VMX operations as the hardware performs them. The instruction interpreter calls them
// with its operands; hypervisor models call them directly, as their code would execute the
// instructions.

export function vmxon(h: Hart, addr: number): VmxResult {
  const vmx = h.vmx;
  if (vmx.on) return result(fail(h, VmxError.VMXON_IN_ROOT), 'VMXON executed in VMX root operation');
  if (!validRegion(h, addr))
    return result(
      failInvalid(h),
      `the VMXON region 0x${addr.toString(16)} is not a 4-KByte aligned address in memory`,
    );
  if (regionRevision(h, addr) !== VMX_REVISION)
    return result(
      failInvalid(h),
      `the VMXON region's revision identifier is ${regionRevision(h, addr)}, not ${VMX_REVISION} (IA32_VMX_BASIC[30:0])`,
    );
  vmx.on = true;
  vmx.vmxonRegion = addr;
  vmx.current = NO_VMCS;
  return result(succeed(h));
}

export function vmxoff(h: Hart): VmxResult {
  h.vmx.on = false;
  h.vmx.current = NO_VMCS;
  return result(succeed(h));
}

export function vmclear(h: Hart, addr: number): VmxResult {
  const vmx = h.vmx;
  if (!validRegion(h, addr))
    return result(
      fail(h, VmxError.VMCLEAR_INVALID_ADDRESS),
      `0x${addr.toString(16)} is not a valid VMCS address`,
    );
  if (addr === vmx.vmxonRegion)
    return result(fail(h, VmxError.VMCLEAR_VMXON_POINTER), 'VMCLEAR with the VMXON pointer');
  // "VMCLEAR": the VMCS's launch state becomes clear; it stops being current.
  const v = vmx.vmcs[addr] ?? (vmx.vmcs[addr] = createVmcs(addr));
  v.launched = false;
  if (vmx.current === addr) vmx.current = NO_VMCS;
  return result(succeed(h));
}

export function vmptrld(h: Hart, addr: number): VmxResult {
  const vmx = h.vmx;
  if (!validRegion(h, addr))
    return result(
      fail(h, VmxError.VMPTRLD_INVALID_ADDRESS),
      `0x${addr.toString(16)} is not a valid VMCS address`,
    );
  if (addr === vmx.vmxonRegion)
    return result(fail(h, VmxError.VMPTRLD_VMXON_POINTER), 'VMPTRLD with the VMXON pointer');
  // Bits 30:0 are the revision identifier; bit 31, the shadow-VMCS indicator, is accepted
  // only when the processor supports VMCS shadowing (SDM "VMPTRLD").
  const rev = regionRevision(h, addr);
  const shadow = rev >>> 31 === 1;
  if ((rev & 0x7fffffff) !== VMX_REVISION || (shadow && !h.caps.features.vmcsShadowing))
    return result(
      fail(h, VmxError.VMPTRLD_BAD_REVISION),
      shadow
        ? 'the shadow-VMCS indicator is set and this processor has no VMCS shadowing'
        : `the VMCS revision identifier is ${rev}, not ${VMX_REVISION}`,
    );
  const existing = vmx.vmcs[addr];
  if (!existing || (existing.shadow ?? false) !== shadow) vmx.vmcs[addr] = createVmcs(addr, shadow);
  vmx.current = addr;
  return result(succeed(h));
}

/** VMREAD: the value, or null after VMfail (then `lastResult` says why). */
export function vmread(h: Hart, enc: number): { value: number | null; result: VmxResult } {
  const vmcs = currentVmcs(h.vmx);
  if (!vmcs) return { value: null, result: result(failInvalid(h), 'no current VMCS') };
  if (!resolveFieldEncoding(enc))
    return {
      value: null,
      result: result(
        failValid(h, VmxError.UNSUPPORTED_FIELD),
        `0x${enc.toString(16)} is not a supported VMCS field`,
      ),
    };
  return { value: readField(vmcs, enc), result: result(succeed(h)) };
}

export function vmwrite(h: Hart, enc: number, value: number): VmxResult {
  const vmcs = currentVmcs(h.vmx);
  if (!vmcs) return result(failInvalid(h), 'no current VMCS');
  const f = resolveFieldEncoding(enc);
  if (!f)
    return result(
      failValid(h, VmxError.UNSUPPORTED_FIELD),
      `0x${enc.toString(16)} is not a supported VMCS field`,
    );
  // "VMWRITE": a VM-exit information field only with IA32_VMX_MISC[29].
  if (f.field.readOnly && !h.caps.features.vmwriteAnyField)
    return result(
      failValid(h, VmxError.VMWRITE_READONLY),
      `${f.field.name} is a read-only VM-exit information field`,
    );
  writeField(vmcs, enc, value);
  return result(succeed(h));
}

/**
 * VMLAUNCH or VMRESUME at `hostRip` (the instruction's address): the checks that end in
 * VMfail, then VM entry into `guestLane`.
 */
export function vmenter(h: Hart, launch: boolean, hostRip: number, guestLane: number): VmxResult {
  const vmcs = currentVmcs(h.vmx);
  // "VMLAUNCH/VMRESUME": the checks in the SDM's order.
  if (!vmcs) return result(failInvalid(h), 'no current VMCS');
  if (vmcs.shadow) return result(failInvalid(h), 'the current VMCS is a shadow VMCS');
  if (h.cpu.shadow & Shadow.MOVSS)
    return result(failValid(h, VmxError.ENTRY_MOVSS_BLOCKING), 'VM entry with events blocked by MOV SS');
  if (launch && vmcs.launched)
    return result(
      failValid(h, VmxError.VMLAUNCH_NONCLEAR),
      'VMLAUNCH of a launched VMCS (use VMRESUME, or VMCLEAR it first)',
    );
  if (!launch && !vmcs.launched)
    return result(failValid(h, VmxError.VMRESUME_NONLAUNCHED), 'VMRESUME of a VMCS that is not launched');
  const controls = checkControls(h.caps, vmcs);
  if (controls) return result(failValid(h, VmxError.ENTRY_INVALID_CONTROLS), controls);
  const host = checkHostState(vmcs);
  if (host) return result(failValid(h, VmxError.ENTRY_INVALID_HOST_STATE), host);
  h.cpu.rflags &= ~ARITH_FLAGS;
  h.cpu.rip = hostRip;
  const res = enterGuest(h, vmcs, launch, hostRip, guestLane);
  return result(VmxOutcome.SUCCEED, res.reason, true);
}

/**
 * Execute a VMX instruction in root operation (or VMXON outside VMX operation). Outcome UD
 * means #UD (not in VMX operation).
 */
export function executeVmx(h: Hart, ins: DInstr, ops: OperandAccess, guestLane: number): VmxResult {
  if (!h.vmx.on && ins.op !== Op.VMXON)
    return result(VmxOutcome.UD, 'not in VMX operation (VMXON has not run)');
  switch (ins.op) {
    case Op.VMXON:
      return vmxon(h, ops.read(ins.a));
    case Op.VMXOFF:
      return vmxoff(h);
    case Op.VMCLEAR:
      return vmclear(h, ops.read(ins.a));
    case Op.VMPTRLD:
      return vmptrld(h, ops.read(ins.a));
    case Op.VMREAD: {
      const r = vmread(h, ops.read(ins.b));
      if (r.value !== null) ops.write(ins.a, r.value);
      return r.result;
    }
    case Op.VMWRITE:
      return vmwrite(h, ops.read(ins.a), ops.read(ins.b));
    case Op.VMCALL:
      return result(fail(h, VmxError.VMCALL_IN_ROOT), 'VMCALL in VMX root operation');
    case Op.VMLAUNCH:
    case Op.VMRESUME:
      return vmenter(h, ins.op === Op.VMLAUNCH, ins.addr, guestLane);
    default:
      return result(VmxOutcome.UD, null);
  }
}
