// The user's drafts: a list of named drafts in the storage, one of them on screen. The draft
// on screen is the editor's text (or the built-in it shows) and its bookmarks; every change
// is saved. Switching loads the other draft; a link or a built-in that would replace a
// draft holding work opens beside it, as a new draft (draftBeside).
import type { LoadRequest } from '../../worker/protocol';
import type { Bookmark } from '../links/link-format';
import { newDraftId, type Draft } from './draft-storage';
import type { DraftActions, DraftValues, LabState, SliceCreator } from './types';

/** The draft on screen holds something of the user's: edits, or bookmarks. */
export function holdsWork(s: Pick<LabState, 'editorEdited' | 'bookmarks'>): boolean {
  return s.editorEdited || s.bookmarks.length > 0;
}

function nextName(drafts: readonly Draft[]): string {
  let n = drafts.length + 1;
  while (drafts.some((d) => d.name === `Draft ${n}`)) n += 1;
  return `Draft ${n}`;
}

function emptyDraft(drafts: readonly Draft[]): Draft {
  return { id: newDraftId(), name: nextName(drafts), text: '', edited: false, origin: null, bookmarks: [] };
}

/** A new, empty draft beside the others, made the one on screen (the load fills it). */
export function draftBeside(s: Pick<LabState, 'drafts'>): Partial<LabState> {
  const d = emptyDraft(s.drafts);
  return { drafts: [...s.drafts, d], draftId: d.id, bookmarks: [] };
}

function byStep(a: Bookmark, b: Bookmark): number {
  return a.step - b.step;
}

export const createDraftsSlice: SliceCreator<DraftValues & DraftActions> =
  ({ drafts: storage }) =>
  (set, get) => ({
    drafts: [],
    draftId: '',
    bookmarks: [],

    restoreDrafts() {
      const list = storage.read();
      const current = list?.drafts.find((d) => d.id === list.current);
      if (list && current) {
        set({
          drafts: list.drafts,
          draftId: current.id,
          bookmarks: current.bookmarks,
          editorText: current.text,
          editorEdited: current.edited,
          editorOrigin: current.origin,
        });
      } else {
        const d = emptyDraft([]);
        set({ drafts: [d], draftId: d.id, bookmarks: [] });
      }
    },

    async openDraft(opts = {}) {
      const s = get();
      const known = s.editorOrigin && s.builtins.some((b) => b.name === s.editorOrigin?.builtin);
      const first = s.builtins[0] ? { builtin: s.builtins[0].name } : null;
      const fallback: LoadRequest | null = (known ? s.editorOrigin : null) ?? first;
      if (!s.editorEdited) {
        if (fallback) await get().load(fallback, { origin: 'builtin', jump: opts.jump });
        return;
      }
      // The edited text; if it is rejected, the built-in it came from, with the text and
      // its error kept in the editor.
      const text = s.editorText;
      set({ editorOrigin: known ? s.editorOrigin : first });
      const res = await get().load({ json: text }, { origin: 'editor', jump: opts.jump });
      if (res.ok || !fallback) return;
      const fell = await get().load(fallback, { origin: 'builtin', jump: opts.jump });
      if (fell.ok) {
        set({ editorText: text, editorEdited: true, loadError: res.error, leftTab: 'editor' });
        get().saveDraft();
      }
    },

    saveDraft() {
      const s = get();
      if (!s.draftId) return;
      const drafts = s.drafts.map((d) =>
        d.id === s.draftId
          ? {
              ...d,
              text: s.editorText,
              edited: s.editorEdited,
              origin: s.editorOrigin,
              bookmarks: s.bookmarks,
            }
          : d,
      );
      set({ drafts });
      storage.write({ version: 2, current: s.draftId, drafts });
    },

    selectDraft(id) {
      const target = get().drafts.find((d) => d.id === id);
      if (!target || id === get().draftId) return;
      get().saveDraft();
      set({
        draftId: id,
        editorText: target.text,
        editorEdited: target.edited,
        editorOrigin: target.origin,
        bookmarks: target.bookmarks,
        loadError: null,
      });
      get().saveDraft();
    },

    async switchDraft(id, opts = {}) {
      if (id === get().draftId || !get().drafts.some((d) => d.id === id)) return;
      get().selectDraft(id);
      await get().openDraft({ jump: opts.jump ?? true });
    },

    renameDraft(id, name) {
      const trimmed = name.trim().slice(0, 80);
      if (!trimmed) return;
      set({ drafts: get().drafts.map((d) => (d.id === id ? { ...d, name: trimmed } : d)) });
      get().saveDraft();
    },

    async deleteDraft(id) {
      const list = get().drafts;
      const i = list.findIndex((d) => d.id === id);
      if (i < 0 || list.length <= 1) return;
      if (id === get().draftId) await get().switchDraft((list[i + 1] ?? list[i - 1]).id);
      set({ drafts: get().drafts.filter((d) => d.id !== id) });
      get().saveDraft();
    },

    addBookmark(step, name, note) {
      const mark: Bookmark = { step, name: name.trim() || `Step ${step}`, note: note.trim() };
      set({ bookmarks: [...get().bookmarks, mark].sort(byStep) });
      get().saveDraft();
    },

    updateBookmark(index, patch) {
      const marks = get()
        .bookmarks.map((b, i) => (i === index ? { ...b, ...patch } : b))
        .sort(byStep);
      set({ bookmarks: marks });
      get().saveDraft();
    },

    removeBookmark(index) {
      set({ bookmarks: get().bookmarks.filter((_, i) => i !== index) });
      get().saveDraft();
    },
  });
