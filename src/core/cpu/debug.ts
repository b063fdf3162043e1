// The debug registers and IA32_DEBUGCTL: MOV to and from DR0–DR7, DR6 as a #DB reports its
// causes, DR7's instruction breakpoints. SDM Vol. 3B chapter "Debug, Branch Profile, TSC, and
// Intel Resource Director Technology Features": "Debug Registers", "Debug Exceptions"; Vol. 2B
// "MOV—Move to/from Debug Registers".
import type { CpuState } from './state';
import { CR4, DR6_INIT } from './state';

/** DR6 bits (and the same bits of a #DB exit qualification and of the pending-debug field). */
export const DR6 = {
  B0_B3: 0xf,
  /** Pending-debug-exceptions field only: an enabled breakpoint matched (bit 12). */
  ENABLED_BP: 1 << 12,
  BD: 1 << 13,
  BS: 1 << 14,
  BT: 1 << 15,
  RTM: 1 << 16,
} as const;

/** DR7 bits: L0/G0…L3/G3 (7:0), GD (13); bit 10 reads as 1. */
export const DR7 = { GD: 1 << 13, FIXED_1: 1 << 10 } as const;

/**
 * The bits of DR6 software can write: B3–B0, BD, BS, BT. Without RTM and bus-lock detection
 * the others read as DR6's fixed value (KVM kvm_set_dr: DR6_VOLATILE, DR6_FIXED_1).
 */
const DR6_WRITABLE = 0xe00f;
/** The bits of DR7 software can write (KVM DR7_VOLATILE); bit 10 is always 1. */
const DR7_WRITABLE = 0xffff2bff;

/** IA32_DEBUGCTL (MSR 1D9H). The lab's processor has LBR (kept, no effect) and BTF. */
export const IA32_DEBUGCTL = 0x1d9;
export const DEBUGCTL = { LBR: 1 << 0, BTF: 1 << 1 } as const;
/** IA32_DEBUGCTL bits this processor supports: any other is reserved (WRMSR #GP, VM-entry check). */
export const DEBUGCTL_SUPPORTED = DEBUGCTL.LBR | DEBUGCTL.BTF;

/** DR4 and DR5 are DR6 and DR7 while CR4.DE is 0 (SDM "Debug Registers DR4 and DR5"). */
function slot(n: number): number {
  return n === 4 ? 6 : n === 5 ? 7 : n;
}

/** MOV from DRn: the register as [low, high]. */
export function readDr(cpu: CpuState, n: number): [number, number] {
  const s = slot(n);
  return [cpu.dr[2 * s], cpu.dr[2 * s + 1]];
}

/**
 * MOV to DRn. Returns false for #GP(0): DR6 and DR7 take no 1 in bits 63:32 ("MOV—Move
 * to/from Debug Registers", 64-bit mode exceptions).
 */
export function writeDr(cpu: CpuState, n: number, lo: number, hi: number): boolean {
  const s = slot(n);
  if (s >= 6 && hi !== 0) return false;
  if (s === 6) lo = ((lo & DR6_WRITABLE) | DR6_INIT) >>> 0;
  else if (s === 7) lo = ((lo & DR7_WRITABLE) | DR7.FIXED_1) >>> 0;
  cpu.dr[2 * s] = lo >>> 0;
  cpu.dr[2 * s + 1] = hi >>> 0;
  return true;
}

/** Outcome of a MOV to or from a debug register. */
export const MovDr = { DONE: 0, GENERAL_DETECT: 1, GP: 2, UD: 3 } as const;

/**
 * "MOV—Move to/from Debug Registers" between DRn and general register `reg`: with DR7.GD = 1
 * any access is a fault-like #DB with DR6.BD (general detect); writing a 1 to bits 63:32 of
 * DR6 or DR7 raises #GP(0). With CR4.DE = 1, DR4 and DR5 do not exist: #UD, ahead of the
 * general-detect #DB (with CR4.DE = 0 they alias DR6 and DR7). CPL is 0: no #GP for privilege.
 */
export function movDebugRegister(cpu: CpuState, toDr: boolean, n: number, reg: number): number {
  if ((n === 4 || n === 5) && cpu.cr4 & CR4.DE) return MovDr.UD;
  if (cpu.dr[14] & DR7.GD) return MovDr.GENERAL_DETECT;
  const r = 2 * reg;
  if (toDr) return writeDr(cpu, n, cpu.regs[r], cpu.regs[r + 1]) ? MovDr.DONE : MovDr.GP;
  const [lo, hi] = readDr(cpu, n);
  cpu.regs[r] = lo;
  cpu.regs[r + 1] = hi;
  return MovDr.DONE;
}

/** Load DR7 as VM entry does with "load debug controls", or as VM exit sets it (400H). */
export function loadDr7(cpu: CpuState, value: number): void {
  cpu.dr[14] = value >>> 0;
  cpu.dr[15] = 0;
}

/**
 * A #DB delivered through the IDT (SDM "Debug Status Register (DR6)", "Debug Control Register
 * (DR7)"): DR6 gets the bits of its causes (B3–B0, BD, BS; the processor never clears the
 * others) and GD is cleared so that the handler can use the debug registers.
 */
export function debugDelivered(cpu: CpuState, cause: number): void {
  cpu.dr[12] = (cpu.dr[12] | (cause & (DR6.B0_B3 | DR6.BD | DR6.BS))) >>> 0;
  cpu.dr[14] = (cpu.dr[14] & ~DR7.GD) >>> 0;
}

/** A debug trap is due at this boundary: single-step, or breakpoints pending from VM entry. */
export function debugTrapPending(cpu: CpuState): boolean {
  return cpu.dbTrapPending || cpu.dbPending !== 0;
}

/**
 * The pending debug exceptions in the bits of the VMCS field (SDM "Guest Non-Register State":
 * B3–B0, enabled breakpoint, BS), as a VM exit saves them.
 */
export function pendingDebugBits(cpu: CpuState): number {
  return (cpu.dbTrapPending ? DR6.BS : 0) | cpu.dbPending;
}

/**
 * Take the pending debug trap: its causes in DR6 / exit-qualification bits (B3–B0, BS; the
 * "enabled breakpoint" bit of the pending field is no DR6 bit), and nothing stays pending.
 */
export function takeDebugTrap(cpu: CpuState): number {
  const cause = (cpu.dbTrapPending ? DR6.BS : 0) | (cpu.dbPending & DR6.B0_B3);
  cpu.dbTrapPending = false;
  cpu.dbPending = 0;
  return cause;
}

/**
 * Instruction breakpoints (SDM "Instruction-Breakpoint Exception Condition"): the B3–B0 bits
 * of the breakpoints enabled in DR7 (Ln or Gn) with R/W = 00 and LEN = 00 whose DRn holds
 * `addr`. 0 when none matches.
 */
export function codeBreakpoints(cpu: CpuState, addr: number): number {
  const ctl = cpu.dr[14];
  if ((ctl & 0xff) === 0) return 0;
  let hit = 0;
  for (let n = 0; n < 4; n++) {
    if (!((ctl >>> (2 * n)) & 3)) continue;
    if ((ctl >>> (16 + 4 * n)) & 0xf) continue; // R/W and LEN must both be 00
    if (cpu.dr[2 * n + 1] * 0x100000000 + cpu.dr[2 * n] === addr) hit |= 1 << n;
  }
  return hit;
}
