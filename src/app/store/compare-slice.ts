// The compare view's other side, as the page store holds it (docs/compare.md).
import type { CompareActions, CompareValues } from './compare-types';
import type { SliceCreator } from './types';

export const createCompareSlice: SliceCreator<CompareValues & CompareActions> = () => (set, get) => ({
  compare: null,
  setCompare(spec) {
    set({ compare: spec, jumps: get().jumps + 1 });
  },
});
