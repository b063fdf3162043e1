// IRETQ in 64-bit mode ("IRET/IRETD/IRETQ—Interrupt Return"): the frame it pops, the end of
// blocking by NMI (and how VMX non-root operation and an SVM guest change that), its #GP for a
// non-canonical return RIP, and what a VM exit for that fault does to NMI blocking.
import type { Hart } from './hart';
import { loaded } from './memory';
import { pop64 } from './stack';
import { RFLAGS, RSP, WRITABLE_FLAGS, regNumber, setRegNumber } from './state';
import { svmIret } from '../svm/delivery';
import { PIN_BASED } from '../vmx/bits';

/**
 * A VM exit due to a fault on IRET (SDM "Architectural State before a VM Exit"): with "NMI
 * exiting" 0 blocking by NMI is cleared before the exit, with "virtual NMIs" 1 virtual-NMI
 * blocking is; bit 12 of the VM-exit interruption information ("NMI unblocking due to IRET")
 * says it was in effect before the IRET. With NMI exiting 1 and virtual NMIs 0 the bit is
 * undefined: the lab leaves it 0 and the blocking as it is.
 */
export function iretExitUnblocking(h: Hart): number {
  const cpu = h.cpu;
  const pin = h.vmx.pin;
  if (pin & PIN_BASED.PIN_BASED_VIRTUAL_NMIS) {
    const was = cpu.vnmiBlocked;
    cpu.vnmiBlocked = false;
    return was ? 0x1000 : 0;
  }
  if (!(pin & PIN_BASED.PIN_BASED_NMI_EXITING)) {
    const was = cpu.nmiBlocked;
    cpu.nmiBlocked = false;
    return was ? 0x1000 : 0;
  }
  return 0;
}

/** "IRET/IRETD/IRETQ—Interrupt Return", 64-bit mode: a return RIP that is not canonical (bits
 *  63:47 not all equal) is #GP(0). */
function canonicalRip(hi: number): boolean {
  return hi >>> 0 < 0x8000 || hi >>> 0 >= 0xffff8000;
}

/**
 * IRETQ in 64-bit mode pops RIP, CS, RFLAGS, RSP and SS, and ends blocking by NMI
 * (SDM "NMI Handling": "...until the next IRET instruction is executed"). Returns false when
 * the return RIP is not canonical: then nothing changed (RSP is restored, blocking by NMI and
 * V_NMI_MASK stay: the IRET did not complete) and the caller raises #GP(0) at the IRET.
 */
export function iret(h: Hart): boolean {
  const cpu = h.cpu;
  const rspAtIret = regNumber(cpu, RSP);
  pop64(h);
  if (!canonicalRip(loaded.hi)) {
    setRegNumber(cpu, RSP, rspAtIret);
    return false;
  }
  const rip = loaded.hi * 0x100000000 + loaded.lo;
  pop64(h); // CS
  pop64(h);
  const flags = loaded.lo;
  pop64(h);
  const rsp = loaded.hi * 0x100000000 + loaded.lo;
  pop64(h);
  cpu.ss = loaded.lo & 0xffff;
  cpu.rflags = (flags & WRITABLE_FLAGS) | RFLAGS.FIXED;
  setRegNumber(cpu, RSP, rsp);
  cpu.rip = rip;
  if (h.svm.guest) svmIret(h);
  else if (!h.vmx.nonRoot) cpu.nmiBlocked = false;
  else {
    // "Changes to Instruction Behavior in VMX Non-Root Operation": with NMI exiting, IRET does
    // not unblock NMIs; with virtual NMIs it removes virtual-NMI blocking instead.
    const pin = h.vmx.pin;
    if (!(pin & PIN_BASED.PIN_BASED_NMI_EXITING)) cpu.nmiBlocked = false;
    if (pin & PIN_BASED.PIN_BASED_VIRTUAL_NMIS) cpu.vnmiBlocked = false;
  }
  // Bookkeeping for the views: the frame this IRET leaves, and an interrupted `work`.
  while (cpu.frames.length && cpu.frames[cpu.frames.length - 3] <= rspAtIret) cpu.frames.length -= 3;
  const ws = cpu.workStack;
  if (ws.length && ws[ws.length - 2] === rspAtIret) {
    cpu.workRemaining = ws[ws.length - 1];
    ws.length -= 2;
  }
  return true;
}
