// "Export Perfetto JSON" (in the Trace menu): the whole run as Chrome/Perfetto trace-event JSON, downloaded as
// SCENARIO.perfetto.json (open it in ui.perfetto.dev). The worker builds the file from the
// trace (src/core/export/perfetto.ts); see docs/export-import.md.
import { useState } from 'react';
import { useLab, useSimClient } from '../sim-client-context';
import { downloadText } from '../download';

export function ExportPerfettoButton() {
  const client = useSimClient();
  const info = useLab((s) => s.info);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const exportRun = async () => {
    if (!info) return;
    setBusy(true);
    setError(null);
    try {
      downloadText(`${info.name}.perfetto.json`, await client.perfetto('tsc'));
    } catch (e) {
      setError(`Export failed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button
      type="button"
      className="btn"
      data-testid="export-perfetto"
      title={
        error ??
        'Download the run as Chrome/Perfetto trace-event JSON (levels as threads, VM exits and entries as flow arrows, KVM decisions as instants); open it in ui.perfetto.dev'
      }
      disabled={!info || busy}
      aria-invalid={error ? true : undefined}
      onClick={() => void exportRun()}
    >
      {busy ? 'Exporting…' : error ? `Export Perfetto JSON — ${error}` : 'Export Perfetto JSON'}
    </button>
  );
}
