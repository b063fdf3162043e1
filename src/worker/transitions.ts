// The trace's VM exits, VM entries and decisions with their numbers, for the timeline: a few
// hundred or thousand events even in a long run (instructions are left out).
import { EventKind } from '../core/engine/view';
import type { Trace } from '../core/engine/trace';
import type { TransitionColumns } from './protocol';

export function transitionColumns(t: Trace): TransitionColumns {
  const out: TransitionColumns = { steps: [], d0: [], d1: [], d2: [] };
  for (let i = 0; i < t.length; i++) {
    const k = t.kind[i];
    if (k !== EventKind.VMEXIT && k !== EventKind.VMENTRY && k !== EventKind.DECISION) continue;
    out.steps.push(i + 1);
    out.d0.push(t.d0[i]);
    out.d1.push(t.d1[i]);
    out.d2.push(t.d2[i]);
  }
  return out;
}
