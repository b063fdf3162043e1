// The scenario editor's text. Every change is saved as a draft, so it survives a reload;
// "Run" loads it; "reset" goes back to the built-in it started from.
import type { EditorActions, EditorValues, SliceCreator } from './types';

export const createEditorSlice: SliceCreator<EditorValues & EditorActions> =
  ({ drafts }) =>
  (set, get) => ({
    editorText: '',
    editorEdited: false,
    editorOrigin: null,
    editorFocusTick: 0,
    setEditorText(text) {
      set({ editorText: text, editorEdited: true });
      drafts.write({ version: 1, text, edited: true, origin: get().editorOrigin });
    },
    async runEditor() {
      await get().load({ json: get().editorText }, { origin: 'editor' });
    },
    async resetEditorToBuiltin() {
      const origin = get().editorOrigin ?? (get().builtins[0] ? { builtin: get().builtins[0].name } : null);
      if (!origin) return;
      drafts.clear();
      const res = await get().load(origin, { origin: 'builtin' });
      if (res.ok) set({ loadError: null });
    },
    focusEditor() {
      set((s) => ({ leftTab: 'editor', editorFocusTick: s.editorFocusTick + 1 }));
    },
  });
