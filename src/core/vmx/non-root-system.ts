// VMX non-root operation and the instructions of issue 10 item 6: which of them exit, with
// what exit qualification and instruction information (SDM Vol. 3C "Instructions That Cause
// VM Exits Conditionally", "Exit Qualification for VM Exits", "VM-Exit Instruction-Information
// Field"), and how MOV to and from CR0/CR4 see the guest/host masks and read shadows (SDM
// "Changes to Instruction Behavior in VMX Non-Root Operation").
import { Op } from '../asm/ir';
import type { DInstr } from '../cpu/decoded';
import type { Hart } from '../cpu/hart';
import { hwBitmap, hwField } from '../causes/why';
import { CPU_BASED, SECONDARY_EXEC } from './bits';
import { currentVmcs } from './state';
import { F, type VmcsState, readField } from './vmcs';
import { ExitReason, type ExitInfo } from './vm-exit';

const TWO32 = 0x100000000;

/** Split a natural-width field value into unsigned 32-bit halves. */
function halves(v: number): [number, number] {
  return [v >>> 0, Math.floor(v / TWO32) >>> 0];
}

function field(h: Hart, encoding: number): number {
  return readField(currentVmcs(h.vmx)!, encoding);
}

/** The mask and read shadow of CR0 or CR4. */
function maskShadow(h: Hart, cr: number): [number, number] {
  return cr === 0
    ? [field(h, F.CR0_GUEST_HOST_MASK), field(h, F.CR0_READ_SHADOW)]
    : [field(h, F.CR4_GUEST_HOST_MASK), field(h, F.CR4_READ_SHADOW)];
}

/**
 * MOV from CR0/CR4 in non-root operation: host-owned bits (mask 1) read from the read shadow,
 * guest-owned bits from the register. Returns [lo, hi].
 */
export function guestCrRead(h: Hart, cr: number, real: number): [number, number] {
  const [mask, shadow] = maskShadow(h, cr);
  const [ml, mh] = halves(mask);
  const [sl, sh] = halves(shadow);
  const [rl, rh] = halves(real);
  return [((rl & ~ml) | (sl & ml)) >>> 0, ((rh & ~mh) | (sh & mh)) >>> 0];
}

/** MOV to CR0/CR4 that did not exit: it leaves the host-owned bits as they are. Returns [lo, hi]. */
export function guestCrMerge(h: Hart, cr: number, real: number, lo: number, hi: number): [number, number] {
  const [ml, mh] = halves(maskShadow(h, cr)[0]);
  const [rl, rh] = halves(real);
  return [((rl & ml) | (lo & ~ml)) >>> 0, ((rh & mh) | (hi & ~mh)) >>> 0];
}

/** The 64-bit value of a general register as [lo, hi]. */
function reg64(h: Hart, r: number): [number, number] {
  return [h.cpu.regs[2 * r], h.cpu.regs[2 * r + 1]];
}

/**
 * Exit qualification of a control-register access (SDM table "Exit Qualification for
 * Control-Register Accesses"): bits 3:0 the register, 5:4 the access type (0 MOV to CR, 1 MOV
 * from CR), 11:8 the general register.
 */
export function crQualification(cr: number, toCr: boolean, gpr: number): number {
  return (cr & 0xf) | ((toCr ? 0 : 1) << 4) | ((gpr & 0xf) << 8);
}

/** A primary processor-based control, noted as the decision's read (causes/why.ts). */
function control(h: Hart, mask: number): boolean {
  return (hwField(h, F.CPU_BASED_VM_EXEC_CONTROL, mask, h.vmx.proc) & mask) !== 0;
}

/** A secondary processor-based control, noted likewise. */
function control2(h: Hart, mask: number): boolean {
  return (hwField(h, F.SECONDARY_VM_EXEC_CONTROL, mask, h.vmx.proc2) & mask) !== 0;
}

