// What the processor does at an instruction boundary before fetching the next instruction:
// the SDM's "Priority Among Concurrent Events" (Vol. 3A, "Interrupt and Exception Handling"),
// top to bottom. Reset, machine checks, task-switch traps, SMI and INIT are not modelled. In
// VMX non-root operation vmx/non-root.ts decides instead, with the VMX events spliced in.
import { EventType } from '../engine/view';
import { nonRootBoundary, nonRootWakes } from '../vmx/non-root';
import { svmBoundary, svmWakes } from '../svm/guest';
import { acknowledge, deliverableVector } from './apic';
import { Boundary, mwaitWake, singleStepDue } from './boundary-events';
import { takeDebugTrap } from './debug';
import { Vector, deliverEvent } from './deliver';
import type { Hart } from './hart';
import { Activity, RFLAGS, Shadow } from './state';
import { HW, beginBoundary, decided, hw, hwApic, nextCheck } from '../causes/why';

/** The highest-priority event due and not blocked at this boundary (bare metal or root). Pure. */
export function boundaryEvent(h: Hart): number {
  const cpu = h.cpu;
  // Each check notes what it reads (causes/why.ts; nothing is noted in a run).
  beginBoundary(h);
  // 4. Traps on the previous instruction: the single-step #DB (SDM "Single-Step Exception
  //    Condition"). It is a trap: the pushed RIP is the next instruction.
  if (hw(h, HW.DEBUG_TRAP, singleStepDue(cpu))) return decided(h, Boundary.DEBUG_TRAP);
  // Blocking by STI and by MOV SS hold off NMIs and maskable interrupts for one instruction
  // (SDM "Interruptibility State"; whether STI blocks NMIs is model-specific: the lab follows
  // KVM's vmx_nmi_blocked and Bochs, which treat both shadows as blocking NMIs).
  nextCheck(h, true);
  if (hw(h, HW.SHADOW_STI, cpu.shadow & Shadow.STI) || hw(h, HW.SHADOW_MOVSS, cpu.shadow & Shadow.MOVSS))
    return Boundary.NONE;
  // AMD "Global Interrupt Flag": GIF = 0 holds NMIs and interrupts pending (STGI takes them).
  if (!h.svm.gif) return Boundary.NONE;
  // 5. Non-maskable interrupt, unless blocked by NMI (SDM "NMI Handling": from the delivery
  //    of an NMI until the next IRET).
  nextCheck(h);
  if (hw(h, HW.NMI_PENDING, cpu.nmiPending) && !hw(h, HW.NMI_BLOCKED, cpu.nmiBlocked))
    return decided(h, Boundary.NMI_DELIVERY);
  // 6. Maskable hardware interrupt: IF=1 and the APIC has a vector whose priority class is
  //    above the PPR (SDM "Interrupt Acceptance for Fixed Interrupts").
  nextCheck(h);
  if (hwApic(h, deliverableVector(h.apic)) >= 0) {
    if (hw(h, HW.RFLAGS_IF, cpu.rflags & RFLAGS.IF)) return decided(h, Boundary.EXTINT_DELIVERY);
    if (cpu.activity === Activity.HLT && cpu.mwaitBreak) return decided(h, Boundary.MWAIT_WAKE);
  }
  return Boundary.NONE;
}

/**
 * Deliver the highest-priority event that is due and not blocked. Returns true when one was
 * delivered (then `h.out` holds its record).
 */
export function checkBoundary(h: Hart): boolean {
  if (h.vmx.nonRoot) return nonRootBoundary(h);
  if (h.svm.guest) return svmBoundary(h);
  const cpu = h.cpu;
  switch (boundaryEvent(h)) {
    case Boundary.DEBUG_TRAP:
      deliverEvent(h, Vector.DB, EventType.HW_EXCEPTION, 0, cpu.rip, { debugCause: takeDebugTrap(cpu) });
      return true;
    case Boundary.NMI_DELIVERY:
      cpu.nmiPending = false;
      deliverEvent(h, Vector.NMI, EventType.NMI, 0, cpu.rip);
      return true;
    case Boundary.EXTINT_DELIVERY: {
      // Accepting the interrupt moves its vector from IRR to ISR.
      const v = deliverableVector(h.apic);
      acknowledge(h.apic, v);
      deliverEvent(h, v, EventType.EXTINT, 0, cpu.rip);
      return true;
    }
    case Boundary.MWAIT_WAKE:
      mwaitWake(cpu, h.out);
      return true;
    default:
      return false;
  }
}

/** Whether anything at this boundary ends HLT (a delivery, or in non-root a VM exit). */
export function eventDeliverable(h: Hart): boolean {
  if (h.vmx.nonRoot) return nonRootWakes(h);
  if (h.svm.guest) return svmWakes(h);
  return boundaryEvent(h) !== Boundary.NONE;
}
