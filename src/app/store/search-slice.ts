// Go to and search: the palette's query goes to the worker (the core's engine/search.ts); a
// go-to seeks there, a search keeps its result steps for the list, the timeline's marks and
// next/previous. Every move to a result is a jump: a new entry in the browser's history.
import type { SearchAnswer } from '../../worker/protocol';
import type { SliceCreator } from './types';
import type { SearchActions, SearchValues } from './search-types';

/** The result after (direction 1) or before (-1) `step` in sorted `steps`, or null. */
export function adjacentResult(steps: number[], step: number, direction: 1 | -1): number | null {
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (steps[mid] <= step) lo = mid + 1;
    else hi = mid;
  }
  // steps[lo] is the first result after `step`.
  if (direction === 1) return lo < steps.length ? steps[lo] : null;
  let i = lo - 1;
  while (i >= 0 && steps[i] >= step) i--;
  return i >= 0 ? steps[i] : null;
}

export const createSearchSlice: SliceCreator<SearchValues & SearchActions> = (deps) => (set, get) => ({
  paletteOpen: false,
  searchQuery: '',
  searchResults: null,
  searchError: null,
  searchBusy: false,
  openPalette: () => set({ paletteOpen: true, helpOpen: false }),
  closePalette: () => set({ paletteOpen: false }),
  setSearchQuery: (query) => set({ searchQuery: query, searchError: null }),
  async runSearch(query) {
    const generation = deps.runtime.generation;
    set({ searchBusy: true });
    let answer: SearchAnswer;
    try {
      answer = await deps.client.search(query);
    } catch {
      // A crash: the client reported it and restarted the worker.
      set({ searchBusy: false });
      return;
    }
    set({ searchBusy: false });
    if (generation !== deps.runtime.generation) return;
    if (!answer.ok) {
      set({ searchError: answer.error });
      return;
    }
    if (answer.kind === 'goto') {
      set({ searchError: null, paletteOpen: false });
      get().seek(answer.step, { jump: true });
      return;
    }
    const { description, steps, notes, total, ms } = answer;
    set({ searchError: null, searchResults: { query, description, steps, notes, total, ms } });
    const first = adjacentResult(steps, get().step, 1) ?? steps[0];
    if (first !== undefined) get().seek(first, { jump: true });
  },
  async rerunSearch() {
    const last = get().searchResults;
    if (!last) return;
    const generation = deps.runtime.generation;
    let answer;
    try {
      answer = await deps.client.search(last.query);
    } catch {
      return;
    }
    if (generation !== deps.runtime.generation) return;
    if (answer.ok && answer.kind === 'results') {
      const { description, steps, notes, total, ms } = answer;
      set({ searchResults: { query: last.query, description, steps, notes, total, ms } });
    } else set({ searchResults: null });
  },
  searchStep(direction) {
    const r = get().searchResults;
    if (!r) return false;
    const target = adjacentResult(r.steps, get().step, direction);
    if (target === null) {
      get().setNotice(`No ${direction === 1 ? 'later' : 'earlier'} result for “${r.query}”.`);
      return false;
    }
    get().seek(target, { jump: true });
    return true;
  },
  clearSearch: () => set({ searchResults: null, searchError: null }),
});
