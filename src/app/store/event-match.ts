// "The same event" in another variant of a scenario: the event's kind, and how many events of
// that kind came before it. Read from the timeline's columns, which hold every event except,
// in very long runs, some instruction ticks: then an instruction cannot be matched.
import { EventKind, type TimelineData } from '../../core/engine/view';

export interface EventPosition {
  kind: number;
  /** Events of that kind before it. */
  ordinal: number;
}

/** Index of the timeline column entry for `step`, or -1. */
function indexOfStep(data: TimelineData, step: number): number {
  let lo = 0;
  let hi = data.steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (data.steps[mid] < step) lo = mid + 1;
    else hi = mid;
  }
  return data.steps[lo] === step ? lo : -1;
}

/** Where the event that produced `step` stands among its kind; null at step 0 or when unknown. */
export function eventAt(data: TimelineData | null, step: number): EventPosition | null {
  if (!data || step <= 0) return null;
  const i = indexOfStep(data, step);
  if (i < 0) return null;
  const kind = data.kinds[i];
  // Thinned instruction ticks leave gaps: counting would be wrong for them.
  if (data.steps.length < data.totalSteps && kind === EventKind.INSTR) return null;
  let ordinal = 0;
  for (let j = 0; j < i; j++) if (data.kinds[j] === kind) ordinal += 1;
  return { kind, ordinal };
}

/**
 * The step of the same event in another run: the ordinal-th event of the kind, or the last
 * of that kind when the run has fewer; null when it has none (the caller keeps its step).
 */
export function landingStep(data: TimelineData, at: EventPosition): number | null {
  let seen = 0;
  let last: number | null = null;
  for (let j = 0; j < data.kinds.length; j++) {
    if (data.kinds[j] !== at.kind) continue;
    if (seen === at.ordinal) return data.steps[j];
    seen += 1;
    last = data.steps[j];
  }
  return last;
}
