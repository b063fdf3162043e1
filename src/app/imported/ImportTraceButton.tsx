// "Import trace": reads a `trace-cmd report` (or tracefs) text file chosen by the user and
// shows it read-only (ImportedTraceDialog). A file with no KVM event says so, with the lines
// that could not be read; nothing the user had changes.
import { useRef, useState } from 'react';
import { parseTraceCmd, type ImportedTrace } from '../../core/import/trace-cmd';
import { ImportedTraceDialog } from './ImportedTraceDialog';

export function ImportTraceButton() {
  const input = useRef<HTMLInputElement>(null);
  const [opened, setOpened] = useState<{ name: string; trace: ImportedTrace } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const read = async (file: File) => {
    const trace = parseTraceCmd(await file.text());
    if (trace.events.length === 0) {
      const first = trace.problems[0];
      setError(
        `${file.name}: no KVM events (kvm_entry, kvm_exit, ...)` +
          (first ? `; line ${first.line}: ${first.message}` : ''),
      );
      return;
    }
    setError(null);
    setOpened({ name: file.name, trace });
  };
  return (
    <>
      <input
        ref={input}
        type="file"
        accept=".txt,.dat,.report,text/plain"
        hidden
        data-testid="import-trace-file"
        onChange={(e) => {
          const file = e.target.files?.[0];
          e.target.value = '';
          if (file) void read(file);
        }}
      />
      <button
        type="button"
        className="btn"
        data-testid="import-trace"
        aria-label="Import trace"
        aria-invalid={error ? true : undefined}
        title={
          error ??
          'Show a real KVM trace (the text of trace-cmd report, or /sys/kernel/tracing/trace) read-only'
        }
        onClick={() => input.current?.click()}
      >
        Import<span className="export-long"> trace</span>
      </button>
      {opened && (
        <ImportedTraceDialog name={opened.name} trace={opened.trace} onClose={() => setOpened(null)} />
      )}
    </>
  );
}
