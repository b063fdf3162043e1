// "The same event" in another variant: kind and order, read from the timeline's columns.
import { describe, expect, it } from 'vitest';
import { EventKind, type TimelineData } from '../../src/core/engine/view';
import { eventAt, landingStep } from '../../src/app/store/event-match';

const { INSTR, DELIVER, IRET, VMEXIT } = EventKind;

function timeline(
  kinds: number[],
  totalSteps = kinds.length,
  steps = kinds.map((_, i) => i + 1),
): TimelineData {
  const none = kinds.map(() => -1);
  return { totalSteps, steps, times: steps, levels: kinds.map(() => 0), kinds, vectors: none, types: none };
}

describe('event match', () => {
  const a = timeline([INSTR, DELIVER, INSTR, VMEXIT, DELIVER, IRET]);
  const b = timeline([INSTR, INSTR, INSTR, DELIVER, VMEXIT, VMEXIT, DELIVER, INSTR, IRET]);

  it('finds the event of the same kind and order', () => {
    expect(eventAt(a, 5)).toEqual({ kind: DELIVER, ordinal: 1 });
    expect(landingStep(b, eventAt(a, 5)!)).toBe(7);
    expect(landingStep(b, eventAt(a, 2)!)).toBe(4);
    expect(landingStep(b, eventAt(a, 6)!)).toBe(9);
  });

  it('falls back to the last of the kind, and to nothing when the run has none', () => {
    expect(landingStep(a, eventAt(b, 6)!)).toBe(4); // the second VM exit: a has one
    expect(landingStep(timeline([INSTR, INSTR]), eventAt(a, 4)!)).toBeNull();
  });

  it('does not count instructions in a thinned timeline, nor step 0', () => {
    const thinned = timeline([INSTR, DELIVER, INSTR], 10, [2, 5, 9]);
    expect(eventAt(thinned, 9)).toBeNull();
    expect(eventAt(thinned, 5)).toEqual({ kind: DELIVER, ordinal: 0 });
    expect(eventAt(a, 0)).toBeNull();
    expect(eventAt(null, 3)).toBeNull();
  });
});
