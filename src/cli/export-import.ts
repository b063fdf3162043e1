// --perfetto FILE (a run, or an imported trace, as trace-event JSON) and --import FILE (the text
// of `trace-cmd report` or /sys/kernel/tracing/trace, summarised).
import type { LabSession } from '../core/engine/session';
import { sessionToPerfetto, type PerfettoClock } from '../core/export/perfetto';
import { importToPerfetto } from '../core/import/to-perfetto';
import { builtinExitIndex, closestBuiltins, vmxEquivalent } from '../core/import/closest';
import { formatImportSummary, reasonLabel } from '../core/import/summary';
import { describeImported } from '../core/import/describe';
import { searchImported } from '../core/import/search';
import { parseTraceCmd } from '../core/import/trace-cmd';

export type WriteFile = (path: string, text: string) => void;

export interface CliOutcome {
  code: 0 | 1 | 2;
  stdout: string;
  stderr: string;
}

/** Writes the run's trace-event JSON; returns the line to print, or an error. */
export function writePerfetto(
  session: LabSession,
  path: string,
  clock: PerfettoClock,
  writeFile: WriteFile,
): { ok: true; note: string } | { ok: false; error: string } {
  const file = sessionToPerfetto(session, clock);
  try {
    writeFile(path, JSON.stringify(file) + '\n');
  } catch (e) {
    return { ok: false, error: `--perfetto ${path}: cannot write (${(e as Error).message})` };
  }
  return { ok: true, note: `perfetto: wrote ${file.traceEvents.length} trace events to ${path}\n` };
}

/** --import: 0 every line read, 1 some lines could not be read (listed; the rest is summarised),
 *  2 the file cannot be read or holds no KVM event, or --search's query cannot be read. With
 *  --search, the matching events (one a line, with their line numbers) instead of the summary. */
export function runImport(
  path: string,
  perfetto: string | null,
  readFile: (path: string) => string,
  writeFile: WriteFile,
  search: string | null = null,
): CliOutcome {
  let text: string;
  try {
    text = readFile(path);
  } catch {
    return { code: 2, stdout: '', stderr: `--import ${path}: cannot read the file\n` };
  }
  const trace = parseTraceCmd(text);
  const problems = trace.problems.map((p) => `${path}:${p.line}: ${p.message}\n`).join('');
  if (trace.events.length === 0)
    return {
      code: 2,
      stdout: '',
      stderr: `${problems}${path}: no KVM events (kvm_entry, kvm_exit, ...) found\n`,
    };
  let stdout: string;
  if (search !== null) {
    try {
      const found = searchImported(trace, search);
      stdout =
        `${found.matches.length} event${found.matches.length === 1 ? '' : 's'} match '${search.trim()}'\n` +
        found.matches.map((i) => `  ${describeImported(trace.events[i])}\n`).join('');
    } catch (e) {
      return { code: 2, stdout: '', stderr: `${problems}--search: ${(e as Error).message}\n` };
    }
  } else stdout = formatImportSummary(path, trace) + formatClosest(trace);
  if (perfetto !== null) {
    const file = importToPerfetto(trace, path);
    try {
      writeFile(perfetto, JSON.stringify(file) + '\n');
    } catch (e) {
      return { code: 2, stdout, stderr: `--perfetto ${perfetto}: cannot write (${(e as Error).message})\n` };
    }
    stdout += `perfetto: wrote ${file.traceEvents.length} trace events to ${perfetto}\n`;
  }
  return { code: trace.problems.length ? 1 : 0, stdout, stderr: problems };
}

/** For each exit reason in the trace, the built-ins that explain it (see closest.ts). */
function formatClosest(trace: ReturnType<typeof parseTraceCmd>): string {
  const seen = new Map<string, string>();
  const index = builtinExitIndex();
  for (const e of trace.events) {
    if (e.kind !== 'kvm_exit' || !e.exit) continue;
    const label = reasonLabel(e);
    if (seen.has(label)) continue;
    const reason = vmxEquivalent(e.exit, e.fields);
    const names = reason === null ? [] : closestBuiltins(reason, index).map((b) => b.name);
    seen.set(label, names.length ? names.join(', ') : 'no built-in takes this exit');
  }
  if (!seen.size) return '';
  const lines = ['', 'explain an exit with a built-in (npm run sim -- NAME):'];
  for (const [label, names] of seen) lines.push(`  ${label.padEnd(26)} ${names}`);
  return lines.join('\n') + '\n';
}
