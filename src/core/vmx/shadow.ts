// VMCS shadowing (SDM Vol. 3C "VMCS Shadowing"; "VMREAD", "VMWRITE" in non-root operation):
// with the "VMCS shadowing" control, a guest's VMREAD or VMWRITE of a field whose bit is 0 in
// the VMREAD or VMWRITE bitmap does not exit: it reads or writes the shadow VMCS that the VMCS
// link pointer references. A field whose bit is 1, or an encoding above bit 14, exits.
import type { Hart } from '../cpu/hart';
import { ARITH_FLAGS, RFLAGS } from '../cpu/state';
import { CPU_BASED, SECONDARY_EXEC } from './bits';
import { resolveFieldEncoding } from './fields';
import { currentVmcs } from './state';
import { F, type VmcsState, readField, writeField } from './vmcs';
import { VmxError } from './vm-entry';

/** Whether a guest's VMREAD (write = false) or VMWRITE of `enc` is served by the shadow VMCS. */
export function shadowed(h: Hart, enc: number, write: boolean): boolean {
  const vmx = h.vmx;
  if (!(vmx.proc & CPU_BASED.CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)) return false;
  if (!(vmx.proc2 & SECONDARY_EXEC.SECONDARY_EXEC_SHADOW_VMCS)) return false;
  if (enc < 0 || enc > 0x7fff) return false;
  const vmcs = currentVmcs(vmx)!;
  const bitmap = readField(vmcs, write ? F.VMWRITE_BITMAP : F.VMREAD_BITMAP);
  // The bitmaps are in the memory of the software that runs the guest (the root lane).
  const bytes = h.lanes[vmx.rootLane]?.mem.bytes ?? h.mem.bytes;
  const at = bitmap + (enc >>> 3);
  if (at < 0 || at >= bytes.length) return false;
  return ((bytes[at] >>> (enc & 7)) & 1) === 0;
}

/** The shadow VMCS the link pointer references, or null when it is not one. */
function shadowVmcs(h: Hart): VmcsState | null {
  const link = readField(currentVmcs(h.vmx)!, F.VMCS_LINK_POINTER);
  const v = h.vmx.vmcs[link];
  return v && v.shadow ? v : null;
}

function flags(h: Hart, set: number): void {
  h.cpu.rflags = (h.cpu.rflags & ~ARITH_FLAGS) | set;
}

/** VMREAD served by the shadow VMCS: the value, or null after VMfail (flags set). */
export function shadowVmread(h: Hart, enc: number): number | null {
  const v = shadowVmcs(h);
  if (!v) {
    flags(h, RFLAGS.CF); // VMfailInvalid: the VMCS link pointer is not valid
    return null;
  }
  if (!resolveFieldEncoding(enc)) {
    flags(h, RFLAGS.ZF);
    writeField(v, F.VM_INSTRUCTION_ERROR, VmxError.UNSUPPORTED_FIELD);
    return null;
  }
  flags(h, 0);
  return readField(v, enc);
}

/** VMWRITE served by the shadow VMCS; false after VMfail (flags set). */
export function shadowVmwrite(h: Hart, enc: number, value: number): boolean {
  const v = shadowVmcs(h);
  if (!v) {
    flags(h, RFLAGS.CF);
    return false;
  }
  const f = resolveFieldEncoding(enc);
  const error = !f
    ? VmxError.UNSUPPORTED_FIELD
    : f.field.readOnly && !h.caps.features.vmwriteAnyField
      ? VmxError.VMWRITE_READONLY
      : 0;
  if (error) {
    flags(h, RFLAGS.ZF);
    writeField(v, F.VM_INSTRUCTION_ERROR, error);
    return false;
  }
  flags(h, 0);
  writeField(v, enc, value);
  return true;
}
