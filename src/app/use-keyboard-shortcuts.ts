// The window's key handler: looks the key up in the action registry. Keys typed into a
// field (the editor, a select) stay with the field, except Escape and Ctrl+K. While a dialog is open
// (the help, a confirmation) only its own close keys act.
import { useEffect } from 'react';
import { actionForKey, DIALOG_ACTIONS } from './actions';
import { useLabStoreApi } from './sim-client-context';

function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === 'TEXTAREA' || tag === 'INPUT' || tag === 'SELECT' || target.isContentEditable;
}

export function useKeyboardShortcuts(): void {
  const store = useLabStoreApi();
  useEffect(() => {
    function onKeyDown(event: KeyboardEvent) {
      if (event.defaultPrevented) return;
      const action = actionForKey(event);
      if (!action) return;
      const state = store.getState();
      const dialog = state.helpOpen || state.pendingSwitch !== null;
      if (dialog && !DIALOG_ACTIONS.includes(action.name)) return;
      // `?` opens the help, but not over the confirmation dialog.
      if (state.pendingSwitch !== null && action.name === 'toggleHelp') return;
      // Escape, and Ctrl+K (the palette), act from a field too.
      if (isTypingTarget(event.target) && action.name !== 'closeOverlay' && action.name !== 'openPalette')
        return;
      // Space on a focused button would click it as well as toggling play.
      if (event.key === ' ' && event.target instanceof HTMLButtonElement) event.target.blur();
      event.preventDefault();
      action.perform(state);
    }
    window.addEventListener('keydown', onKeyDown);
    return () => window.removeEventListener('keydown', onKeyDown);
  }, [store]);
}
