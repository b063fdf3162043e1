// Where the playhead is, and the view of that step. Requests to the worker are coalesced:
// at most one view request is in flight; when it returns, the latest wanted step (if it
// moved meanwhile) is asked for next. Dragging the playhead over thousands of steps thus
// costs a handful of requests, never a queue.
//
// `prevView` is what the panels compare with to highlight changes. Stepping forward it is
// simply the view held before; after a jump (or a step back) the pump, once it has caught
// up, also fetches step N-1, so "changed" always means "changed by this step".
import type { StepView } from '../../core/engine/view';
import type { LabState, SliceCreator, StepActions, StepValues, StoreDeps } from './types';

type Get = () => LabState;
type Set = (partial: Partial<LabState> | ((s: LabState) => Partial<LabState>)) => void;

function clampStep(step: number, get: Get): number {
  const total = get().info?.totalSteps ?? 0;
  if (!Number.isFinite(step)) return 0;
  return Math.max(0, Math.min(total, Math.round(step)));
}

/** Fetches the view of step - 1 as the basis for "changed", if `step` is still on screen. */
async function fetchComparisonBasis({ client, runtime }: StoreDeps, get: Get, set: Set, step: number) {
  const generation = runtime.generation;
  let basis: StepView;
  try {
    basis = await client.view(step - 1);
  } catch {
    basis = get().view!; // Compare with itself: nothing shows as changed, and the pump ends.
  }
  if (generation !== runtime.generation || get().view?.step !== step) return;
  set({ prevView: basis.step === step - 1 ? basis : { ...basis, step: step - 1 } });
}

/** Runs until the held view is the wanted step. Safe to call any number of times. */
export async function pumpViews(deps: StoreDeps, get: Get, set: Set): Promise<void> {
  const { client, runtime } = deps;
  if (runtime.viewInFlight) return;
  runtime.viewInFlight = true;
  try {
    for (;;) {
      const { info, view, step, prevView } = get();
      if (!info) return;
      if (view && view.step === step && !runtime.refreshView) {
        if (get().shownStep !== step) set({ shownStep: step });
        if (view.step === 0 || prevView?.step === view.step - 1) return;
        await fetchComparisonBasis(deps, get, set, view.step);
        continue;
      }
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
      set((s) => ({ prevView: s.view, view: next, shownStep: next.step }));
      if (next.step !== step && get().step === step) {
        // The worker clamped the step: adopt its answer rather than asking forever.
        set({ step: next.step });
      }
    }
  } finally {
    runtime.viewInFlight = false;
  }
}

/** How long the counter and playhead wait for the view of a new step before showing it anyway. */
export const SHOW_STEP_AFTER_MS = 40;

export const createStepSlice: SliceCreator<StepValues & StepActions> = (deps) => (set, get) => {
  let showTimer: ReturnType<typeof setTimeout> | null = null;
  return {
    step: 0,
    view: null,
    prevView: null,
    shownStep: 0,
    seek(step, opts = {}) {
      const target = clampStep(step, get);
      // A jump is a new place in the browser's history, unless it goes nowhere.
      const jump = opts.jump && target !== get().step ? { jumps: get().jumps + 1 } : {};
      set({ step: target, ...jump });
      void pumpViews(deps, get, set);
      // The view usually arrives within a frame and brings shownStep with it; if not, show
      // the step without it.
      if (showTimer) clearTimeout(showTimer);
      showTimer = setTimeout(() => {
        showTimer = null;
        if (get().shownStep !== get().step) set({ shownStep: get().step });
      }, SHOW_STEP_AFTER_MS);
    },
    stepForward() {
      get().seek(get().step + 1);
    },
    stepBack() {
      get().seek(get().step - 1);
    },
    jumpToStart() {
      get().seek(0, { jump: true });
    },
    jumpToEnd() {
      get().seek(get().info?.totalSteps ?? 0, { jump: true });
    },
    seekKind(direction, kinds) {
      // Queued, so that pressing n three times goes three deliveries on, each search starting
      // where the previous one landed.
      const run = async () => {
        const generation = deps.runtime.generation;
        let found: number | null;
        try {
          found = await deps.client.findStep(get().step, direction, kinds);
        } catch {
          return;
        }
        if (found !== null && generation === deps.runtime.generation) get().seek(found, { jump: true });
      };
      deps.runtime.kindSeek = deps.runtime.kindSeek.then(run);
      return deps.runtime.kindSeek;
    },
  };
};
