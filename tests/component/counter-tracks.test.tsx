// @vitest-environment jsdom
// Counter tracks under the timeline, against the real core (soft-vnmi): added from the UI by a
// name the search resolves, drawn as a step line (a bit) or a value line (a number) on the
// timeline's axis, reading the value at the step shown; a name that is no value says why; a
// track can be removed; the tracks follow a new run.
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { counterSeries } from '../../src/core/engine/counter-series';
import { sessionRun } from '../../src/core/engine/search';
import { openSession } from '../../src/core/engine/session';
import { findBuiltin } from '../../src/core/scenario/builtins';
import { trackGeometry, valueAt } from '../../src/app/counters/counter-path';
import { axisScale, layoutFor } from '../../src/app/timeline/timeline-scale';
import { FakeSimClient } from './fake-client';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';
import { SessionClient } from './session-client';

resetDomBetweenTests();

function coreSeries(query: string) {
  const r = openSession({ doc: findBuiltin('soft-vnmi') }, {});
  if (!r.ok) throw new Error(r.error.message);
  const a = counterSeries(sessionRun(r.session), query);
  if (!a.ok) throw new Error(a.error.message);
  return a.series;
}

async function openSoftVnmi() {
  const client = new SessionClient();
  const app = await renderApp({ client: client as unknown as FakeSimClient, waitFor: null });
  await waitFor(() => expect(app.store.getState().info).not.toBeNull());
  await act(() => app.store.getState().pickBuiltin('soft-vnmi', { force: true }));
  await waitFor(() => expect(app.store.getState().info?.name).toBe('soft-vnmi'));
  return app;
}

async function addTrack(app: Awaited<ReturnType<typeof renderApp>>, query: string) {
  if (!screen.queryByTestId('counter-input')) await app.user.click(screen.getByTestId('counter-add-open'));
  const input = screen.getByTestId('counter-input');
  fireEvent.change(input, { target: { value: query } });
  await app.user.click(screen.getByTestId('counter-submit'));
}

const track = (label: string) =>
  screen.getAllByTestId('counter-track').find((t) => t.dataset.label === label);

describe('counter track geometry', () => {
  it('a bit is a step line, a number a value line, both on the timeline’s scale', () => {
    const bit = coreSeries('RFLAGS.IF of L1');
    const layout = layoutFor(1000, 1);
    const scale = axisScale('step', 100, 100, layout, { k: 1, x: 0 });
    const series = { ...bit, steps: [0, 10, 30], values: [0, 1, 0] };
    const g = trackGeometry(series, 'step', scale, null, 100, 26);
    // x = 112 + step · (1000 - 112 - 16) / 100; y: 0 → 22, 1 → 4.
    expect(g.line).toBe('M112 22 H199.2 V4 H373.6 V22 H984');
    const value = { ...series, shape: 'value' as const, min: 0, max: 4, values: [0, 2, 4] };
    expect(trackGeometry(value, 'step', scale, null, 100, 26).line).toBe('M112 22 L199.2 13 L373.6 4 H984');
    expect(valueAt(series, 9)).toBe(0);
    expect(valueAt(series, 10)).toBe(1);
    // A stretch without a value is a gap.
    const gap = { ...series, values: [0, null, 1] };
    expect(trackGeometry(gap, 'step', scale, null, 100, 26).line).toBe('M112 22 H199.2M373.6 4 H984');
  });
});

describe('counter tracks in the app', { timeout: 40000 }, () => {
  it('adds a bit track and a value track, reads the value at the step shown, removes one', async () => {
    const app = await openSoftVnmi();
    const bit = coreSeries('RFLAGS.IF of L1');
    await addTrack(app, 'RFLAGS.IF of L1');
    await waitFor(() => expect(track('RFLAGS.IF of L1')).toBeDefined());
    const t = track('RFLAGS.IF of L1')!;
    expect(t).toHaveAttribute('data-shape', 'bit');
    expect(t).toHaveAttribute('data-changes', String(bit.steps.length - 1));
    expect(within(t).getByTestId('counter-line').getAttribute('d')).toMatch(
      /^M[\d.]+ [\d.]+( H[\d.]+ V[\d.]+)+ H[\d.]+$/,
    );
    // The value at the step shown follows the playhead.
    const first = bit.steps[1];
    act(() => app.store.getState().seek(first));
    await untilStep(app.store, first);
    expect(within(track('RFLAGS.IF of L1')!).getByTestId('counter-value')).toHaveTextContent(
      String(bit.values[1]),
    );
    act(() => app.store.getState().seek(first - 1));
    await untilStep(app.store, first - 1);
    expect(within(track('RFLAGS.IF of L1')!).getByTestId('counter-value')).toHaveTextContent(
      String(bit.values[0]),
    );

    await addTrack(app, 'vnmi_blocked_time');
    await waitFor(() => expect(track('vnmi_blocked_time of L0')).toBeDefined());
    expect(track('vnmi_blocked_time of L0')).toHaveAttribute('data-shape', 'value');
    expect(within(track('vnmi_blocked_time of L0')!).getByTestId('counter-line').getAttribute('d')).toMatch(
      / L/,
    );

    await app.user.click(within(track('RFLAGS.IF of L1')!).getByTestId('counter-remove'));
    expect(track('RFLAGS.IF of L1')).toBeUndefined();
    expect(screen.getAllByTestId('counter-track')).toHaveLength(1);
  });

  it('a name that is no value says why and adds nothing', async () => {
    const app = await openSoftVnmi();
    await addTrack(app, 'exit 7');
    expect(await screen.findByTestId('counter-error')).toHaveTextContent('is not a value');
    expect(screen.queryAllByTestId('counter-track')).toHaveLength(0);
  });

  it('the tracks follow a new run (another parameter value)', async () => {
    const app = await openSoftVnmi();
    await addTrack(app, 'GUEST_INTERRUPTIBILITY_INFO.NMI');
    await waitFor(() => expect(screen.getAllByTestId('counter-track')).toHaveLength(1));
    expect(screen.getAllByTestId('counter-track')[0]).toHaveAttribute('data-shape', 'bit');
    const before = screen.getAllByTestId('counter-track')[0].dataset.changes;
    await act(() => app.store.getState().setParam('virtual_nmis', true, { force: true }));
    await waitFor(() =>
      expect(app.store.getState().info?.params.find((p) => p.key === 'virtual_nmis')?.value).toBe(true),
    );
    await waitFor(() => expect(screen.getAllByTestId('counter-track')[0].dataset.changes).toBeDefined());
    await waitFor(() => expect(screen.getAllByTestId('counter-track')[0].dataset.changes).not.toBe(before));
  });
});
