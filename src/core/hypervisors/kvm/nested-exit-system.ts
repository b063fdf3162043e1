// nested_vmx_l1_wants_exit for the exits of issue 10 item 6 (arch/x86/kvm/vmx/nested.c):
// nested_vmx_exit_handled_cr, nested_vmx_exit_handled_io and the vmcs12 controls of INVLPG,
// RDPMC, MWAIT, MONITOR, WBINVD and RDRAND exiting. Whether L1 asked for the exit is decided
// from vmcs12 as the processor would have decided it had vmcs12 been in force.
import { bitmapName, hypervisorNote } from '../../causes/why';
import { RSP } from '../../cpu/state';
import { CPU_BASED, SECONDARY_EXEC } from '../../vmx/bits';
import { ExitReason } from '../../vmx/vm-exit';
import { F, type VmcsState, readField } from '../../vmx/vmcs';
import type { KvmContext } from './context';
import { rd } from './vmx';

/** The exiting guest's register `r` as [lo, hi]. */
function reg(c: KvmContext, r: number): [number, number] {
  if (r === RSP) {
    const v = rd(c, F.GUEST_RSP);
    return [v >>> 0, Math.floor(v / 0x100000000) >>> 0];
  }
  return [c.kvm.guestRegs[2 * r], c.kvm.guestRegs[2 * r + 1]];
}

/** Bits of a vmcs12 field read to decide an exit's route, noted as the decision's input
 *  (causes/why.ts): one bit as 0/1, or a whole field (mask 0xffffffff) as its value. */
export function l1Field(c: KvmContext, vmcs12: VmcsState, enc: number, mask: number): number {
  const v = readField(vmcs12, enc);
  if (c.h.why) {
    const what = { k: 'vmcs', owner: c.lane + 1, addr: vmcs12.addr, enc, mask } as const;
    hypervisorNote(c.h, c.lane, what, mask === 0xffffffff ? v >>> 0 : v & mask ? 1 : 0);
  }
  return v;
}

/** One bit of L1's memory read through a vmcs12 bitmap (an I/O or MSR bitmap), noted likewise. */
export function l1BitmapBit(c: KvmContext, entry: string, id: number, addr: number, bit: number): number {
  const value = (c.h.lanes[c.guestLane]!.mem.bytes[addr] >>> bit) & 1;
  if (c.h.why)
    hypervisorNote(
      c.h,
      c.lane,
      { k: 'mem', lane: c.guestLane, addr, bit, name: bitmapName(entry, id) },
      value,
    );
  return value;
}

/** A vmcs12 control bit, noted as read. */
function l1Bit(c: KvmContext, vmcs12: VmcsState, enc: number, mask: number): boolean {
  return (l1Field(c, vmcs12, enc, mask) & mask) !== 0;
}

/**
 * nested_vmx_exit_handled_cr: MOV to CR0/CR4 when a bit vmcs12 owns would differ from vmcs12's
 * read shadow; MOV to CR3 with vmcs12's CR3-load exiting unless the value is one of its CR3
 * targets; MOV from CR3 with CR3-store exiting; CR8 with CR8-load/store exiting.
 */
