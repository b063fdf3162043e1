// The scenario editor: the JSON document (programs included) in a plain textarea with line
// numbers. Ctrl+Enter runs it; errors show in place with the offending line highlighted.
import { useEffect, useMemo, useRef, useState } from 'react';
import { useLab, useLabStoreApi } from '../sim-client-context';
import {
  selectEditorEdited,
  selectEditorFocusTick,
  selectEditorText,
  selectLoadError,
  selectLoading,
} from '../store/selectors';
import { EditorError } from './EditorError';
import { locateError } from './error-location';

/** Must match --editor-line in editor.css: the gutter and the error band are laid out by it. */
const LINE_HEIGHT = 20;
const PAD_TOP = 8;

export function ScenarioEditor() {
  const store = useLabStoreApi();
  const text = useLab(selectEditorText);
  const edited = useLab(selectEditorEdited);
  const error = useLab(selectLoadError);
  const loading = useLab(selectLoading);
  const focusTick = useLab(selectEditorFocusTick);
  const textarea = useRef<HTMLTextAreaElement>(null);
  const [scrollTop, setScrollTop] = useState(0);

  const lineCount = useMemo(() => text.split('\n').length, [text]);
  const location = useMemo(() => (error ? locateError(text, error) : null), [text, error]);
  const errorLine = location?.editorLine ?? null;

  useEffect(() => {
    if (focusTick > 0) textarea.current?.focus();
  }, [focusTick]);

  // A new error scrolls its line into view (without moving the caret).
  useEffect(() => {
    const el = textarea.current;
    if (!el || errorLine === null) return;
    const top = (errorLine - 1) * LINE_HEIGHT;
    if (top < el.scrollTop || top > el.scrollTop + el.clientHeight - 2 * LINE_HEIGHT) {
      el.scrollTop = Math.max(0, top - 3 * LINE_HEIGHT);
      setScrollTop(el.scrollTop);
    }
  }, [error, errorLine]);

  const goToLine = (line: number) => {
    const el = textarea.current;
    if (!el) return;
    const lines = el.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    el.focus();
    el.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
    el.scrollTop = Math.max(0, (line - 4) * LINE_HEIGHT);
  };

  return (
    <div className="editor">
      <div className="editor-toolbar">
        <button
          type="button"
          className="btn btn-primary"
          data-testid="run-button"
          title="Run the scenario (Ctrl+Enter)"
          disabled={loading}
          onClick={() => void store.getState().runEditor()}
        >
          Run
        </button>
        <button
          type="button"
          className="btn"
          data-testid="reset-button"
          title="Discard the edits and load the built-in scenario again"
          onClick={() => void store.getState().resetEditorToBuiltin()}
        >
          Reset to built-in
        </button>
        <span className="editor-status" data-testid="editor-status">
          {edited ? 'edited · saved in this browser' : 'as loaded'}
        </span>
        <span className="editor-hint">Ctrl+Enter runs</span>
      </div>
      {error && location && (
        <EditorError
          error={error}
          editorLine={location.editorLine}
          programLine={location.programLine}
          onGoToLine={goToLine}
        />
      )}
      <div className="editor-body">
        <div className="editor-gutter" aria-hidden="true">
          <div style={{ transform: `translateY(${-scrollTop}px)`, paddingTop: PAD_TOP }}>
            {Array.from({ length: lineCount }, (_, i) => (
              <div
                key={i}
                className={`editor-ln${errorLine === i + 1 ? ' error' : ''}`}
                data-testid={errorLine === i + 1 ? 'editor-error-line' : undefined}
              >
                {i + 1}
              </div>
            ))}
          </div>
        </div>
        <div className="editor-text">
          {errorLine !== null && (
            <div
              className="editor-error-band"
              aria-hidden="true"
              style={{ top: PAD_TOP + (errorLine - 1) * LINE_HEIGHT - scrollTop }}
            />
          )}
          <textarea
            ref={textarea}
            data-testid="editor-textarea"
            aria-label="Scenario JSON"
            spellCheck={false}
            autoCapitalize="off"
            autoComplete="off"
            wrap="off"
            value={text}
            onChange={(e) => store.getState().setEditorText(e.target.value)}
            onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                void store.getState().runEditor();
              } else if (e.key === 'Escape') {
                // Leave the editor so the stepping keys work again.
                e.currentTarget.blur();
              }
            }}
          />
        </div>
      </div>
    </div>
  );
}
