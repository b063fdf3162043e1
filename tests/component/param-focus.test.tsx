// @vitest-environment jsdom
// Issue 11 item 8: after choosing in a parameter's dropdown, the keyboard stays with the
// dropdown. The scenario reloads with the new value, and the select must neither be remounted
// nor disabled meanwhile (either would drop the focus to the page, where the arrow keys step
// the run instead of moving through the choices).
import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { renderApp, resetDomBetweenTests } from './render-app';

resetDomBetweenTests();

describe('parameter controls and the keyboard', () => {
  it('keeps the focus on a parameter select across the reload its choice causes', async () => {
    const { store, user } = await renderApp();
    const select = screen.getByTestId('param-vector');
    await user.selectOptions(select, String(0x40));
    await waitFor(() =>
      expect(store.getState().info?.params.find((p) => p.key === 'vector')?.value).toBe(0x40),
    );
    // The same element, still focused, now showing the new value.
    expect(screen.getByTestId('param-vector')).toBe(select);
    expect(document.activeElement).toBe(select);
    expect(select).toHaveValue(String(0x40));
    // An arrow key typed into the select does not step the run.
    await user.keyboard('{ArrowRight}');
    expect(store.getState().view?.step).toBe(0);
  });

  it('keeps the focus on a boolean toggle across its reload', async () => {
    const { store, user } = await renderApp();
    const toggle = screen.getByTestId('param-eoi');
    await user.click(toggle);
    await waitFor(() => expect(toggle).toHaveAttribute('aria-checked', 'false'));
    expect(document.activeElement).toBe(toggle);
    expect(store.getState().loading).toBe(false);
  });
});
