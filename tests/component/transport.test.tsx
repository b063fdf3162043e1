// @vitest-environment jsdom
import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

describe('transport', () => {
  it('steps forward and back with the buttons, and jumps to the ends', async () => {
    const { user, store } = await renderApp();
    expect(screen.getByTestId('btn-step-back')).toBeDisabled();

    await user.click(screen.getByTestId('btn-step-forward'));
    await untilStep(store, 1);
    await user.click(screen.getByTestId('btn-step-forward'));
    await untilStep(store, 2);
    expect(screen.getByTestId('reg-rax')).toHaveTextContent('0x0000000000000001');

    await user.click(screen.getByTestId('btn-step-back'));
    await untilStep(store, 1);
    expect(screen.getByTestId('reg-rax')).toHaveTextContent('0x0000000000000000');

    await user.click(screen.getByTestId('btn-end'));
    await untilStep(store, 9);
    expect(screen.getByTestId('btn-step-forward')).toBeDisabled();
    expect(screen.getByTestId('time-cycles')).toHaveTextContent('1,045 cycles');

    await user.click(screen.getByTestId('btn-start'));
    await untilStep(store, 0);
    expect(screen.getByTestId('time-cycles')).toHaveTextContent('0 cycles');
  });

  it('steps with the keyboard: arrows, h/l, Home/End', async () => {
    const { user, store } = await renderApp();
    await user.keyboard('l');
    await untilStep(store, 1);
    await user.keyboard('{ArrowRight}');
    await untilStep(store, 2);
    await user.keyboard('h');
    await untilStep(store, 1);
    await user.keyboard('{ArrowLeft}');
    await untilStep(store, 0);
    await user.keyboard('{End}');
    await untilStep(store, 9);
    await user.keyboard('{Home}');
    await untilStep(store, 0);
    // Stepping back at the start stays at the start.
    await user.keyboard('h');
    await untilStep(store, 0);
  });

  it('steps by delivery with n / N and the buttons', async () => {
    const { user, store, client } = await renderApp();
    await user.keyboard('n');
    await untilStep(store, 4);
    expect(screen.getByTestId('apic-isr')).toHaveTextContent('0x30');
    expect(client.callsOf('findStep').at(-1)?.args).toEqual([0, 1, ['delivery']]);

    await user.keyboard('{End}');
    await untilStep(store, 9);
    await user.keyboard('N');
    await untilStep(store, 4);

    await user.click(screen.getByTestId('btn-start'));
    await untilStep(store, 0);
    await user.click(screen.getByTestId('btn-next-delivery'));
    await untilStep(store, 4);
  });

  it('changes speed with the select and with + / -', async () => {
    const { user, store } = await renderApp();
    const speed = screen.getByTestId('speed-select') as HTMLSelectElement;
    expect(speed.value).toBe('4');
    await user.keyboard('+');
    expect(speed.value).toBe('16');
    await user.keyboard('-');
    await user.keyboard('-');
    expect(speed.value).toBe('1');
    await user.keyboard('-');
    expect(speed.value).toBe('1');
    await user.selectOptions(speed, '256');
    expect(store.getState().speed).toBe(256);
  });

  it('plays to the end and stops there; space toggles', async () => {
    const { user, store } = await renderApp();
    await user.selectOptions(screen.getByTestId('speed-select'), '256');
    await user.click(screen.getByTestId('btn-play'));
    expect(store.getState().playing).toBe(true);
    await waitFor(() => expect(store.getState().playing).toBe(false), { timeout: 2000 });
    await untilStep(store, 9);

    // At the end, play starts again from the beginning; space pauses.
    await user.selectOptions(screen.getByTestId('speed-select'), '1');
    // Keys typed into a focused select stay with it; the shortcut works once it lets go.
    await user.keyboard(' ');
    expect(store.getState().playing).toBe(false);
    (document.activeElement as HTMLElement).blur();
    await user.keyboard(' ');
    expect(store.getState().playing).toBe(true);
    await untilStep(store, 0);
    await user.keyboard(' ');
    expect(store.getState().playing).toBe(false);
  });
});
