// A hypervisor at L0 takes its host's own interrupts between its decisions (the model does not
// run its host code instruction by instruction): an NMI first, then the highest deliverable
// vector, acknowledged (IRR → ISR) and EOI'd as the host kernel's handler would. On AMD,
// GIF = 0 (from #VMEXIT until the hypervisor's STGI) holds both pending.
import { acknowledge, deliverableVector, eoi } from '../cpu/apic';
import type { Hart } from '../cpu/hart';

/** The vector taken (2 for an NMI), or -1 when nothing can be taken now. */
export function takeHostInterrupt(h: Hart): number {
  const cpu = h.cpu;
  if (!h.svm.gif) return -1;
  if (cpu.nmiPending && !cpu.nmiBlocked) {
    cpu.nmiPending = false;
    return 2;
  }
  const v = deliverableVector(h.apic);
  if (v < 0) return -1;
  acknowledge(h.apic, v);
  eoi(h.apic);
  return v;
}
