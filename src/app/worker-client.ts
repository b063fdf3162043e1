// The page's handle on the simulation worker: a Comlink facade that survives the worker's
// death. When the worker dies (an uncaught error, a message it cannot read, or a call that
// rejects), the client tells its crash listeners, terminates it, starts a fresh one and
// replays the last successful load, so the scenario on screen exists again in the worker.
// Calls that were waiting are retried once on the new worker.
import * as Comlink from 'comlink';
import type { LabError } from '../core/engine/view';
import type {
  CounterAnswer,
  CompareResponse,
  LoadRequest,
  LoadResponse,
  SearchAnswer,
  SimApi,
  SimClient,
} from '../worker/protocol';

export type WorkerFactory = () => Worker;

export function spawnSimWorker(): Worker {
  return new Worker(new URL('../worker/sim-worker.ts', import.meta.url), { type: 'module' });
}

/** The rejection callers see when a call was lost with the worker. */
export class WorkerCrashError extends Error {
  readonly labError: LabError;
  constructor(labError: LabError) {
    super(labError.message);
    this.name = 'WorkerCrashError';
    this.labError = labError;
  }
}

export interface WorkerClient extends SimClient {
  /** Terminates the worker; the client cannot be used afterwards. */
  dispose(): void;
}

interface Instance {
  worker: Worker;
  api: Comlink.Remote<SimApi>;
  /** Rejects when this worker is declared dead, so calls it will never answer end. */
  died: Promise<never>;
  /** Resolves when the replayed load has finished (or at once when there is none). */
  ready: Promise<void>;
  dead: boolean;
  kill(reason: unknown): void;
  detach(): void;
}

/** After this many crashes in a row the scenario is not replayed (it may be what kills it). */
const MAX_REPLAYS_IN_A_ROW = 2;

function messageOf(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (typeof ErrorEvent !== 'undefined' && reason instanceof ErrorEvent) {
    return reason.message || 'uncaught error in the worker';
  }
  if (typeof MessageEvent !== 'undefined' && reason instanceof MessageEvent) {
    return 'a message from the worker could not be read';
  }
  if (typeof reason === 'string') return reason;
  return 'the worker stopped unexpectedly';
}

export function createWorkerClient(createWorker: WorkerFactory = spawnSimWorker): WorkerClient {
  const listeners = new Set<(error: LabError) => void>();
  let lastGoodLoad: LoadRequest | null = null;
  let crashesInARow = 0;
  let disposed = false;
  let current = start(null);

  function start(replay: LoadRequest | null): Instance {
    const worker = createWorker();
    const api = Comlink.wrap<SimApi>(worker);
    let kill: (reason: unknown) => void = () => {};
    const died = new Promise<never>((_, reject) => {
      kill = reject;
    });
    died.catch(() => {});
    const onError = (event: Event) => crashed(instance, event);
    const instance: Instance = {
      worker,
      api,
      died,
      ready: Promise.resolve(),
      dead: false,
      kill,
      detach: () => {
        worker.removeEventListener('error', onError);
        worker.removeEventListener('messageerror', onError);
      },
    };
    worker.addEventListener('error', onError);
    worker.addEventListener('messageerror', onError);
    if (replay) {
      instance.ready = Promise.race([api.load(replay), died]).then(
        () => {
          crashesInARow = 0;
        },
        (reason: unknown) => crashed(instance, reason),
      );
    }
    return instance;
  }

  function crashed(instance: Instance, reason: unknown): void {
    if (instance.dead || instance !== current || disposed) return;
    instance.dead = true;
    instance.kill(reason);
    instance.detach();
    instance.worker.terminate();
    crashesInARow += 1;
    const error: LabError = { kind: 'crash', message: messageOf(reason), where: null };
    current = start(crashesInARow <= MAX_REPLAYS_IN_A_ROW ? lastGoodLoad : null);
    for (const listener of [...listeners]) listener(error);
  }

  async function call<T>(invoke: (api: Comlink.Remote<SimApi>) => Promise<T>, retry: boolean): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (disposed) throw new Error('the simulation client was disposed');
      const instance = current;
      try {
        await instance.ready;
        if (instance.dead) await instance.died;
        const result = await Promise.race([invoke(instance.api), instance.died]);
        crashesInARow = 0;
        return result;
      } catch (reason) {
        crashed(instance, reason);
        if (!retry || attempt >= 1 || disposed) {
          throw new WorkerCrashError({ kind: 'crash', message: messageOf(reason), where: null });
        }
      }
    }
  }

  return {
    listScenarios: () => call((api) => api.listScenarios(), true),
    async load(req) {
      const response = await call((api) => api.load(req) as Promise<LoadResponse>, true);
      if (response.ok) lastGoodLoad = req;
      return response;
    },
    view: (step) => call((api) => api.view(step), true),
    timeline: () => call((api) => api.timeline(), true),
    transitions: () => call((api) => api.transitions(), true),
    timelineRange: (req) => call((api) => api.timelineRange(req), true),
    findStep: (step, direction, kinds) => call((api) => api.findStep(step, direction, kinds), true),
    perfetto: (clock) => call((api) => api.perfetto(clock), true),
    closestBuiltins: (reason) => call((api) => api.closestBuiltins(reason), true),
    search: (query) => call((api) => api.search(query) as Promise<SearchAnswer>, true),
    counter: (query) => call((api) => api.counter(query) as Promise<CounterAnswer>, true),
    causes: (step) => call((api) => api.causes(step), true),
    compareWith: (req) => call((api) => api.compareWith(req) as Promise<CompareResponse>, true),
    crash: () => call((api) => api.crash(), false),
    onCrash(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dispose() {
      disposed = true;
      current.detach();
      current.worker.terminate();
      listeners.clear();
    },
  };
}