function handledCr(c: KvmContext, vmcs12: VmcsState): boolean {
  const q = rd(c, F.EXIT_QUALIFICATION);
  const cr = q & 0xf;
  const toCr = ((q >>> 4) & 3) === 0;
  const [lo, hi] = reg(c, (q >>> 8) & 0xf);
  const proc = (mask: number) => l1Bit(c, vmcs12, F.CPU_BASED_VM_EXEC_CONTROL, mask);
  switch (cr) {
    case 0:
    case 4: {
      if (!toCr) return false;
      const maskEnc = cr === 0 ? F.CR0_GUEST_HOST_MASK : F.CR4_GUEST_HOST_MASK;
      const shadowEnc = cr === 0 ? F.CR0_READ_SHADOW : F.CR4_READ_SHADOW;
      const mask = readField(vmcs12, maskEnc);
      const shadow = readField(vmcs12, shadowEnc);
      const mh = Math.floor(mask / 0x100000000) >>> 0;
      const sh = Math.floor(shadow / 0x100000000) >>> 0;
      const lowDiff = (lo ^ shadow) & mask;
      // Noted: the first L1-owned bit the value changes, in vmcs12's mask and read shadow; with
      // none, the whole mask.
      const bit = (lowDiff & -lowDiff) >>> 0;
      l1Field(c, vmcs12, maskEnc, bit !== 0 ? bit : 0xffffffff);
      if (bit !== 0) l1Field(c, vmcs12, shadowEnc, bit);
      return lowDiff !== 0 || ((hi ^ sh) & mh) !== 0;
    }
    case 3: {
      if (!toCr) return proc(CPU_BASED.CPU_BASED_CR3_STORE_EXITING);
      if (!proc(CPU_BASED.CPU_BASED_CR3_LOAD_EXITING)) return false;
      const value = hi * 0x100000000 + lo;
      const count = Math.min(l1Field(c, vmcs12, F.CR3_TARGET_COUNT, 0xffffffff), 4);
      for (let i = 0; i < count; i++)
        if (readField(vmcs12, F.CR3_TARGET_VALUE0 + 2 * i) === value) return false;
      return true;
    }
    default:
      return proc(toCr ? CPU_BASED.CPU_BASED_CR8_LOAD_EXITING : CPU_BASED.CPU_BASED_CR8_STORE_EXITING);
  }
}

/**
 * nested_vmx_exit_handled_io: without vmcs12 I/O bitmaps, its unconditional I/O exiting;
 * with them, the bits of the ports accessed in L1's bitmaps (nested_vmx_check_io_bitmaps), an
 * access past FFFFh exiting.
 */
function handledIo(c: KvmContext, vmcs12: VmcsState): boolean {
  const proc = (mask: number) => l1Bit(c, vmcs12, F.CPU_BASED_VM_EXEC_CONTROL, mask);
  if (!proc(CPU_BASED.CPU_BASED_USE_IO_BITMAPS)) return proc(CPU_BASED.CPU_BASED_UNCOND_IO_EXITING);
  const q = rd(c, F.EXIT_QUALIFICATION);
  const port = q >>> 16;
  const size = (q & 7) + 1;
  if (port + size - 1 > 0xffff) return true;
  const bytes = c.h.lanes[c.guestLane]!.mem.bytes;
  for (let p = port; p < port + size; p++) {
    const base = readField(vmcs12, p < 0x8000 ? F.IO_BITMAP_A : F.IO_BITMAP_B);
    const addr = base + ((p & 0x7fff) >>> 3);
    if (addr < 0 || addr >= bytes.length) return true;
    if (l1BitmapBit(c, p < 0x8000 ? 'I/O bitmap A, port' : 'I/O bitmap B, port', p, addr, p & 7)) return true;
  }
  return false;
}

/** Whether vmcs12 asks for one of these exits; undefined for any other reason. */
export function l1WantsSystemExit(c: KvmContext, vmcs12: VmcsState, reason: number): boolean | undefined {
  // The vmcs12 control read is the decision's input (causes/why.ts).
  const proc = (mask: number) => l1Bit(c, vmcs12, F.CPU_BASED_VM_EXEC_CONTROL, mask);
  // nested_cpu_has2: a secondary control counts only with "activate secondary controls".
  const proc2 = (mask: number) =>
    proc(CPU_BASED.CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) &&
    l1Bit(c, vmcs12, F.SECONDARY_VM_EXEC_CONTROL, mask);
  switch (reason) {
    case ExitReason.CR_ACCESS:
      return handledCr(c, vmcs12);
    case ExitReason.IO_INSTRUCTION:
      return handledIo(c, vmcs12);
    case ExitReason.INVLPG:
      return proc(CPU_BASED.CPU_BASED_INVLPG_EXITING);
    case ExitReason.RDPMC:
      return proc(CPU_BASED.CPU_BASED_RDPMC_EXITING);
    case ExitReason.MWAIT:
      return proc(CPU_BASED.CPU_BASED_MWAIT_EXITING);
    case ExitReason.MONITOR:
      return proc(CPU_BASED.CPU_BASED_MONITOR_EXITING);
    case ExitReason.WBINVD:
      return proc2(SECONDARY_EXEC.SECONDARY_EXEC_WBINVD_EXITING);
    case ExitReason.RDRAND:
      return proc2(SECONDARY_EXEC.SECONDARY_EXEC_RDRAND_EXITING);
    default:
      return undefined;
  }
}
