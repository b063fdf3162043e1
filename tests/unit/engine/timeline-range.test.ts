// The timeline's visible-range aggregation (src/core/engine/timeline-range.ts): per-pixel
// buckets computed from the whole trace, with the real count of events in view.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openSession } from '../../../src/core/engine/session';
import { rangeIndices, timelineRange } from '../../../src/core/engine/timeline-range';
import { Trace } from '../../../src/core/engine/trace';
import { EventKind, EventType } from '../../../src/core/engine/view';

/** A trace from [kind, level, time, d0, d1] rows. */
function trace(rows: [number, number, number, number?, number?][]): Trace {
  const t = new Trace();
  for (const [kind, level, time, d0 = 0, d1 = 0] of rows)
    t.append({ kind, rip: 0, d0, d1, d2: 0 } as never, level, time);
  return t;
}

describe('timelineRange', () => {
  const I = EventKind.INSTR;
  const t = trace([
    [I, 0, 10], // step 1
    [I, 0, 20], // 2
    [EventKind.DELIVER, 0, 30, (EventType.NMI << 8) | 2], // 3
    [I, 0, 40], // 4
    [EventKind.VMENTRY, 0, 50], // 5
    [I, 1, 60], // 6
    [EventKind.VMEXIT, 1, 70, 7], // 7
    [EventKind.ASSERT, 0, 80, 0, 0], // 8: a failed assert
    [EventKind.IDLE, 0, 90], // 9
  ]);

  it('puts each step in its pixel bucket when zoomed to one step a pixel', () => {
    const r = timelineRange(t, { axis: 'step', t0: 1, t1: 10, pixels: 9, lanes: 2 });
    expect(r.events).toBe(9);
    expect(Array.from(r.instr.slice(0, 9))).toEqual([1, 1, 0, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(r.instr.slice(9, 18))).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0]);
    expect(r.topKind[2]).toBe(EventKind.DELIVER);
    expect(r.topType[2]).toBe(EventType.NMI);
    expect(r.topStep[2]).toBe(3);
    expect(r.topKind[9 + 6]).toBe(EventKind.VMEXIT);
    expect(r.topStep[9 + 6]).toBe(7);
    expect(r.idle[8]).toBe(1);
    expect(r.firstStep[8]).toBe(9);
  });

  it('aggregates into density bars when zoomed out, keeping the most salient mark', () => {
    const r = timelineRange(t, { axis: 'step', t0: 1, t1: 10, pixels: 1, lanes: 2 });
    expect(r.instr[0]).toBe(3);
    expect(r.marks[0]).toBe(3); // delivery, entry, assert
    expect(r.topKind[0]).toBe(EventKind.ASSERT); // a failed assert outranks all
    expect(r.topStep[0]).toBe(8);
    expect(r.firstStep[0]).toBe(1);
    expect(r.marks[1]).toBe(1);
    expect(r.topStep[1]).toBe(7);
  });

  it('counts the events of a cycles range from the time column', () => {
    expect(rangeIndices(t, 'cycles', 25, 70)).toEqual([2, 7]);
    const r = timelineRange(t, { axis: 'cycles', t0: 25, t1: 70, pixels: 10, lanes: 2 });
    expect(r.events).toBe(5);
    expect(r.topStep[1]).toBe(3); // time 30: (30 - 25) / 4.5 cycles a bucket → bucket 1
    expect(r.topStep[9]).toBe(0); // the exit (time 70) is in lane 1
    expect(r.topStep[10 + 9]).toBe(7);
  });

  it('returns no events for an empty or inverted range', () => {
    expect(timelineRange(t, { axis: 'step', t0: 20, t1: 30, pixels: 5, lanes: 2 }).events).toBe(0);
    expect(timelineRange(t, { axis: 'step', t0: 5, t1: 4, pixels: 5, lanes: 2 }).events).toBe(0);
  });

  it('draws every instruction of a run past 200,000 events when zoomed in (never thinned)', () => {
    const text = readFileSync(new URL('../../../bench/dense-timer.json', import.meta.url), 'utf8');
    const opened = openSession({ text });
    if (!opened.ok) throw new Error(opened.error.message);
    const tr = opened.session.sim.trace;
    expect(tr.length).toBeGreaterThan(200_000);
    // 40 steps over 400 px: every instruction of lane 1 in the range has its own bucket.
    const t0 = 250_001;
    const r = timelineRange(tr, { axis: 'step', t0, t1: t0 + 40, pixels: 400, lanes: 2 });
    let instrs = 0;
    for (let i = t0 - 1; i < t0 + 40; i++) if (tr.kind[i] === EventKind.INSTR) instrs++;
    let drawn = 0;
    for (let b = 0; b < 800; b++) drawn += r.instr[b];
    expect(drawn).toBe(instrs);
    expect(instrs).toBeGreaterThan(5);
    expect(r.events).toBe(41);
    // Every mark's step is an event of that kind in the trace.
    for (let b = 0; b < 800; b++) if (r.topStep[b]) expect(tr.kind[r.topStep[b] - 1]).toBe(r.topKind[b]);
  }, 60_000); // a 300,000-step run: a few seconds on a loaded machine
});
