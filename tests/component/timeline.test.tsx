// @vitest-environment jsdom
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { EventKind, EventType, type TimelineData } from '../../src/core/engine/view';
import { axisScale, layoutFor, stepAtX, xOfStep } from '../../src/app/timeline/timeline-scale';
import { stepsInView, visibleMarks } from '../../src/app/timeline/visible-marks';
import { FakeSimClient } from './fake-client';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

function marks(kind: string): Element[] {
  return [...screen.getByTestId('timeline-svg').querySelectorAll(`[data-mark="${kind}"]`)];
}

/** jsdom has no layout: the timeline uses its default width of 960. */
const layout = layoutFor(960, 1);

describe('timeline', () => {
  it('draws one lane per level', async () => {
    await renderApp({ client: new FakeSimClient({ levels: 2 }) });
    const lanes = screen.getAllByTestId('timeline-lane');
    expect(lanes.map((l) => l.getAttribute('data-level'))).toEqual(['0', '1']);
    expect(lanes[0]).toHaveTextContent('L0');
    expect(lanes[1]).toHaveTextContent('L1');
  });

  it('marks each kind of event: ticks, raise, delivery by type, IRET, assert', async () => {
    await renderApp();
    await waitFor(() => expect(marks('delivery')).toHaveLength(1));
    expect(marks('delivery')[0]).toHaveAttribute('data-category', 'extint');
    expect(marks('delivery')[0]).toHaveAttribute('data-step', '4');
    expect(marks('raise')).toHaveLength(1);
    expect(marks('iret')).toHaveLength(1);
    expect(marks('iret')[0]).toHaveAttribute('data-step', '7');
    await waitFor(() => expect(marks('assert')[0]).toHaveAttribute('data-category', 'assert-pass'));
    // Instruction ticks are drawn on the canvas: 5 pixel columns of them in lane 0.
    await waitFor(() => expect(screen.getByTestId('timeline-canvas')).toHaveAttribute('data-ticks', '5'));
    expect(screen.getByTestId('timeline-legend')).toHaveTextContent('NMI');
  });

  it('colours NMIs, failed asserts and shutdown by their kind', async () => {
    const { user, store } = await renderApp();
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'nmi-nesting');
    await untilStep(store, 0);
    await waitFor(() => expect(marks('delivery')).toHaveLength(2));
    expect(marks('delivery').map((m) => m.getAttribute('data-category'))).toEqual(['nmi', 'nmi']);
    expect(marks('raise').map((m) => m.getAttribute('data-category'))).toEqual(['nmi', 'nmi']);
    await waitFor(() => expect(marks('assert')[0]).toHaveAttribute('data-category', 'assert-fail'));
    expect(marks('shutdown')).toHaveLength(1);
  });

  it('seeks where it is clicked, and the playhead follows the step', async () => {
    const { store } = await renderApp();
    const svg = screen.getByTestId('timeline-svg');
    const scale = axisScale('step', 9, 0, layout, { k: 1, x: 0 });
    fireEvent.click(svg, { clientX: scale(5) + 2 });
    await untilStep(store, 5);
    expect(screen.getByTestId('playhead')).toHaveAttribute('data-step', '5');
    expect(screen.getByTestId('playhead').getAttribute('transform')).toBe(`translate(${scale(5)}, 0)`);

    // A click in the lane labels does nothing.
    fireEvent.click(svg, { clientX: 20 });
    await untilStep(store, 5);
  });

  it('seeks by cycles when the axis shows time', async () => {
    const { user, store } = await renderApp();
    await waitFor(() => expect(store.getState().timeline).not.toBeNull());
    await user.click(screen.getByTestId('timeline-axis-cycles'));
    const info = store.getState().info!;
    const scale = axisScale('cycles', info.totalSteps, info.endTime, layout, { k: 1, x: 0 });
    // Step 3 (the IRQ raised) happens at cycle 402; step 4 at 422.
    fireEvent.click(screen.getByTestId('timeline-svg'), { clientX: scale(410) });
    await untilStep(store, 3);
  });
});