/** Does MOV to CRn / MOV from CRn exit (SDM "Instructions That Cause VM Exits Conditionally")? */
function crExits(h: Hart, ins: DInstr): boolean {
  const cr = ins.n;
  const toCr = ins.op === Op.MOV_TO_CR;
  switch (cr) {
    case 0:
    case 4: {
      // MOV to CR0/CR4 exits when a host-owned bit would be set to a value other than its read
      // shadow's; MOV from CR0/CR4 never exits.
      if (!toCr) return false;
      const [mask, shadow] = maskShadow(h, cr);
      const [ml, mh] = halves(mask);
      const [sl, sh] = halves(shadow);
      const [vl, vh] = reg64(h, ins.a.reg);
      const lowDiff = (vl ^ sl) & ml;
      const exits = lowDiff !== 0 || ((vh ^ sh) & mh) !== 0;
      // The deciding read (causes/why.ts): the first host-owned bit the value changes, in the
      // guest/host mask (1) and the read shadow; with none, the whole mask.
      const bit = lowDiff & -lowDiff;
      const enc = cr === 0 ? F.CR0_GUEST_HOST_MASK : F.CR4_GUEST_HOST_MASK;
      hwField(h, enc, bit !== 0 ? bit >>> 0 : 0xffffffff, ml);
      if (bit !== 0) hwField(h, cr === 0 ? F.CR0_READ_SHADOW : F.CR4_READ_SHADOW, bit >>> 0, sl);
      return exits;
    }
    case 3: {
      if (!toCr) return control(h, CPU_BASED.CPU_BASED_CR3_STORE_EXITING);
      if (!control(h, CPU_BASED.CPU_BASED_CR3_LOAD_EXITING)) return false;
      // No exit when the value equals one of the first CR3_TARGET_COUNT target values.
      const count = Math.min(hwField(h, F.CR3_TARGET_COUNT, 0xffffffff, field(h, F.CR3_TARGET_COUNT)), 4);
      const [vl, vh] = reg64(h, ins.a.reg);
      for (let i = 0; i < count; i++) {
        const [tl, th] = halves(field(h, F.CR3_TARGET_VALUE0 + 2 * i));
        if (tl === vl && th === vh) return false;
      }
      return true;
    }
    default:
      return control(h, toCr ? CPU_BASED.CPU_BASED_CR8_LOAD_EXITING : CPU_BASED.CPU_BASED_CR8_STORE_EXITING);
  }
}

/** The port and size of an IN/OUT, and whether it is IN. */
export function ioAccess(h: Hart, ins: DInstr): { port: number; size: number; isIn: boolean; imm: boolean } {
  const isIn = ins.op === Op.IN;
  const portOp = isIn ? ins.b : ins.a;
  const acc = isIn ? ins.a : ins.b;
  const imm = portOp.k === 1;
  const port = imm ? portOp.lo & 0xff : h.cpu.regs[4] & 0xffff;
  return { port, size: acc.size, isIn, imm };
}

/**
 * Does an I/O instruction exit? With "use I/O bitmaps" the bitmaps decide, bitmap A for ports
 * 0000h–7FFFh and B for 8000h–FFFFh: it exits when the bit of any port it accesses is 1, or
 * when the access wraps past FFFFh. Otherwise "unconditional I/O exiting" decides (SDM "I/O
 * Bitmaps", "Instructions That Cause VM Exits Conditionally").
 */
function ioExits(h: Hart, port: number, size: number): boolean {
  if (!control(h, CPU_BASED.CPU_BASED_USE_IO_BITMAPS))
    return control(h, CPU_BASED.CPU_BASED_UNCOND_IO_EXITING);
  if (port + size - 1 > 0xffff) return true;
  const bytes = h.mem.bytes;
  for (let p = port; p < port + size; p++) {
    const base = field(h, p < 0x8000 ? F.IO_BITMAP_A : F.IO_BITMAP_B);
    const addr = base + ((p & 0x7fff) >>> 3);
    if (addr < 0 || addr >= bytes.length) return true;
    const entry = p < 0x8000 ? 'I/O bitmap A, port' : 'I/O bitmap B, port';
    if (hwBitmap(h, entry, p, addr, p & 7, (bytes[addr] >>> (p & 7)) & 1)) return true;
  }
  return false;
}

/**
 * Exit qualification of an I/O instruction (SDM table "Exit Qualification for I/O
 * Instructions"): bits 2:0 size − 1, bit 3 direction (1 = IN), bit 4 string, bit 5 REP, bit 6
 * operand encoding (1 = immediate), bits 31:16 the port.
 */
export function ioQualification(port: number, size: number, isIn: boolean, imm: boolean): number {
  return ((size - 1) | (isIn ? 8 : 0) | (imm ? 0x40 : 0) | (port << 16)) >>> 0;
}

/**
 * VMX_INSTRUCTION_INFO of a RDRAND exit (SDM table "Format of the VM-Exit Instruction-
 * Information Field as Used for RDRAND, RDSEED, TPAUSE, and UMWAIT"): bits 6:3 the destination
 * register, bits 12:11 the operand size (0 16-bit, 1 32-bit, 2 64-bit).
 */
