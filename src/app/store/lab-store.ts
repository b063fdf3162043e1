// The page's store: the slices joined, bound to one simulation client. Created once per
// client (by SimClientProvider, or by main.tsx so that browser tests can reach it).
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { SimClient } from '../../worker/protocol';
import { localDraftStorage, type DraftStorage } from './draft-storage';
import { createDetailsSlice } from './details-slice';
import { createDraftsSlice } from './drafts-slice';
import { createEditorSlice } from './editor-slice';
import { createLinksSlice } from './links-slice';
import { createPlaybackSlice } from './playback-slice';
import { createScenarioSlice } from './scenario-slice';
import { createSearchSlice } from './search-slice';
import { createCompareSlice } from './compare-slice';
import { createStepSlice, pumpViews } from './step-slice';
import type { LabState, Runtime, StoreDeps } from './types';
import { createUiSlice } from './ui-slice';

export type LabStore = StoreApi<LabState> & {
  /** Starts listening to the client's crashes; returns the function that stops it. */
  connect(): () => void;
};

export function createLabStore(client: SimClient, drafts: DraftStorage = localDraftStorage()): LabStore {
  const runtime: Runtime = {
    generation: 0,
    loadTicket: 0,
    viewInFlight: false,
    refreshView: false,
    playTimer: null,
    kindSeek: Promise.resolve(),
    detailsAsked: new Set(),
    detailsQueue: [],
    detailsBusy: false,
  };
  const deps: StoreDeps = { client, drafts, runtime };
  const store = createStore<LabState>()((...a) => ({
    ...createScenarioSlice(deps)(...a),
    ...createStepSlice(deps)(...a),
    ...createDetailsSlice(deps)(...a),
    ...createPlaybackSlice(deps)(...a),
    ...createEditorSlice(deps)(...a),
    ...createUiSlice(deps)(...a),
    ...createDraftsSlice(deps)(...a),
    ...createLinksSlice(deps)(...a),
    ...createSearchSlice(deps)(...a),
    ...createCompareSlice(deps)(...a),
  }));

  return {
    ...store,
    connect() {
      // The client restarts the worker and reloads the scenario; the page shows the banner
      // and asks again for the step on screen.
      const unsubscribe = client.onCrash((error) => {
        store.setState({ crash: error });
        runtime.refreshView = true;
        void pumpViews(deps, store.getState, store.setState);
      });
      return () => {
        unsubscribe();
        store.getState().pause();
      };
    },
  };
}