describe('timeline geometry and decimation', () => {
  function bigTrace(n: number): TimelineData {
    const data: TimelineData = {
      totalSteps: n,
      steps: [],
      times: [],
      levels: [],
      kinds: [],
      vectors: [],
      types: [],
    };
    for (let i = 1; i <= n; i++) {
      const deliver = i % 1000 === 0;
      data.steps.push(i);
      data.times.push(i * 3);
      data.levels.push(i % 2);
      data.kinds.push(deliver ? EventKind.DELIVER : EventKind.INSTR);
      data.vectors.push(deliver ? 0x30 : -1);
      data.types.push(deliver ? EventType.EXTINT : -1);
    }
    return data;
  }

  it('leaves 300 marks among 300k events to the canvas, and counts every event in view', () => {
    const data = bigTrace(300_000);
    const l = layoutFor(1200, 2);
    const scale = axisScale('step', data.totalSteps, 900_000, l, { k: 1, x: 0 });
    const drawn = visibleMarks(data, scale, 'step', 2, () => true);
    const [d0, d1] = scale.domain();
    expect(stepsInView(d0, d1, data.totalSteps)).toBe(300_000);
    expect(drawn.marksInView).toBe(300);
    // 300 marks in 1,072 px are fewer than SVG_MARKS: drawn one by one, at most one a pixel.
    expect(drawn.dense).toBe(false);
    expect(drawn.marks.every((m) => m.kind === 'delivery' && m.category === 'extint')).toBe(true);
  });

  it('does not count marks folded away: 600 deliveries, 500 of them folded, are drawn one by one', () => {
    // A delivery every 500 steps of 300,000: 600 marks, more than SVG_MARKS.
    const data = bigTrace(300_000);
    for (let i = 0; i < data.steps.length; i++)
      if (data.steps[i] % 500 === 0) {
        data.kinds[i] = EventKind.DELIVER;
        data.vectors[i] = 0x30;
        data.types[i] = EventType.EXTINT;
      }
    const l = layoutFor(1200, 2);
    const scale = axisScale('step', data.totalSteps, 900_000, l, { k: 1, x: 0 });
    expect(visibleMarks(data, scale, 'step', 2, () => true).dense).toBe(true);
    const hidden = new Uint8Array(data.steps.length);
    let folded = 0;
    for (let i = 0; i < data.steps.length && folded < 500; i++)
      if (data.kinds[i] === EventKind.DELIVER) {
        hidden[i] = 1;
        folded++;
      }
    const drawn = visibleMarks(data, scale, 'step', 2, () => true, hidden);
    expect(drawn.dense).toBe(false);
    expect(drawn.marks.length).toBe(100);
  });

  it('draws only the visible range when zoomed in', () => {
    const data = bigTrace(300_000);
    const l = layoutFor(1200, 2);
    // Zoomed ×1000 around the middle of the run.
    const k = 1000;
    const base = axisScale('step', data.totalSteps, 0, l, { k: 1, x: 0 });
    const x = l.left + (l.width - l.right - l.left) / 2 - k * base(150_000);
    const scale = axisScale('step', data.totalSteps, 0, l, { k, x });
    const drawn = visibleMarks(data, scale, 'step', 2, () => true);
    const [d0, d1] = scale.domain();
    expect(stepsInView(d0, d1, data.totalSteps)).toBeLessThan(400);
    expect(stepsInView(d0, d1, data.totalSteps)).toBeGreaterThan(250);
    expect(drawn.marks.map((m) => m.step)).toEqual([150_000]);
  });

  it('converts between steps and x on both axes', () => {
    const data = bigTrace(100);
    const l = layoutFor(1000, 1);
    const steps = axisScale('step', 100, 300, l, { k: 1, x: 0 });
    expect(stepAtX('step', steps, data, xOfStep('step', steps, data, 42), 100)).toBe(42);
    const cycles = axisScale('cycles', 100, 300, l, { k: 1, x: 0 });
    expect(xOfStep('cycles', cycles, data, 42)).toBeCloseTo(cycles(126));
    expect(stepAtX('cycles', cycles, data, cycles(127), 100)).toBe(42);
    expect(stepAtX('step', steps, data, 5000, 100)).toBe(100);
    expect(stepAtX('step', steps, data, -50, 100)).toBe(0);
  });
});

