// @vitest-environment jsdom
// The page store on its own, against the fake client: view requests are coalesced, stale
// answers are dropped, a rejected load keeps the run.
import { waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLabStore, type LabStore } from '../../src/app/store/lab-store';
import { FakeSimClient } from './fake-client';

async function started(client: FakeSimClient): Promise<LabStore> {
  const store = createLabStore(client);
  await store.getState().start();
  await waitFor(() => expect(store.getState().view?.step).toBe(0));
  await waitFor(() => expect(store.getState().timeline).not.toBeNull());
  return store;
}

beforeEach(() => localStorage.clear());

describe('lab store', () => {
  it('keeps at most one view request in flight while the playhead is dragged', async () => {
    const client = new FakeSimClient();
    const store = await started(client);
    client.holdViews = true;
    client.maxViewsInFlight = 0;
    const before = client.callsOf('view').length;

    // A drag: hundreds of seeks while the first answer is still on its way.
    for (let i = 1; i <= 300; i++) store.getState().seek((i * 7) % 10);
    store.getState().seek(6);
    expect(client.callsOf('view').length - before).toBe(1);
    expect(client.maxViewsInFlight).toBe(1);
    expect(store.getState().step).toBe(6);

    // The first answer arrives; only the latest wanted step is asked for next.
    client.releaseViews();
    await waitFor(() => expect(client.callsOf('view').length - before).toBe(2));
    expect(client.callsOf('view').at(-1)?.args).toEqual([6]);
    client.releaseViews();
    await waitFor(() => expect(store.getState().view?.step).toBe(6));

    // Caught up, it fetches step 5, so "changed" means changed by step 6.
    client.releaseViews();
    await waitFor(() => expect(store.getState().prevView?.step).toBe(5));
    expect(
      client
        .callsOf('view')
        .slice(before)
        .map((c) => c.args[0]),
    ).toEqual([7, 6, 5]);
    expect(client.maxViewsInFlight).toBe(1);
  });

  it('drops view answers that belong to the run before a new load', async () => {
    const client = new FakeSimClient();
    const store = await started(client);
    client.holdViews = true;
    store.getState().seek(8);
    await store.getState().pickBuiltin('nmi-nesting');
    const shown: number[] = [];
    store.subscribe((s) => {
      if (s.view) shown.push(s.view.totalSteps);
    });
    client.holdViews = false;
    client.releaseViews();
    await waitFor(() => expect(store.getState().view?.step).toBe(0));
    expect(store.getState().info?.name).toBe('nmi-nesting');
    expect(store.getState().view?.totalSteps).toBe(7);
    // The answer for step 8 of the old run was never shown.
    expect(shown.every((total) => total === 7)).toBe(true);
  });

  it('keeps the run and its step when a load is rejected', async () => {
    const client = new FakeSimClient();
    const store = await started(client);
    store.getState().seek(3);
    await waitFor(() => expect(store.getState().view?.step).toBe(3));
    const res = await store.getState().load({ json: '{ not json' });
    expect(res.ok).toBe(false);
    expect(store.getState().loadError?.kind).toBe('scenario');
    expect(store.getState().info?.name).toBe('irq-basics');
    expect(store.getState().view?.step).toBe(3);
    expect(store.getState().leftTab).toBe('editor');
  });

  it('reloads with a changed parameter and keeps the step', async () => {
    const client = new FakeSimClient();
    const store = await started(client);
    store.getState().seek(3);
    await waitFor(() => expect(store.getState().view?.step).toBe(3));
    await store.getState().setParam('vector', 0x40);
    expect(client.callsOf('load').at(-1)?.args[0]).toEqual({
      builtin: 'irq-basics',
      params: { vector: 0x40 },
    });
    await waitFor(() => expect(store.getState().view?.levels[0].apic.irr).toEqual([0x40]));
    expect(store.getState().step).toBe(3);
    expect(store.getState().info?.params.find((p) => p.key === 'vector')?.value).toBe(0x40);
  });

  it('chains step-by-kind searches: two quick presses go two deliveries on', async () => {
    const client = new FakeSimClient();
    const store = await started(client);
    await store.getState().pickBuiltin('nmi-nesting');
    const first = store.getState().seekKind(1, ['delivery']);
    const second = store.getState().seekKind(1, ['delivery']);
    await Promise.all([first, second]);
    expect(store.getState().step).toBe(5);
    expect(client.callsOf('findStep').map((c) => c.args[0])).toEqual([0, 2]);
  });
});
