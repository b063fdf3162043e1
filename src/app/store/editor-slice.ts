// The scenario editor's text. Every change is saved in the draft on screen, so it survives a
// reload; "Run" loads it; "reset" goes back to the built-in it started from.
import type { EditorActions, EditorValues, SliceCreator } from './types';

export const createEditorSlice: SliceCreator<EditorValues & EditorActions> = () => (set, get) => ({
  editorText: '',
  editorEdited: false,
  editorOrigin: null,
  editorFocusTick: 0,
  setEditorText(text) {
    set({ editorText: text, editorEdited: true });
    get().saveDraft();
  },
  async runEditor() {
    await get().load({ json: get().editorText }, { origin: 'editor' });
  },
  async resetEditorToBuiltin() {
    const origin = get().editorOrigin ?? (get().builtins[0] ? { builtin: get().builtins[0].name } : null);
    if (!origin) return;
    const res = await get().load(origin, { origin: 'builtin' });
    if (res.ok) set({ loadError: null });
  },
  focusEditor() {
    set((s) => ({ leftTab: 'editor', editorFocusTick: s.editorFocusTick + 1 }));
  },
});
