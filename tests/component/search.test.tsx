// @vitest-environment jsdom
// Go to and search: the palette (Ctrl+K, the transport's button), each query kind with its
// results, next/previous, the timeline's marks, unreadable queries, and step links in KVM's
// log, the assertions and the explanation.
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { KVM_FUNCTIONS } from '../../src/core/hypervisors/kvm/functions';
import { FakeSimClient } from './fake-client';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';
import { SessionClient } from './session-client';

resetDomBetweenTests();

async function kvmRun() {
  const app = await renderApp();
  await app.user.selectOptions(screen.getByTestId('scenario-picker'), 'kvm-nmi');
  await untilStep(app.store, 0);
  await waitFor(() => expect(app.store.getState().info?.name).toBe('kvm-nmi'));
  await waitFor(() => expect(app.store.getState().timeline).not.toBeNull());
  return app;
}

async function query(app: Awaited<ReturnType<typeof renderApp>>, text: string) {
  if (!screen.queryByTestId('palette')) await app.user.keyboard('{Control>}k{/Control}');
  const input = await screen.findByTestId('palette-input');
  await app.user.clear(input);
  await app.user.type(
    input,
    text.replace(/[[{]/g, (c) => c + c),
  );
  await app.user.keyboard('{Enter}');
}

const resultSteps = () =>
  screen.getAllByTestId('palette-result').map((li) => Number(li.getAttribute('data-step')));

describe('the palette', () => {
  it('opens with Ctrl+K and with the transport’s button; Escape closes it; the help lists Ctrl+K', async () => {
    const app = await renderApp();
    await app.user.keyboard('{Control>}k{/Control}');
    expect(screen.getByTestId('palette-input')).toHaveFocus();
    expect(screen.getByTestId('palette-help')).toHaveTextContent('RFLAGS.IF of L1');
    await app.user.keyboard('{Escape}');
    expect(screen.queryByTestId('palette')).toBeNull();
    await app.user.click(screen.getByTestId('btn-search'));
    expect(screen.getByTestId('palette-input')).toHaveFocus();
    await app.user.keyboard('{Escape}');
    await app.user.keyboard('?');
    expect(screen.getByTestId('help-action-openPalette')).toHaveTextContent('Ctrl+K');
    expect(screen.getByTestId('help-action-nextResult')).toHaveTextContent(']');
  });

  it('goes to step N as a jump (a history entry) and closes', async () => {
    const app = await renderApp();
    const jumps = app.store.getState().jumps;
    await query(app, 'step 6');
    await untilStep(app.store, 6);
    expect(app.store.getState().jumps).toBe(jumps + 1);
    expect(screen.queryByTestId('palette')).toBeNull();
    await query(app, '3');
    await untilStep(app.store, 3);
  });

  it('goes to a time in cycles: the first event at or after it', async () => {
    const app = await renderApp();
    const t = app.store.getState().timeline!;
    const cycles = t.times[4] - 1;
    await query(app, `${cycles} cycles`);
    await untilStep(app.store, t.steps[t.times.findIndex((x) => x >= cycles)]);
  });

  it('an unreadable query says what and where, and changes nothing', async () => {
    const app = await kvmRun();
    await query(app, 'vmentry');
    await untilStep(app.store, 2);
    const before = app.store.getState().searchResults;
    await query(app, 'exit 7 foo');
    const error = await screen.findByTestId('palette-error');
    expect(error).toHaveTextContent("'foo' at column 8: not a search word");
    expect(error.querySelector('pre')!.textContent).toBe('exit 7 foo\n       ^^^');
    expect(screen.getByTestId('palette-input')).toHaveAttribute('aria-invalid', 'true');
    expect(app.store.getState().step).toBe(2);
    expect(app.store.getState().searchResults).toBe(before);
  });
});

describe('event searches', () => {
  it('exit N: the VM exits with that reason, listed, marked and jumped to', async () => {
    const app = await kvmRun();
    await query(app, 'exit 7');
    await untilStep(app.store, 4);
    expect(resultSteps()).toEqual([4]);
    expect(screen.getByTestId('palette-summary')).toHaveTextContent('1 result: exit 7');
    expect(screen.getByTestId('palette-result')).toHaveTextContent('L1 VM exit 7 INTERRUPT_WINDOW');
    expect(screen.getByTestId('timeline-search-marks')).toHaveAttribute('data-count', '1');
  });

  it('exit NAME, vector, level and kind words (ANDed)', async () => {
    const app = await kvmRun();
    await query(app, 'NMI_WINDOW');
    expect(resultSteps()).toEqual([7]);
    // Step 2's entry injects NMI 2 (valid bit set); step 6's entry has the valid bit clear.
    await query(app, 'vector 2');
    expect(resultSteps()).toEqual([2]);
    await query(app, 'vmexit L1');
    expect(resultSteps()).toEqual([4, 7]);
    await query(app, 'vmexit L0');
    expect(screen.getByTestId('palette-summary')).toHaveTextContent('0 results');
  });

  it('fn NAME: the decisions of a kernel function', async () => {
    const app = await kvmRun();
    await query(app, `fn ${KVM_FUNCTIONS[8].name}`);
    expect(resultSteps()).toEqual([5]);
    expect(screen.getByTestId('palette-result')).toHaveTextContent(KVM_FUNCTIONS[8].name);
  });

  it('assert, passed/failed and text; the Assertions panel says which results are still ahead', async () => {
    const app = await renderApp();
    await query(app, 'assert passed "handler ran"');
    const steps = resultSteps();
    expect(steps).toHaveLength(1);
    await query(app, 'assert failed');
    expect(screen.getByTestId('palette-summary')).toHaveTextContent('0 results');
    await query(app, 'assert');
    await app.user.keyboard('{Escape}');
    act(() => app.store.getState().seek(0));
    await untilStep(app.store, 0);
    const ahead = screen.getByTestId('search-ahead');
    expect(ahead).toHaveAttribute('data-ahead', '1');
    expect(ahead).toHaveTextContent(
      `Search “assert”: 1 of 1 result still ahead of step 0 — step ${steps[0]}`,
    );
    await app.user.click(within(ahead).getByTestId('step-link'));
    await untilStep(app.store, steps[0]);
    expect(screen.getByTestId('search-ahead')).toHaveTextContent('no result after step');
  });
});

describe('next and previous', () => {
  it('] and [ and the transport’s arrows move between results, as jumps', async () => {
    const app = await kvmRun();
    await query(app, 'vmentry');
    await untilStep(app.store, 2);
    // Enter on the same query goes on to the next result.
    await app.user.keyboard('{Enter}');
    await untilStep(app.store, 6);
    await app.user.keyboard('{Shift>}{Enter}{/Shift}');
    await untilStep(app.store, 2);
    await app.user.keyboard('{Escape}');
    expect(screen.getByTestId('search-position')).toHaveTextContent('1 of 2');
    const jumps = app.store.getState().jumps;
    await app.user.keyboard(']');
    await untilStep(app.store, 6);
    expect(app.store.getState().jumps).toBe(jumps + 1);
    expect(screen.getByTestId('search-position')).toHaveTextContent('2 of 2');
    await app.user.keyboard(']');
    expect(app.store.getState().notice).toMatch(/No later result for “vmentry”/);
    await app.user.keyboard('[[');
    await untilStep(app.store, 2);
    await app.user.click(screen.getByTestId('btn-next-result'));
    await untilStep(app.store, 6);
    await app.user.click(screen.getByTestId('btn-clear-search'));
    expect(screen.queryByTestId('timeline-search-marks')).toBeNull();
    expect(screen.queryByTestId('search-position')).toBeNull();
  });

  it('clicking a listed result goes there', async () => {
    const app = await kvmRun();
    await query(app, 'vmexit');
    await untilStep(app.store, 4);
    await app.user.click(within(screen.getAllByTestId('palette-result')[1]).getByTestId('step-link'));
    await untilStep(app.store, 7);
  });
});

describe('step links', () => {
  it('a step in KVM’s log goes to that step, as a jump', async () => {
    const app = await kvmRun();
    act(() => app.store.getState().seek(6));
    await untilStep(app.store, 6);
    const log = screen.getByTestId('kvm-log');
    const jumps = app.store.getState().jumps;
    await app.user.click(within(log).getAllByTestId('step-link')[0]);
    await untilStep(app.store, 5);
    expect(app.store.getState().jumps).toBe(jumps + 1);
  });

  it('an assertion’s step is a link', async () => {
    const app = await renderApp();
    const link = within(screen.getByTestId('assertion')).getByTestId('step-link');
    const step = Number(link.getAttribute('data-step'));
    await app.user.click(link);
    await untilStep(app.store, step);
  });

  it('the step where a run ended before its expected end is a link', async () => {
    const client = new FakeSimClient({
      expectedEnd: { level: 0, label: 'tests_done', line: 101, reached: false, step: null },
    });
    const app = await renderApp({ client });
    await app.user.click(within(screen.getByTestId('assertion-end-missed')).getByTestId('step-link'));
    await untilStep(app.store, 9);
  });

  it('step numbers in an explanation are links', async () => {
    const app = await renderApp();
    await untilStep(app.store, 0);
    const view = app.store.getState().view!;
    act(() =>
      app.store.setState({
        view: {
          ...view,
          explanation: {
            text: 'IF was set by the IRET at step 3, then steps 5, 7 and 8, steps 2–4 and step 1,204; no steps here.',
            cite: null,
          },
        },
      }),
    );
    const links = within(screen.getByTestId('explanation-text')).getAllByTestId('step-link');
    expect(links.map((l) => l.textContent)).toEqual(['3', '5', '7', '8', '2', '4', '1,204']);
    expect(links.map((l) => l.getAttribute('data-step'))).toEqual(['3', '5', '7', '8', '2', '4', '1204']);
    expect(screen.getByTestId('explanation-text')).toHaveTextContent(
      'IF was set by the IRET at step 3, then steps 5, 7 and 8, steps 2–4 and step 1,204; no steps here.',
    );
    fireEvent.click(links[1]);
    await untilStep(app.store, 5);
  });
});

describe('when did this change (a real run)', () => {
  it('RFLAGS.IF of L1 and soft_vnmi_blocked in soft-vnmi, with old → new', async () => {
    const client = new SessionClient();
    const app = await renderApp({ client: client as unknown as FakeSimClient, waitFor: null });
    await waitFor(() => expect(app.store.getState().info).not.toBeNull());
    await act(() => app.store.getState().pickBuiltin('soft-vnmi', { force: true }));
    await waitFor(() => expect(app.store.getState().info?.name).toBe('soft-vnmi'));
    await query(app, 'RFLAGS.IF of L1');
    await waitFor(() =>
      expect(screen.getByTestId('palette-summary')).toHaveTextContent('when RFLAGS.IF of L1 changed'),
    );
    const first = screen.getAllByTestId('palette-result')[0];
    expect(first).toHaveTextContent('RFLAGS.IF of L1: 0 → 1');
    await untilStep(app.store, Number(first.getAttribute('data-step')));
    await waitFor(() => expect(app.store.getState().view?.levels[1].cpu.if).toBe(true));
    await query(app, 'soft_vnmi_blocked');
    await waitFor(() => expect(screen.getByTestId('palette-summary')).toHaveTextContent('soft_vnmi_blocked'));
    expect(screen.getAllByTestId('palette-result')[0]).toHaveTextContent('soft_vnmi_blocked of L0: 0 → 1');
    await query(app, 'soft_vnmi_blocked of L1');
    expect(await screen.findByTestId('palette-error')).toHaveTextContent(
      "'L1' at column 22: it is not a KVM level",
    );
  });
});
