// @vitest-environment jsdom
import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ACTIONS } from '../../src/app/actions';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

describe('help overlay', () => {
  it('opens with ?, lists every action with its keys, and closes with Escape', async () => {
    const { user } = await renderApp();
    expect(screen.queryByTestId('help-overlay')).toBeNull();
    await user.keyboard('?');
    const help = screen.getByTestId('help-overlay');
    for (const action of ACTIONS) {
      const row = within(help).getByTestId(`help-action-${action.name}`);
      expect(row).toHaveTextContent(action.label);
      const keys = [...row.querySelectorAll('kbd')].map((k) => k.textContent);
      expect(keys).toEqual(action.keyLabels);
    }
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('help-overlay')).toBeNull();
  });

  it('opens from the help button', async () => {
    const { user } = await renderApp();
    await user.click(screen.getByTestId('help-button'));
    expect(screen.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeInTheDocument();
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('e switches to the editor and focuses it', async () => {
    const { user } = await renderApp();
    await user.keyboard('e');
    expect(screen.getByTestId('editor-textarea')).toHaveFocus();
    // Keys typed in the editor are text, not shortcuts.
    await user.keyboard('l');
    expect(screen.getByTestId('step-counter')).toHaveTextContent('step 0 / 9');
  });
});

describe('crash banner', () => {
  it('appears when the client reports a crash, asks for the step again, and can be dismissed', async () => {
    const { user, store, client } = await renderApp();
    await user.keyboard('{ArrowRight}{ArrowRight}');
    await untilStep(store, 2);
    const viewsBefore = client.callsOf('view').length;

    act(() => client.emitCrash('out of memory'));
    const banner = await screen.findByTestId('crash-banner');
    expect(banner).toHaveTextContent(
      'The simulation worker crashed: out of memory. It was restarted and the scenario reloaded.',
    );
    await waitFor(() => expect(client.callsOf('view').length).toBeGreaterThan(viewsBefore));
    expect(client.callsOf('view')[viewsBefore].args).toEqual([2]);
    expect(screen.getByTestId('step-counter')).toHaveTextContent('step 2 / 9');

    await user.click(within(banner).getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByTestId('crash-banner')).toBeNull();
  });

  it('appears when the test hook crashes the worker', async () => {
    const { client } = await renderApp();
    await act(async () => {
      await client.crash().catch(() => {});
    });
    expect(await screen.findByTestId('crash-banner')).toHaveTextContent('crash requested by the test hook');
  });
});
