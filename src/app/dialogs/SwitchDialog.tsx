// Asks before a scenario switch replaces the editor's edits: picking another built-in, or
// changing a parameter of the built-in on screen, loads that built-in's document into the
// editor. "Keep editing" (or Escape) leaves everything as it was.
import { useEffect, useRef } from 'react';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectBuiltins, selectPendingSwitch } from '../store/selectors';

export function SwitchDialog() {
  const store = useLabStoreApi();
  const pending = useLab(selectPendingSwitch);
  const builtins = useLab(selectBuiltins);
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
        <h2 id="switch-title">Discard your edits?</h2>
        <p id="switch-text">
          The scenario editor holds your edits (kept as a draft in this browser). Loading {target} replaces
          them with the built-in’s document.
        </p>
        <div className="dialog-buttons">
          <button ref={keep} type="button" className="btn" data-testid="switch-cancel" onClick={cancel}>
            Keep editing
          </button>
          <button
            type="button"
            className="btn btn-danger"
            data-testid="switch-confirm"
            onClick={() => void store.getState().confirmSwitch()}
          >
            Discard edits and load
          </button>
        </div>
      </div>
    </div>
  );
}
