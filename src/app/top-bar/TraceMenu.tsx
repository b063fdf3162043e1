// The top bar's "Trace" menu: export the run as Chrome/Perfetto trace-event JSON, import a
// real KVM trace (the text of trace-cmd report or /sys/kernel/tracing/trace) to look at it
// read-only, or save a picture of the lab or one of its panels (SVG, PNG). The imported trace's dialog and the file picker live outside the popover, so
// that closing the menu does not close them. See docs/export-import.md.
import { useRef, useState } from 'react';
import { parseTraceCmd, type ImportedTrace } from '../../core/import/trace-cmd';
import { ImportedTraceDialog } from '../imported/ImportedTraceDialog';
import { PictureExport } from '../pictures/PictureExport';
import { ExportPerfettoButton } from './ExportPerfettoButton';
import { Popover, usePopoverClose } from './Popover';

function ImportItem({ onPick }: { onPick: () => void }) {
  const close = usePopoverClose();
  return (
    <button
      type="button"
      className="btn"
      data-testid="import-trace"
      title="Show a real KVM trace (the text of trace-cmd report, or /sys/kernel/tracing/trace) read-only"
      onClick={() => {
        close();
        onPick();
      }}
    >
      Import trace…
    </button>
  );
}

export function TraceMenu() {
  const input = useRef<HTMLInputElement>(null);
  const [opened, setOpened] = useState<{ name: string; trace: ImportedTrace } | null>(null);
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
          if (file)
            void file.text().then((text) => setOpened({ name: file.name, trace: parseTraceCmd(text) }));
        }}
      />
      <Popover
        testId="trace-menu"
        className="trace-menu"
        title="Export this run as Perfetto JSON, import a real KVM trace, or save a picture"
        label="Trace"
      >
        <div className="trace-menu-items">
          <ExportPerfettoButton />
          <ImportItem onPick={() => input.current?.click()} />
          <PictureExport />
        </div>
      </Popover>
      {opened && (
        <ImportedTraceDialog name={opened.name} trace={opened.trace} onClose={() => setOpened(null)} />
      )}
    </>
  );
}
