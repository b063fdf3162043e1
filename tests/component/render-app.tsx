// Rendering the whole app against the fake client, for the component tests.
import { cleanup, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect } from 'vitest';
import { App } from '../../src/app/App';
import { SimClientProvider } from '../../src/app/sim-client-context';
import { createLabStore, type LabStore } from '../../src/app/store/lab-store';
import { FakeSimClient } from './fake-client';

/** Registers the per-test reset: no saved draft, no shared hash, nothing left rendered. */
export function resetDomBetweenTests() {
  beforeEach(() => {
    localStorage.clear();
    window.history.replaceState(null, '', '/');
  });
  afterEach(() => {
    cleanup();
  });
}

export async function renderApp(
  opts: { client?: FakeSimClient; store?: LabStore; waitFor?: string | null } = {},
) {
  const client = opts.client ?? new FakeSimClient();
  const store = opts.store ?? createLabStore(client);
  const user = userEvent.setup();
  const result = render(
    <SimClientProvider client={client} store={store}>
      <App />
    </SimClientProvider>,
  );
  const ready = opts.waitFor === undefined ? 'step 0 / 9' : opts.waitFor;
  if (ready !== null) {
    await waitFor(() => expect(screen.getByTestId('step-counter')).toHaveTextContent(ready));
    await screen.findAllByTestId('reg-rax');
  }
  return { client, store, user, ...result };
}

/** Waits until the panels show step `step` (the view has arrived, not just the counter). */
export async function untilStep(store: LabStore, step: number) {
  await waitFor(() => {
    expect(store.getState().view?.step).toBe(step);
    expect(screen.getByTestId('step-counter')).toHaveTextContent(new RegExp(`^step ${step} / `));
  });
}
