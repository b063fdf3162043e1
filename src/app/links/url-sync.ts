// The address bar follows the place on screen. Stepping, playing, dragging the playhead or
// zooming rewrite the current history entry (debounced: the browser limits how often the
// history may change); a jump (going to a step, opening a scenario or a draft) first settles
// the entry of the place left, then pushes a new one. Back and Forward, and a link pasted
// into the address bar, open the place their address describes.
import type { LabStore } from '../store/lab-store';
import type { LabState } from '../store/types';
import { hashOfState, placeChanged } from './place';

/** How long the address waits for the place to settle before it is rewritten. */
export const URL_DEBOUNCE_MS = 200;

interface EntryState {
  draft: string;
}

/** The draft a history entry was made in (the page writes it in the entry's state). */
export function draftOfEntry(state: unknown): string | null {
  return typeof state === 'object' && state !== null && typeof (state as EntryState).draft === 'string'
    ? (state as EntryState).draft
    : null;
}

export function connectUrl(store: LabStore, win: Window = window): () => void {
  const history = win.history;
  let pending: { hash: string; draft: string } | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  /** The hash last written or arrived at: a navigation event for it is not news. */
  let known = win.location.hash;

  const entryUrl = (hash: string) => win.location.pathname + win.location.search + hash;

  const flush = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (pending && pending.hash !== win.location.hash) {
      history.replaceState({ draft: pending.draft } satisfies EntryState, '', entryUrl(pending.hash));
    }
    if (pending) known = pending.hash;
    pending = null;
  };

  const drop = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    pending = null;
  };

  const onState = (s: LabState, prev: LabState) => {
    if (!placeChanged(s, prev)) return;
    const hash = hashOfState(s);
    if (hash === null) return;
    if (s.jumps !== prev.jumps) {
      flush(); // the place being left keeps its own entry
      if (hash !== win.location.hash)
        history.pushState({ draft: s.draftId } satisfies EntryState, '', entryUrl(hash));
      known = hash;
      return;
    }
    pending = { hash, draft: s.draftId };
    if (timer === null) timer = setTimeout(flush, URL_DEBOUNCE_MS);
  };
  const unsubscribe = store.subscribe(onState);

  // Back/Forward fire popstate (then hashchange, when the hash differs). A link pasted or
  // typed into the address bar fires hashchange, and in Chromium popstate first as well: its
  // new entry has no state of ours, which is how it is told from a move through history.
  // Either way the address is opened once.
  const navigate = (fromHistory: boolean) => {
    const hash = win.location.hash;
    if (hash === known) return;
    drop(); // a rewrite waiting for the entry just left must not land on this one
    known = hash;
    const draft = fromHistory ? draftOfEntry(history.state) : null;
    void store.getState().openLink(hash, { history: draft !== null, draft });
  };
  const onPopState = () => navigate(true);
  const onHashChange = () => navigate(false);
  win.addEventListener('popstate', onPopState);
  win.addEventListener('hashchange', onHashChange);

  return () => {
    flush();
    unsubscribe();
    win.removeEventListener('popstate', onPopState);
    win.removeEventListener('hashchange', onHashChange);
  };
}
