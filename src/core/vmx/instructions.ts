// The VMX instructions in VMX root operation: VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMREAD,
// VMWRITE, VMLAUNCH, VMRESUME, VMCALL, with the SDM's conventions for their outcome
// (SDM Vol. 3C "VMX Instruction Reference": "Conventions" — VMsucceed, VMfailInvalid,
// VMfailValid(ErrorNumber)). In non-root operation they cause VM exits instead (non-root.ts).
import { Op } from '../asm/ir';
import type { DInstr } from '../cpu/decoded';
import type { Hart } from '../cpu/hart';
import { ARITH_FLAGS, RFLAGS, Shadow } from '../cpu/state';
import { VMX_REVISION } from './capabilities';
import { resolveFieldEncoding } from './fields';
import { NO_VMCS, currentVmcs } from './state';
import { F, createVmcs, readField, writeField } from './vmcs';
import { VmxError, checkControls, enterGuest } from './vm-entry';

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

function readRevision(h: Hart, addr: number): number {
  const b = h.mem.bytes;
  return (b[addr] | (b[addr + 1] << 8) | (b[addr + 2] << 16) | (b[addr + 3] << 24)) & 0x7fffffff;
}

function validRegion(h: Hart, addr: number): boolean {
  return addr % 4096 === 0 && addr > 0 && addr + 4096 <= h.mem.bytes.length;
}

export interface VmxInstructionResult {
  outcome: number;
  /** Extra detail for the explanation (a failed check's reason). */
  reason: string | null;
}

/**
 * Execute a VMX instruction in root operation (or VMXON outside VMX operation). VMLAUNCH and
 * VMRESUME that pass their checks fill `h.out` with the VMENTRY (or entry-failure VMEXIT)
 * record and return entered = true. Returns null for #UD (not in VMX operation).
 */
export function executeVmx(
  h: Hart,
  ins: DInstr,
  ops: OperandAccess,
  guestLane: number,
): { outcome: number; reason: string | null; entered: boolean } {
  const vmx = h.vmx;
  const r = (outcome: number, reason: string | null = null, entered = false) => ({
    outcome,
    reason,
    entered,
  });
  if (!vmx.on && ins.op !== Op.VMXON) return r(VmxOutcome.UD, 'not in VMX operation (VMXON has not run)');
  switch (ins.op) {
    case Op.VMXON: {
      if (vmx.on) return r(fail(h, VmxError.VMXON_IN_ROOT), 'VMXON executed in VMX root operation');
      const addr = ops.read(ins.a);
      if (!validRegion(h, addr))
        return r(
          failInvalid(h),
          `the VMXON region 0x${addr.toString(16)} is not a 4-KByte aligned address in memory`,
        );
      if (readRevision(h, addr) !== VMX_REVISION)
        return r(
          failInvalid(h),
          `the VMXON region's revision identifier is ${readRevision(h, addr)}, not ${VMX_REVISION} (IA32_VMX_BASIC[30:0])`,
        );
      vmx.on = true;
      vmx.vmxonRegion = addr;
      vmx.current = NO_VMCS;
      return r(succeed(h));
    }
    case Op.VMXOFF:
      vmx.on = false;
      vmx.current = NO_VMCS;
      return r(succeed(h));
    case Op.VMCLEAR: {
      const addr = ops.read(ins.a);
      if (!validRegion(h, addr))
        return r(
          fail(h, VmxError.VMCLEAR_INVALID_ADDRESS),
          `0x${addr.toString(16)} is not a valid VMCS address`,
        );
      if (addr === vmx.vmxonRegion)
        return r(fail(h, VmxError.VMCLEAR_VMXON_POINTER), 'VMCLEAR with the VMXON pointer');
      // "VMCLEAR": the VMCS's launch state becomes clear; it stops being current.
      const v = vmx.vmcs[addr] ?? (vmx.vmcs[addr] = createVmcs(addr));
      v.launched = false;
      if (vmx.current === addr) vmx.current = NO_VMCS;
      return r(succeed(h));
    }
    case Op.VMPTRLD: {
      const addr = ops.read(ins.a);
      if (!validRegion(h, addr))
        return r(
          fail(h, VmxError.VMPTRLD_INVALID_ADDRESS),
          `0x${addr.toString(16)} is not a valid VMCS address`,
        );
      if (addr === vmx.vmxonRegion)
        return r(fail(h, VmxError.VMPTRLD_VMXON_POINTER), 'VMPTRLD with the VMXON pointer');
      if (readRevision(h, addr) !== VMX_REVISION)
        return r(
          fail(h, VmxError.VMPTRLD_BAD_REVISION),
          `the VMCS revision identifier is ${readRevision(h, addr)}, not ${VMX_REVISION}`,
        );
      if (!vmx.vmcs[addr]) vmx.vmcs[addr] = createVmcs(addr);
      vmx.current = addr;
      return r(succeed(h));
    }
    case Op.VMREAD: {
      const vmcs = currentVmcs(vmx);
      if (!vmcs) return r(failInvalid(h), 'no current VMCS');
      const enc = ops.read(ins.b);
      if (!resolveFieldEncoding(enc))
        return r(
          failValid(h, VmxError.UNSUPPORTED_FIELD),
          `0x${enc.toString(16)} is not a supported VMCS field`,
        );
      ops.write(ins.a, readField(vmcs, enc));
      return r(succeed(h));
    }
    case Op.VMWRITE: {
      const vmcs = currentVmcs(vmx);
      if (!vmcs) return r(failInvalid(h), 'no current VMCS');
      const enc = ops.read(ins.a);
      const f = resolveFieldEncoding(enc);
      if (!f)
        return r(
          failValid(h, VmxError.UNSUPPORTED_FIELD),
          `0x${enc.toString(16)} is not a supported VMCS field`,
        );
      if (f.field.readOnly)
        return r(
          failValid(h, VmxError.VMWRITE_READONLY),
          `${f.field.name} is a read-only VM-exit information field`,
        );
      writeField(vmcs, enc, ops.read(ins.b));
      return r(succeed(h));
    }
    case Op.VMCALL:
      return r(fail(h, VmxError.VMCALL_IN_ROOT), 'VMCALL in VMX root operation');
    case Op.VMLAUNCH:
    case Op.VMRESUME: {
      const launch = ins.op === Op.VMLAUNCH;
      const vmcs = currentVmcs(vmx);
      // "VMLAUNCH/VMRESUME": the checks in the SDM's order.
      if (!vmcs) return r(failInvalid(h), 'no current VMCS');
      if (h.cpu.shadow & Shadow.MOVSS)
        return r(failValid(h, VmxError.ENTRY_MOVSS_BLOCKING), 'VM entry with events blocked by MOV SS');
      if (launch && vmcs.launched)
        return r(
          failValid(h, VmxError.VMLAUNCH_NONCLEAR),
          'VMLAUNCH of a launched VMCS (use VMRESUME, or VMCLEAR it first)',
        );
      if (!launch && !vmcs.launched)
        return r(failValid(h, VmxError.VMRESUME_NONLAUNCHED), 'VMRESUME of a VMCS that is not launched');
      const controls = checkControls(h, vmcs);
      if (controls) return r(failValid(h, VmxError.ENTRY_INVALID_CONTROLS), controls);
      h.cpu.rflags &= ~ARITH_FLAGS;
      const res = enterGuest(h, vmcs, launch, ins.addr, guestLane);
      return r(VmxOutcome.SUCCEED, res.reason, true);
    }
    default:
      return r(VmxOutcome.UD, null);
  }
}
