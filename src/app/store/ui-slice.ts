// What the page shows around the run: errors, the help overlay, tabs, the timeline's zoom.
import type { ErrorActions, ErrorValues, SliceCreator, UiActions, UiValues } from './types';

export const createUiSlice: SliceCreator<UiValues & UiActions & ErrorValues & ErrorActions> =
  () => (set, get) => ({
    crash: null,
    runError: null,
    loadError: null,
    dismissCrash: () => set({ crash: null }),
    dismissRunError: () => set({ runError: null }),

    helpOpen: false,
    leftTab: 'source',
    sourceLevel: null,
    timelineZoom: { k: 1, x: 0 },
    timeAxis: 'step',
    notice: null,
    stateTab: null,
    vmcsShowAll: false,
    expandedFields: {},
    foldTrapped: null,
    setHelpOpen: (open) => set({ helpOpen: open }),
    toggleHelp: () => set({ helpOpen: !get().helpOpen }),
    setLeftTab: (tab) => set({ leftTab: tab }),
    setSourceLevel: (level) => set({ sourceLevel: level }),
    setTimelineZoom: (zoom) => {
      const z = get().timelineZoom;
      if (z.k !== zoom.k || z.x !== zoom.x) set({ timelineZoom: zoom });
    },
    setTimeAxis: (axis) => set({ timeAxis: axis, timelineZoom: { k: 1, x: 0 } }),
    setNotice: (notice) => set({ notice }),
    setStateTab: (tab) => set({ stateTab: tab }),
    setVmcsShowAll: (all) => set({ vmcsShowAll: all }),
    toggleField: (key) =>
      set((s) => {
        const next = { ...s.expandedFields };
        if (next[key]) delete next[key];
        else next[key] = true;
        return { expandedFields: next };
      }),
    setFoldTrapped: (fold) => set({ foldTrapped: fold }),
  });
