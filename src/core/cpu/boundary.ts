// What the processor does at an instruction boundary before fetching the next instruction:
// the SDM's "Priority Among Concurrent Events" (Vol. 3A, "Interrupt and Exception Handling"),
// top to bottom. Reset, machine checks, task-switch traps, SMI and INIT are not modelled.
import { EventType } from '../engine/view';
import { acknowledge, deliverableVector } from './apic';
import { Vector, deliverEvent } from './deliver';
import type { Hart } from './hart';
import { RFLAGS, Shadow } from './state';
import { nonRootBoundary, nonRootWakes } from '../vmx/non-root';

/**
 * Deliver the highest-priority event that is due and not blocked. Returns true when one was
 * delivered (then `h.out` holds the DELIVER record).
 */
export function checkBoundary(h: Hart): boolean {
  if (h.vmx.nonRoot) return nonRootBoundary(h);
  const cpu = h.cpu;
  // 4. Traps on the previous instruction: the single-step #DB (SDM "Single-Step Exception
  //    Condition"). It is a trap: the pushed RIP is the next instruction. After MOV SS the
  //    processor "inhibits interrupts, debug exceptions, and single-step trap exceptions ...
  //    until the instruction boundary following the next instruction" (SDM "Masking Exceptions
  //    and Interrupts When Switching Stacks"): the trap stays pending across that boundary.
  if (cpu.dbTrapPending && !(cpu.shadow & Shadow.MOVSS)) {
    cpu.dbTrapPending = false;
    deliverEvent(h, Vector.DB, EventType.HW_EXCEPTION, 0, cpu.rip);
    return true;
  }
  // Blocking by STI and by MOV SS hold off NMIs and maskable interrupts for one instruction
  // (SDM "Interruptibility State"; whether STI blocks NMIs is model-specific: the lab follows
  // KVM's vmx_nmi_blocked and Bochs, which treat both shadows as blocking NMIs).
  const shadowed = cpu.shadow !== 0;
  // 5. Non-maskable interrupt, unless blocked by NMI (SDM "NMI Handling": from the delivery
  //    of an NMI until the next IRET).
  if (cpu.nmiPending && !cpu.nmiBlocked && !shadowed) {
    cpu.nmiPending = false;
    deliverEvent(h, Vector.NMI, EventType.NMI, 0, cpu.rip);
    return true;
  }
  // 6. Maskable hardware interrupt: IF=1, no shadow, and the APIC has a vector whose priority
  //    class is above the PPR (SDM "Interrupt Acceptance for Fixed Interrupts"). Accepting it
  //    moves the vector from IRR to ISR.
  if (cpu.rflags & RFLAGS.IF && !shadowed) {
    const v = deliverableVector(h.apic);
    if (v >= 0) {
      acknowledge(h.apic, v);
      deliverEvent(h, v, EventType.EXTINT, 0, cpu.rip);
      return true;
    }
  }
  return false;
}

/** Whether anything at this boundary could be delivered (used to decide whether HLT wakes). */
export function eventDeliverable(h: Hart): boolean {
  if (h.vmx.nonRoot) return nonRootWakes(h);
  const cpu = h.cpu;
  if (cpu.dbTrapPending && !(cpu.shadow & Shadow.MOVSS)) return true;
  if (cpu.shadow !== 0) return false;
  if (cpu.nmiPending && !cpu.nmiBlocked) return true;
  return (cpu.rflags & RFLAGS.IF) !== 0 && deliverableVector(h.apic) >= 0;
}
