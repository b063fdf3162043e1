// External events as the engine raises them: timed ones in time order, label triggers armed
// with a delay, and the raise itself at the target level's interrupt controller.
import { requestInterrupt } from '../cpu/apic';
import type { Hart } from '../cpu/hart';
import type { CompiledScenario, ExternalRaise } from '../scenario/load';
import type { SimState } from './machine';
import type { EventRaiser } from './xen-levels';
import { EventKind, EventType } from './view';

/** A label trigger armed with `after` that is due now (the earliest), or -1. */
function armedDue(s: SimState): number {
  const a = s.armed;
  let best = -1;
  for (let i = 0; i < a.length; i++)
    if (a[i] >= 0 && a[i] <= s.time && (best < 0 || a[i] < a[best])) best = i;
  return best;
}

/** The earliest time an armed label trigger is due, or Infinity. */
export function nextArmed(s: SimState): number {
  let t = Infinity;
  for (let i = 0; i < s.armed.length; i++) if (s.armed[i] >= 0 && s.armed[i] < t) t = s.armed[i];
  return t;
}

/** An external event is due now. */
export function externalDue(c: CompiledScenario, s: SimState): boolean {
  return (s.nextTimed < c.timed.length && c.timed[s.nextTimed].time <= s.time) || armedDue(s) >= 0;
}

/** The event due now, taken off its queue: a timed one, or an armed label trigger (earlier first). */
export function takeDueEvent(c: CompiledScenario, s: SimState): ExternalRaise {
  const i = armedDue(s);
  if (i >= 0 && !(s.nextTimed < c.timed.length && c.timed[s.nextTimed].time < s.armed[i])) {
    s.armed[i] = -1;
    return c.triggers[i];
  }
  return c.timed[s.nextTimed++];
}

/**
 * Raise an external event at its target's interrupt controller: level 0 is the physical APIC
 * (or the processor's NMI latch); level 1 above KVM is the vCPU's APIC that KVM emulates
 * (kvm_apic_set_irq / kvm_inject_nmi), or above Xen its vLAPIC (vlapic_set_irq, an NMI), and a
 * running vCPU is kicked out of the guest with an IPI (kvm_vcpu_kick, vcpu_kick).
 */
export function raise(s: SimState, e: ExternalRaise, h: Hart, levels: EventRaiser): void {
  let kicked = 0;
  if (e.target > 0) {
    kicked = levels.raiseAt(e.target, e.vector, e.nmi) ? 1 : 0;
  } else if (e.nmi)
    s.cpu.nmiPending = true; // the NMI latch holds one NMI (SDM "NMI Handling")
  else requestInterrupt(s.apic, e.vector);
  h.out.kind = EventKind.RAISE;
  h.out.rip = s.cpu.rip;
  h.out.d0 = (e.vector & 0xff) | ((e.nmi ? EventType.NMI : EventType.EXTINT) << 8);
  h.out.d1 = e.index;
  h.out.d2 = (e.target << 8) | (kicked << 1);
}
