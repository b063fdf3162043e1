// The help overlay: every registered action with its keys, and how to read the page.
import { useEffect, useRef } from 'react';
import { ACTIONS } from '../actions';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectHelpOpen } from '../store/selectors';
import { KIND_COLORS, KIND_LABELS, type MarkCategory } from '../theme';

const LEGEND: MarkCategory[] = [
  'extint',
  'nmi',
  'exception',
  'software',
  'iret',
  'assert-pass',
  'assert-fail',
  'vmexit',
  'vmentry',
  'decision',
];

export function HelpOverlay() {
  const store = useLabStoreApi();
  const open = useLab(selectHelpOpen);
  const closeButton = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (open) closeButton.current?.focus();
  }, [open]);

  if (!open) return null;
  const close = () => store.getState().setHelpOpen(false);
  return (
    <div className="overlay" onClick={close}>
      <div
        className="help"
        role="dialog"
        aria-modal="true"
        aria-labelledby="help-title"
        data-testid="help-overlay"
        onClick={(e) => e.stopPropagation()}
      >
        <header className="help-head">
          <h2 id="help-title">Keyboard shortcuts</h2>
          <button ref={closeButton} type="button" className="btn btn-icon" aria-label="Close" onClick={close}>
            ×
          </button>
        </header>
        <table className="help-keys">
          <tbody>
            {ACTIONS.map((a) => (
              <tr key={a.name} data-testid={`help-action-${a.name}`}>
                <td className="help-label">{a.label}</td>
                <td className="help-key-cell">
                  {a.keyLabels.map((k, i) => (
                    <span key={k}>
                      {i > 0 && <span className="muted"> or </span>}
                      <kbd>{k}</kbd>
                    </span>
                  ))}
                </td>
              </tr>
            ))}
            <tr>
              <td className="help-label">Run the edited scenario</td>
              <td className="help-key-cell">
                <kbd>Ctrl</kbd> + <kbd>Enter</kbd>
              </td>
            </tr>
          </tbody>
        </table>
        <h3>Reading the page</h3>
        <p>
          Step N is the state after the N-th event of the run; step 0 is the initial state. Values that
          changed in the step shown (compared with the step before it) are highlighted. On the timeline, wheel
          to zoom, drag to pan, click to go to a step, and drag the playhead to scrub. VM exits are arrows
          from a guest’s lane to its host’s, labelled with the exit reason; VM entries are arrows back, with a
          ringed diamond when the entry injects an event. A level that waits shows the state it will resume
          with: a host its HOST_RIP, a guest its VMCS guest area.
        </p>
        <p>
          The address bar always holds a link to the place on screen (scenario, parameters, step, zoom,
          bookmarks): paste it anywhere to land on the same step. Back and Forward move between the places you
          jumped to. Your edits live in named drafts (Draft menu); a link never overwrites one that holds
          work, it opens beside it. Bookmarks name a step, with a note.
        </p>
        <ul className="help-legend">
          {LEGEND.map((c) => (
            <li key={c}>
              <span className="swatch" style={{ background: KIND_COLORS[c] }} />
              {KIND_LABELS[c]}
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
