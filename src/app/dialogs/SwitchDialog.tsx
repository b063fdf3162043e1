// Asks before a scenario switch replaces the draft's work (edits, or bookmarks): picking
// another built-in, or changing a parameter of the built-in on screen, loads that built-in's
// document into the editor. "Keep editing" (or Escape) leaves everything as it was; "Open as
// a new draft" keeps the draft as it is and opens the built-in beside it.
import { useEffect, useRef } from 'react';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectBookmarks, selectBuiltins, selectEditorEdited, selectPendingSwitch } from '../store/selectors';

export function SwitchDialog() {
  const store = useLabStoreApi();
  const pending = useLab(selectPendingSwitch);
  const builtins = useLab(selectBuiltins);
  const edited = useLab(selectEditorEdited);
  const marks = useLab(selectBookmarks).length;
  const keep = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (pending) keep.current?.focus();
  }, [pending]);

  if (!pending) return null;
  const target =
    pending.kind === 'builtin'
      ? `“${builtins.find((b) => b.name === pending.name)?.title ?? pending.name}”`
      : `the built-in with ${pending.key} = ${String(pending.value)}`;
  const cancel = () => store.getState().cancelSwitch();
  return (
    <div className="overlay" onClick={cancel}>
      <div
        className="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="switch-title"
        aria-describedby="switch-text"
        data-testid="switch-dialog"
        onClick={(e) => e.stopPropagation()}
      >
        <h2 id="switch-title">{edited ? 'Discard your edits?' : 'Replace this draft’s bookmarks?'}</h2>
        <p id="switch-text">
          {edited
            ? 'The scenario editor holds your edits (kept as a draft in this browser).'
            : `This draft holds ${marks} bookmark${marks === 1 ? '' : 's'}.`}{' '}
          Loading {target} replaces {edited ? 'them with the built-in’s document' : 'the scenario they mark'}
          {pending.kind === 'builtin' && marks > 0 ? ' and drops the bookmarks' : ''}. To keep this draft as
          it is, open the built-in as a new draft.
        </p>
        <div className="dialog-buttons">
          <button ref={keep} type="button" className="btn" data-testid="switch-cancel" onClick={cancel}>
            Keep editing
          </button>
          <button
            type="button"
            className="btn"
            data-testid="switch-beside"
            onClick={() => void store.getState().confirmSwitch({ beside: true })}
          >
            Open as a new draft
          </button>
          <button
            type="button"
            className="btn btn-danger"
            data-testid="switch-confirm"
            onClick={() => void store.getState().confirmSwitch()}
          >
            {edited ? 'Discard edits and load' : 'Replace'}
          </button>
        </div>
      </div>
    </div>
  );
}
