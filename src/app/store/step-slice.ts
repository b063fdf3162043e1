// Where the playhead is, and the view of that step. Requests to the worker are coalesced:
// at most one view request is in flight; when it returns, the latest wanted step (if it
// moved meanwhile) is asked for next. Dragging the playhead over thousands of steps thus
// costs a handful of requests, never a queue.
import type { StepView } from '../../core/engine/view';
import type { LabState, SliceCreator, StepActions, StepValues, StoreDeps } from './types';

type Get = () => LabState;
type Set = (partial: Partial<LabState> | ((s: LabState) => Partial<LabState>)) => void;

function clampStep(step: number, get: Get): number {
  const total = get().info?.totalSteps ?? 0;
  if (!Number.isFinite(step)) return 0;
  return Math.max(0, Math.min(total, Math.round(step)));
}

/** Runs until the held view is the wanted step. Safe to call any number of times. */
export async function pumpViews({ client, runtime }: StoreDeps, get: Get, set: Set): Promise<void> {
  if (runtime.viewInFlight) return;
  runtime.viewInFlight = true;
  try {
    for (;;) {
      const { info, view, step } = get();
      if (!info) return;
      if (view && view.step === step && !runtime.refreshView) return;
      runtime.refreshView = false;
      const generation = runtime.generation;
      let next: StepView;
      try {
        next = await client.view(step);
      } catch {
        // The client already restarted the worker and told the crash listeners; asking
        // again would only loop if the worker keeps dying on this step.
        return;
      }
      if (generation !== runtime.generation) continue;
      set((s) => ({ prevView: s.view, view: next }));
      if (next.step !== step && get().step === step) {
        // The worker clamped the step: adopt its answer rather than asking forever.
        set({ step: next.step });
      }
    }
  } finally {
    runtime.viewInFlight = false;
  }
}

export const createStepSlice: SliceCreator<StepValues & StepActions> = (deps) => (set, get) => ({
  step: 0,
  view: null,
  prevView: null,
  seek(step) {
    set({ step: clampStep(step, get) });
    void pumpViews(deps, get, set);
  },
  stepForward() {
    get().seek(get().step + 1);
  },
  stepBack() {
    get().seek(get().step - 1);
  },
  jumpToStart() {
    get().seek(0);
  },
  jumpToEnd() {
    get().seek(get().info?.totalSteps ?? 0);
  },
  async seekKind(direction, kinds) {
    const generation = deps.runtime.generation;
    let found: number | null;
    try {
      found = await deps.client.findStep(get().step, direction, kinds);
    } catch {
      return;
    }
    if (found !== null && generation === deps.runtime.generation) get().seek(found);
  },
});
