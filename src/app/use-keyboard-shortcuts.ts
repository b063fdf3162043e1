// The window's key handler: looks the key up in the action registry. Keys typed into a
// field (the editor, a select) stay with the field, except Escape.
import { useEffect } from 'react';
import { actionForKey } from './actions';
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
      if (isTypingTarget(event.target) && action.name !== 'closeOverlay') return;
      // Space on a focused button would click it as well as toggling play.
      if (event.key === ' ' && event.target instanceof HTMLButtonElement) event.target.blur();
      event.preventDefault();
      action.perform(store.getState());
    }
    window.addEventListener('keydown', onKeyDown);
    return () => window.removeEventListener('keydown', onKeyDown);
  }, [store]);
}
