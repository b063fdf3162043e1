// A hypervisor model's decision as a trace event: the function that decided (an index into the
// model's function table, hypervisors/functions.ts) and two numbers of its own. Every model
// steps the same way: a decision recorded, a wait for an event, or the vCPU gone.
import type { Hart } from '../cpu/hart';
import { EventKind } from '../engine/view';

export type HypervisorStepResult = 'recorded' | 'wait' | 'stopped';

export function recordDecision(h: Hart, fnId: number, d1 = 0, d2 = 0): 'recorded' {
  h.out.kind = EventKind.DECISION;
  h.out.rip = h.cpu.rip;
  h.out.d0 = fnId;
  h.out.d1 = d1 >>> 0;
  h.out.d2 = d2 >>> 0;
  return 'recorded';
}
