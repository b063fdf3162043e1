// A SimClient that runs the real core in-process: the worker's own API object (sim-worker.ts)
// without the worker, for component tests that need real runs (change searches replay them).
import type { LabError } from '../../src/core/engine/view';
import type { SimClient } from '../../src/worker/protocol';
import { api } from '../../src/worker/sim-api';

export class SessionClient implements SimClient {
  listScenarios = api.listScenarios;
  load = api.load;
  view = api.view;
  timeline = api.timeline;
  transitions = api.transitions;
  timelineRange = api.timelineRange;
  findStep = api.findStep;
  search = api.search;
  counter = api.counter;
  causes = api.causes;
  perfetto = api.perfetto;
  closestBuiltins = api.closestBuiltins;
  compareWith = api.compareWith;
  crash = api.crash;
  onCrash(listener: (error: LabError) => void): () => void {
    void listener;
    return () => {};
  }
}
