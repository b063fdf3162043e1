// @vitest-environment jsdom
import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { EventKind, type TimelineData } from '../../src/core/engine/view';
import { transitionTargets } from '../../src/app/timeline/visible-marks';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

function marks(kind: string): Element[] {
  return [...screen.getByTestId('timeline-svg').querySelectorAll(`[data-mark="${kind}"]`)];
}

async function openKvmRun() {
  const app = await renderApp();
  await app.user.selectOptions(screen.getByTestId('scenario-picker'), 'kvm-nmi');
  await untilStep(app.store, 0);
  // The picker keeps the keys while it has the focus, as a select does.
  (document.activeElement as HTMLElement | null)?.blur();
  await waitFor(() => expect(marks('exit')).toHaveLength(2));
  return app;
}

describe('timeline: VM transitions', () => {
  it('draws a VM exit as an arrow from the guest lane to the host lane at its step, with its reason', async () => {
    await openKvmRun();
    const [first, second] = marks('exit');
    expect(first).toHaveAttribute('data-step', '4');
    expect(first).toHaveAttribute('data-lane', '1');
    expect(first).toHaveAttribute('data-target', '0');
    // The reason comes with the step's details, fetched in the background.
    await waitFor(() => expect(first).toHaveAttribute('data-reason', '7'));
    expect(second).toHaveAttribute('data-reason', '8');
    expect(first.querySelector('title')).toHaveTextContent('VM exit L1 → L0, reason 7 INTERRUPT_WINDOW');
    expect(screen.getAllByTestId('exit-label').map((l) => l.textContent)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^7( INTERRUPT_WINDOW)?$/)]),
    );
  });

  it('draws VM entries from host to guest, the one that injects with the event’s colour', async () => {
    await openKvmRun();
    const entries = marks('entry');
    expect(
      entries.map((e) => [
        e.getAttribute('data-step'),
        e.getAttribute('data-lane'),
        e.getAttribute('data-target'),
      ]),
    ).toEqual([
      ['2', '0', '1'],
      ['6', '0', '1'],
    ]);
    await waitFor(() => expect(entries[0]).toHaveAttribute('data-injected', 'nmi'));
    // 0x202 has no valid bit: that entry injects nothing.
    await waitFor(() => expect(entries[1].querySelector('title')).toHaveTextContent('VMRESUME'));
    expect(entries[1]).not.toHaveAttribute('data-injected');
    expect(marks('decision').map((d) => d.getAttribute('data-lane'))).toEqual(['0', '0']);
    await waitFor(() =>
      expect(marks('decision')[1].querySelector('title')).toHaveTextContent('vmx_enable_nmi_window'),
    );
    const legend = screen.getByTestId('timeline-legend');
    for (const word of ['VM exit', 'VM entry', 'injected', 'decision'])
      expect(legend).toHaveTextContent(word);
  });

  it('draws the playhead line behind the marks', async () => {
    await openKvmRun();
    const svg = screen.getByTestId('timeline-svg');
    const all = [...svg.querySelectorAll('[data-testid="playhead-line"], [data-mark="exit"]')];
    expect(all[0]).toHaveAttribute('data-testid', 'playhead-line');
  });

  it('finds where each transition goes from the events that follow', () => {
    const data: TimelineData = {
      totalSteps: 6,
      steps: [1, 2, 3, 4, 5, 6],
      times: [1, 2, 3, 4, 5, 6],
      levels: [0, 0, 2, 2, 0, 0],
      kinds: [
        EventKind.DECISION,
        EventKind.VMENTRY,
        EventKind.INSTR,
        EventKind.VMEXIT,
        EventKind.DECISION,
        EventKind.VMEXIT,
      ],
      vectors: [-1, -1, -1, -1, -1, -1],
      types: [-1, -1, -1, -1, -1, -1],
    };
    // L0 enters L2 directly (a merged vmcs02), L2 exits to L0; an exit at L0 (an entry failure) has no lane below.
    expect([...transitionTargets(data)]).toEqual([-1, 2, -1, 0, -1, -1]);
  });
});

describe('shortcuts: by VM transition and by decision', () => {
  it('x / X step through VM exits and entries, d / D through decisions', async () => {
    const { user, store, client } = await openKvmRun();
    await user.keyboard('x');
    await untilStep(store, 2);
    expect(client.callsOf('findStep').at(-1)?.args).toEqual([0, 1, ['vmentry', 'vmexit']]);
    await user.keyboard('x');
    await untilStep(store, 4);
    await user.keyboard('X');
    await untilStep(store, 2);
    await user.keyboard('d');
    await untilStep(store, 5);
    expect(client.callsOf('findStep').at(-1)?.args).toEqual([2, 1, ['decision']]);
    await user.keyboard('D');
    await untilStep(store, 1);
    await user.click(screen.getByTestId('btn-next-transition'));
    await untilStep(store, 2);
    await user.click(screen.getByTestId('btn-next-decision'));
    await untilStep(store, 5);
    await user.click(screen.getByTestId('btn-prev-decision'));
    await untilStep(store, 1);
    expect(screen.getByTestId('btn-next-decision')).toHaveAttribute('title', 'Next hypervisor decision (d)');
  });

  it('the buttons say which way they go; transitions are disabled in a run without them', async () => {
    await renderApp();
    expect(screen.getByTestId('btn-prev-delivery')).toHaveAccessibleName('Previous delivery');
    expect(screen.getByTestId('btn-next-delivery')).toHaveAccessibleName('Next delivery');
    await waitFor(() => expect(screen.getByTestId('btn-next-transition')).toBeDisabled());
    expect(screen.getByTestId('btn-next-decision')).toBeDisabled();
  });

  it('no shortcut acts while the help is open, except its close keys', async () => {
    const { user, store } = await renderApp();
    await user.keyboard('?');
    expect(screen.getByTestId('help-overlay')).toBeInTheDocument();
    await user.keyboard('l');
    await user.keyboard('n');
    await user.keyboard('{End}');
    expect(store.getState().step).toBe(0);
    await user.keyboard('?');
    expect(screen.queryByTestId('help-overlay')).toBeNull();
    await user.keyboard('l');
    await untilStep(store, 1);
  });
});
