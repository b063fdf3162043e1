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