describe('axis labels', () => {
  it('writes steps and cycles with separators, and cycles as time at the TSC rate', async () => {
    const { formatTick, formatCyclesAsTime } = await import('../../src/app/timeline/timeline-scale');
    expect(formatTick('step', 250000)).toBe('250,000');
    expect(formatTick('cycles', 6847200)).toBe('6,847,200');
    // 2 GHz: 200 cycles are 100 ns; labels 200 cycles apart need 1 decimal of µs.
    expect(formatCyclesAsTime(6847200, 2e9, 200)).toBe('3.4236 ms');
    expect(formatCyclesAsTime(100000, 2e9, 100000)).toBe('50 µs');
    expect(formatCyclesAsTime(0, 2e9, 100000)).toBe('0 µs');
    expect(formatCyclesAsTime(3e9, 2e9, 1e9)).toBe('1.5 s');
    expect(formatCyclesAsTime(500, 1e9, 100)).toBe('500 ns');
  });

  it('keeps a label near either end inside the timeline', async () => {
    const { axisLabelAnchor } = await import('../../src/app/timeline/TimelineAxis');
    expect(axisLabelAnchor(600, 7, 112, 1280)).toBe('middle');
    expect(axisLabelAnchor(1264, 7, 112, 1280)).toBe('end');
    expect(axisLabelAnchor(112, 9, 112, 1280)).toBe('start');
  });
});

describe('canvas hit-testing', () => {
  it('a click on a drawn mark selects that event, at every width', async () => {
    const { canvasHit } = await import('../../src/app/timeline/TimelineCanvas');
    const { timelineRange } = await import('../../src/core/engine/timeline-range');
    const { Trace } = await import('../../src/core/engine/trace');
    // 10,000 steps: instructions, a delivery every 97 steps (lane 0).
    const t = new Trace();
    for (let i = 0; i < 10_000; i++) {
      const deliver = i % 97 === 50;
      t.append(
        { kind: deliver ? EventKind.DELIVER : EventKind.INSTR, rip: 0, d0: 0x20, d1: 0, d2: 0 } as never,
        0,
        i,
      );
    }
    for (const width of [400, 1280, 3000]) {
      const l = layoutFor(width, 1);
      for (const k of [1, 20, 400]) {
        const base = axisScale('step', 10_000, 0, l, { k: 1, x: 0 });
        const x = l.left + (width - l.right - l.left) / 2 - k * base(5_000);
        const scale = axisScale('step', 10_000, 0, l, { k, x });
        const [d0, d1] = scale.domain();
        const range = timelineRange(t, {
          axis: 'step',
          t0: d0,
          t1: d1,
          pixels: width - l.left - l.right,
          lanes: 1,
        });
        // The delivery nearest the middle of the view: step 97n + 51.
        const step = 97 * Math.round((5_000 - 51) / 97) + 51;
        const hit = canvasHit(range, scale, 0, scale(step), true);
        if (k === 1) {
          // Zoomed out, a pixel holds several events: the delivery drawn there.
          expect(hit).not.toBeNull();
          expect(Math.abs(hit! - step)).toBeLessThanOrEqual(Math.ceil(10_000 / (width - 128)) + 1);
          expect(t.kind[hit! - 1]).toBe(EventKind.DELIVER);
        } else expect(hit).toBe(step);
        // Beside it (2 px off) it is still that mark, within the slop.
        if (k === 400) expect(canvasHit(range, scale, 0, scale(step) + 2, true)).toBe(step);
      }
    }
  });
});

describe('stable marks', () => {
  it('an 8-px pan moves the mark elements, it does not recreate them (keys are event steps)', async () => {
    const { store } = await renderApp();
    await waitFor(() => expect(marks('delivery')).toHaveLength(1));
    const all = () => [...screen.getByTestId('timeline-svg').querySelectorAll('[data-mark][data-step]')];
    const before = all();
    expect(before.length).toBeGreaterThan(2);
    const { act } = await import('@testing-library/react');
    act(() => store.getState().setTimelineZoom({ k: 1.5, x: -100 }));
    const zoomed = all();
    act(() => store.getState().setTimelineZoom({ k: 1.5, x: -108 }));
    const panned = all();
    // Every mark still in view is the same element as before the pan.
    const kept = panned.filter((el) => zoomed.includes(el));
    expect(panned.length).toBeGreaterThan(0);
    expect(kept).toEqual(panned);
  });
});
