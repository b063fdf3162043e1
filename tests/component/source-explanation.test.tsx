// @vitest-environment jsdom
import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FakeSimClient } from './fake-client';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

function currentLine(): HTMLElement {
  const lines = screen.getByTestId('source-view').querySelectorAll<HTMLElement>('[data-current="true"]');
  expect(lines).toHaveLength(1);
  return lines[0];
}

describe('source view', () => {
  it('lists the program with line numbers and marks the line at RIP', async () => {
    const { user, store } = await renderApp();
    const view = screen.getByTestId('source-view');
    expect(view.querySelectorAll('[data-line]')).toHaveLength(12);
    expect(currentLine()).toHaveAttribute('data-line', '4');
    expect(currentLine()).toHaveTextContent('sti');

    await user.keyboard('n');
    await untilStep(store, 4);
    expect(currentLine()).toHaveAttribute('data-line', '10');
    expect(currentLine()).toHaveTextContent('mov rbx, 2');
  });

  it('dims the lines a parameter left out', async () => {
    const { user, store } = await renderApp();
    expect(screen.getByTestId('source-view').querySelector('[data-inactive]')).toBeNull();
    await user.click(screen.getByTestId('param-eoi'));
    await untilStep(store, 0);
    const inactive = screen.getByTestId('source-view').querySelectorAll('[data-inactive="true"]');
    expect([...inactive].map((l) => l.getAttribute('data-line'))).toEqual(['11']);
  });
});

describe('explanation', () => {
  it('shows the text and the citation of the step', async () => {
    const { user, store } = await renderApp();
    expect(screen.getByTestId('explanation-text')).toHaveTextContent('The initial state');
    expect(screen.queryByTestId('explanation-cite')).toBeNull();

    await user.keyboard('n');
    await untilStep(store, 4);
    expect(screen.getByTestId('explanation-text')).toHaveTextContent(
      'RFLAGS.IF is 1 and nothing blocks: vector 48 is delivered through the IDT.',
    );
    expect(screen.getByTestId('explanation-cite')).toHaveTextContent(
      'SDM Vol. 3A "Interrupt and Exception Handling: Priority Among Concurrent Events"',
    );
    expect(screen.getByTestId('event-chip')).toHaveTextContent(
      'L0 · delivery · external interrupt · vector 0x30',
    );
  });
});

describe('assertions', () => {
  it('lists the run’s assertions, dims those ahead, and seeks on click', async () => {
    const { user, store } = await renderApp();
    const row = await screen.findByTestId('assertion');
    expect(row).toHaveAttribute('data-passed', 'true');
    expect(row).toHaveTextContent('the handler ran');
    expect(row).toHaveClass('ahead');
    await user.click(row);
    await untilStep(store, 9);
    expect(screen.getByTestId('assertion')).not.toHaveClass('ahead');
  });

  it('lists the asserts the run never executed after the others, and says how many', async () => {
    const client = new FakeSimClient({
      notReached: [{ level: 1, line: 96, message: 'stage 7: interrupt-window exit from HLT' }],
    });
    await renderApp({ client });
    expect(screen.getByTestId('assertions-not-reached')).toHaveTextContent('1 never run');
    const never = screen.getByTestId('assertion-not-reached');
    expect(never).toHaveTextContent('stage 7: interrupt-window exit from HLT');
    expect(never).toHaveTextContent('L1:96 · never run');
    expect(screen.getAllByRole('listitem').indexOf(never)).toBeGreaterThan(0);
  });

  it('a run that ended before the end its scenario expects shows as a failed row', async () => {
    const client = new FakeSimClient({
      expectedEnd: { level: 1, label: 'tests_done', line: 101, reached: false, step: null },
    });
    await renderApp({ client });
    expect(screen.getByTestId('assertions-end-missed')).toHaveTextContent('end not reached');
    const row = screen.getByTestId('assertion-end-missed');
    expect(row).toHaveTextContent('the run ended at step 9 before reaching tests_done');
    expect(row).toHaveTextContent('L1:101 · never run');
  });

  it('a run that reached its expected end adds no row', async () => {
    const client = new FakeSimClient({
      expectedEnd: { level: 0, label: 'tests_done', line: 101, reached: true, step: 5 },
    });
    await renderApp({ client });
    expect(screen.queryByTestId('assertion-end-missed')).toBeNull();
    expect(screen.queryByTestId('assertions-end-missed')).toBeNull();
  });

  it('a skip is shown as skipped, counted apart from passes and failures', async () => {
    await renderApp({ client: new FakeSimClient({ skipAssertions: true }) });
    expect(screen.getByTestId('assertions-skipped')).toHaveTextContent('1 skipped');
    expect(screen.getByTestId('assertions')).toHaveTextContent('0 passed0 failed');
    const row = await screen.findByTestId('assertion');
    expect(row).toHaveAttribute('data-skipped', 'true');
    expect(row).toHaveClass('skip');
    expect(row).not.toHaveClass('fail');
    expect(row).toHaveTextContent('skipped: the handler ran');
  });

  it('no skip, no skipped count', async () => {
    await renderApp();
    expect(screen.queryByTestId('assertions-skipped')).toBeNull();
  });

  it('says nothing of asserts never run when every one ran', async () => {
    await renderApp();
    expect(screen.queryByTestId('assertions-not-reached')).toBeNull();
    expect(screen.queryByTestId('assertion-not-reached')).toBeNull();
  });
});