export function rdrandInstructionInfo(reg: number, size: number): number {
  return ((reg & 0xf) << 3) | ((size === 8 ? 2 : size === 4 ? 1 : 0) << 11);
}

/** The linear address of a memory operand (INVLPG's exit qualification). */
export function linearAddress(h: Hart, m: DInstr['a']): number {
  const base = m.base < 0 ? 0 : h.cpu.regs[2 * m.base + 1] * TWO32 + h.cpu.regs[2 * m.base];
  const index = m.index < 0 ? 0 : (h.cpu.regs[2 * m.index + 1] * TWO32 + h.cpu.regs[2 * m.index]) * m.scale;
  return base + index + m.disp;
}

/**
 * The VM exit a new instruction causes in non-root operation, or null when it executes.
 * Checked before it executes; #UD (UD2, INTO) has priority over VM exits and never gets here.
 */
export function systemInstructionExit(h: Hart, ins: DInstr): ExitInfo | null {
  const len = ins.len;
  switch (ins.op) {
    case Op.MOV_TO_CR:
    case Op.MOV_FROM_CR:
      if (!crExits(h, ins)) return null;
      return {
        reason: ExitReason.CR_ACCESS,
        qualification: crQualification(ins.n, ins.op === Op.MOV_TO_CR, ins.a.reg),
        instructionLen: len,
      };
    case Op.IN:
    case Op.OUT: {
      const io = ioAccess(h, ins);
      if (!ioExits(h, io.port, io.size)) return null;
      return {
        reason: ExitReason.IO_INSTRUCTION,
        qualification: ioQualification(io.port, io.size, io.isIn, io.imm),
        instructionLen: len,
      };
    }
    case Op.INVLPG:
      if (!control(h, CPU_BASED.CPU_BASED_INVLPG_EXITING)) return null;
      return { reason: ExitReason.INVLPG, qualification: linearAddress(h, ins.a), instructionLen: len };
    case Op.RDPMC:
      return control(h, CPU_BASED.CPU_BASED_RDPMC_EXITING)
        ? { reason: ExitReason.RDPMC, instructionLen: len }
        : null;
    case Op.MWAIT:
      // Exit qualification bit 0: the monitoring hardware is armed.
      return control(h, CPU_BASED.CPU_BASED_MWAIT_EXITING)
        ? { reason: ExitReason.MWAIT, qualification: h.cpu.monitorArmed ? 1 : 0, instructionLen: len }
        : null;
    case Op.MONITOR:
      return control(h, CPU_BASED.CPU_BASED_MONITOR_EXITING)
        ? { reason: ExitReason.MONITOR, instructionLen: len }
        : null;
    case Op.WBINVD:
      return control2(h, SECONDARY_EXEC.SECONDARY_EXEC_WBINVD_EXITING)
        ? { reason: ExitReason.WBINVD, instructionLen: len }
        : null;
    case Op.RDRAND:
      return control2(h, SECONDARY_EXEC.SECONDARY_EXEC_RDRAND_EXITING)
        ? {
            reason: ExitReason.RDRAND,
            instructionLen: len,
            instructionInfo: rdrandInstructionInfo(ins.a.reg, ins.a.size),
          }
        : null;
    default:
      return null;
  }
}

/**
 * "Checks on VM-Execution Control Fields" for these controls: CR3_TARGET_COUNT at most 4;
 * with "use I/O bitmaps", IO_BITMAP_A and IO_BITMAP_B 4-KByte aligned and within the
 * physical-address width (36 bits). A message for VMfailValid(7), or null.
 */
export function checkSystemControls(vmcs: VmcsState, proc: number): string | null {
  const count = readField(vmcs, F.CR3_TARGET_COUNT);
  if (count > 4) return `CR3_TARGET_COUNT is ${count}: at most 4 CR3-target values`;
  if (proc & CPU_BASED.CPU_BASED_USE_IO_BITMAPS) {
    for (const [name, enc] of [
      ['IO_BITMAP_A', F.IO_BITMAP_A],
      ['IO_BITMAP_B', F.IO_BITMAP_B],
    ] as const) {
      const a = readField(vmcs, enc);
      if (a % 4096 !== 0 || a >= 2 ** 36)
        return `${name} 0x${a.toString(16)} is not a 4-KByte aligned address within the physical-address width`;
    }
  }
  return null;
}
