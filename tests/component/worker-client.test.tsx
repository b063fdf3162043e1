// The worker client's crash recovery, with in-process "workers": a MessageChannel whose far
// end exposes a SimApi through Comlink, as sim-worker.ts does.
import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import type { LabError, StepView } from '../../src/core/engine/view';
import { createWorkerClient, WorkerCrashError, type WorkerClient } from '../../src/app/worker-client';
import type { LoadRequest, LoadResponse, SimApi } from '../../src/worker/protocol';

class FakeWorker extends EventTarget {
  terminated = false;
  private readonly port: MessagePort;
  constructor(api: SimApi) {
    super();
    const { port1, port2 } = new MessageChannel();
    Comlink.expose(api, port2);
    this.port = port1;
    port1.addEventListener('message', (e) =>
      this.dispatchEvent(new MessageEvent('message', { data: e.data })),
    );
    port1.start();
  }
  postMessage(message: unknown, transfer?: Transferable[]) {
    if (!this.terminated) this.port.postMessage(message, transfer ?? []);
  }
  terminate() {
    this.terminated = true;
    this.port.close();
  }
}

/** One simulated worker: records its loads; `hang` makes view() never answer. */
function workerApi(id: number, log: { id: number; req: LoadRequest }[], hang: { view: boolean }): SimApi {
  return {
    listScenarios: async () => [],
    timelineRange: async () => {
      throw new Error('not used');
    },
    search: async (query) => ({ ok: true, kind: 'goto', step: query.length, note: `w${id}` }),
    counter: async (query) => ({ ok: false, error: { message: `w${id}`, column: 1, length: query.length } }),
    causes: async (step) => ({ step, event: `w${id}`, recorded: false, inputs: [], routing: null }),
    compareWith: async () => ({ ok: false, error: { kind: 'scenario', message: `w${id}`, where: null } }),
    load: async (req) => {
      log.push({ id, req });
      if ('builtin' in req && req.builtin === 'bad') {
        return { ok: false, error: { kind: 'scenario', message: 'bad', where: null } };
      }
      return {
        ok: true,
        info: { name: `w${id}` },
        scenarioJson: '{}',
        runError: null,
      } as unknown as LoadResponse;
    },
    view: (step) =>
      hang.view
        ? new Promise<StepView>(() => {})
        : Promise.resolve({ step, worker: id } as unknown as StepView),
    timeline: async () => ({
      totalSteps: 0,
      steps: [],
      times: [],
      levels: [],
      kinds: [],
      vectors: [],
      types: [],
    }),
    transitions: async () => ({ steps: [], d0: [], d1: [], d2: [] }),
    findStep: async () => null,
    perfetto: async () => '{"traceEvents":[]}',
    closestBuiltins: async () => [],
    crash: async () => {
      throw new Error(`worker ${id} crashed on purpose`);
    },
  };
}

function setup() {
  const workers: FakeWorker[] = [];
  const loads: { id: number; req: LoadRequest }[] = [];
  const hangs: { view: boolean }[] = [];
  const client = createWorkerClient(() => {
    const hang = { view: false };
    hangs.push(hang);
    const w = new FakeWorker(workerApi(workers.length, loads, hang));
    workers.push(w);
    return w as unknown as Worker;
  });
  const crashes: LabError[] = [];
  client.onCrash((e) => crashes.push(e));
  return { client, workers, loads, hangs, crashes };
}

let current: WorkerClient | null = null;
afterEach(() => current?.dispose());

describe('worker client', () => {
  it('restarts a worker whose call rejected, replays the last load, and serves later calls', async () => {
    const t = setup();
    current = t.client;
    const req = { builtin: 'irq-basics', params: { vector: 48 } };
    expect((await t.client.load(req)).ok).toBe(true);

    await expect(t.client.crash()).rejects.toBeInstanceOf(WorkerCrashError);
    expect(t.crashes).toEqual([{ kind: 'crash', message: 'worker 0 crashed on purpose', where: null }]);
    expect(t.workers[0].terminated).toBe(true);
    expect(t.workers).toHaveLength(2);

    const view = (await t.client.view(3)) as unknown as { step: number; worker: number };
    expect(view).toEqual({ step: 3, worker: 1 });
    expect(t.loads).toEqual([
      { id: 0, req },
      { id: 1, req },
    ]);
  });

  it('treats an error event as a crash, and retries the call that was waiting', async () => {
    const t = setup();
    current = t.client;
    await t.client.load({ builtin: 'a' });
    t.hangs[0].view = true;
    const pending = t.client.view(5);
    await new Promise((r) => setTimeout(r, 10));
    t.workers[0].dispatchEvent(new Event('error'));

    const view = (await pending) as unknown as { step: number; worker: number };
    expect(view).toEqual({ step: 5, worker: 1 });
    expect(t.crashes).toHaveLength(1);
    expect(t.crashes[0].kind).toBe('crash');
    expect(t.loads.map((l) => l.id)).toEqual([0, 1]);
  });

  it('treats messageerror as a crash, and does not replay a load that was rejected', async () => {
    const t = setup();
    current = t.client;
    await t.client.load({ builtin: 'good' });
    expect((await t.client.load({ builtin: 'bad' })).ok).toBe(false);
    t.workers[0].dispatchEvent(new Event('messageerror'));
    await t.client.listScenarios();
    expect(t.crashes).toHaveLength(1);
    expect(t.loads).toEqual([
      { id: 0, req: { builtin: 'good' } },
      { id: 0, req: { builtin: 'bad' } },
      { id: 1, req: { builtin: 'good' } },
    ]);
  });

  it('ignores events from a worker it already replaced', async () => {
    const t = setup();
    current = t.client;
    t.workers[0].dispatchEvent(new Event('error'));
    t.workers[0].dispatchEvent(new Event('error'));
    await t.client.listScenarios();
    expect(t.crashes).toHaveLength(1);
    expect(t.workers).toHaveLength(2);
  });
});
