// Details of the VM exits, VM entries and KVM decisions the timeline draws: the exit reason,
// the injected event, the kernel function. The timeline columns carry only the kind of each
// event, so these come from the step's view, fetched in the background one at a time (the
// user's own view requests wait for at most one of them) and kept for the run on screen.
import type { StepView } from '../../core/engine/view';
import type { DetailActions, DetailValues, EventDetail, SliceCreator } from './types';

/** How many details are stored at once (each store update re-renders the timeline marks). */
const BATCH = 16;

function detailOf(view: StepView): EventDetail | null {
  if (!view.event) return null;
  return { kind: view.event.kind, data: view.event.data, text: view.explanation.text };
}

export const createDetailsSlice: SliceCreator<DetailValues & DetailActions> =
  ({ client, runtime }) =>
  (set, get) => {
    async function drain() {
      if (runtime.detailsBusy) return;
      runtime.detailsBusy = true;
      const generation = runtime.generation;
      let batch: Record<number, EventDetail> = {};
      let count = 0;
      const flush = () => {
        if (count === 0 || generation !== runtime.generation) return;
        const add = batch;
        set((s) => ({ eventDetails: { ...s.eventDetails, ...add } }));
        batch = {};
        count = 0;
      };
      try {
        while (runtime.detailsQueue.length > 0 && generation === runtime.generation) {
          const step = runtime.detailsQueue.shift()!;
          let view: StepView;
          try {
            view = await client.view(step);
          } catch {
            // A crash: the client restarts the worker; what is still wanted is asked again later.
            runtime.detailsQueue = [];
            runtime.detailsAsked.clear();
            break;
          }
          const detail = detailOf(view);
          if (detail && view.step === step) {
            batch[step] = detail;
            count += 1;
          }
          if (count >= BATCH) flush();
        }
        flush();
      } finally {
        runtime.detailsBusy = false;
      }
      // A new run started while this one drained: serve its queue.
      if (runtime.detailsQueue.length > 0) void drain();
    }

    return {
      eventDetails: {},
      fetchEventDetails(steps) {
        const known = get().eventDetails;
        for (const step of steps) {
          if (known[step] || runtime.detailsAsked.has(step)) continue;
          runtime.detailsAsked.add(step);
          runtime.detailsQueue.push(step);
        }
        void drain();
      },
    };
  };
