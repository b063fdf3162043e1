// A rejected scenario or program, shown where it was typed: the kind, the message, where it
// is, and for a program error the offending line with a caret under the column.
import type { LabError } from '../../core/engine/view';

const KIND_TITLES: Record<LabError['kind'], string> = {
  scenario: 'Scenario error',
  program: 'Program error',
  limit: 'Limit reached',
  runtime: 'Run-time error',
  crash: 'Worker crash',
  fork: 'Fork edit error',
};

export function EditorError({
  error,
  editorLine,
  programLine,
  onGoToLine,
}: {
  error: LabError;
  editorLine: number | null;
  programLine: string | null;
  onGoToLine: (line: number) => void;
}) {
  const position =
    error.line !== undefined
      ? `${error.level !== undefined ? `L${error.level} ` : ''}line ${error.line}${
          error.column !== undefined ? `, column ${error.column}` : ''
        }`
      : null;
  return (
    <div className="editor-error" role="alert" data-testid="editor-error" data-kind={error.kind}>
      <div className="editor-error-head">
        <span className="editor-error-kind">{KIND_TITLES[error.kind]}</span>
        {position && <span className="editor-error-pos">{position}</span>}
        {error.where && error.where !== position && (
          <span className="editor-error-where mono">{error.where}</span>
        )}
        {editorLine !== null && (
          <button type="button" className="btn btn-small" onClick={() => onGoToLine(editorLine)}>
            Go to line {editorLine}
          </button>
        )}
      </div>
      <p className="editor-error-message">{error.message}</p>
      {programLine !== null && (
        <pre className="editor-error-source mono" data-testid="editor-error-source">
          {programLine}
          {error.column !== undefined && (
            <>
              {'\n'}
              {' '.repeat(Math.max(0, error.column - 1))}^
            </>
          )}
        </pre>
      )}
      <p className="editor-error-note">The previous run stays on screen until this one loads.</p>
    </div>
  );
}
