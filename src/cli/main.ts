// npm run sim -- <scenario.json | built-in name> [--set key=value ...] [--nest kvm] [--json] [--at N] [--search Q] [--list]
//   [--perfetto out.json [--perfetto-clock tsc|cycles]];  npm run sim -- --import trace.txt [--perfetto out.json] [--search Q]
// Runs a scenario to its end in Node. Exit status: 0 every assertion passed, 1 one failed,
// 2 the scenario is invalid or the run hit a limit or a run-time error (reason on stderr).
// --search runs a palette query (docs/search.md) and prints its results instead: status 0, or
// 2 with the column and the reason when the query cannot be read. --fork runs the scenario with
// edits of its state; --compare prints the first divergence of two variants (docs/compare.md).
import { readFileSync, writeFileSync } from 'node:fs';
import { runQuery, sessionRun } from '../core/engine/search';
import { BUILTIN_SCENARIOS, findBuiltin } from '../core/scenario/builtins';
import { ScenarioError, readParams } from '../core/scenario/params';
import { parseScenarioText } from '../core/scenario/load';
import { nestUnderKvm } from '../core/scenario/nest';
import type { ParamValue } from '../core/scenario/schema';
import { runImport, writePerfetto, type WriteFile } from './export-import';
import { compareOutput, openMaybeFork } from './compare-cli';
import { formatError, formatStepState, formatSummary, formatTraceJson } from './summary';

const USAGE = `usage: npm run sim -- <scenario.json | built-in name> [--set key=value ...] [--nest kvm] [--json] [--at STEP] [--from STEP] [--to STEP] [--search QUERY]
           [--fork STEP:TARGET=VALUE ...] [--compare PARAM=VALUE ... | --compare fork]
           [--perfetto OUT.json [--perfetto-clock tsc|cycles]]
       npm run sim -- --import TRACE.txt [--perfetto OUT.json] [--search QUERY]
       npm run sim -- --list`;

export interface CliResult {
  code: 0 | 1 | 2;
  stdout: string;
  stderr: string;
}

function listBuiltins(): string {
  const lines: string[] = ['Built-in scenarios:', ''];
  for (const doc of BUILTIN_SCENARIOS) {
    const d = doc as { name: string; title: string };
    lines.push(`  ${d.name}`);
    lines.push(`      ${d.title}`);
    for (const [k, p] of Object.entries(readParams(doc))) {
      const choices = p.choices ? `, one of ${p.choices.join(' ')}` : '';
      lines.push(`      --set ${k}=${String(p.default)}  (${p.type}${choices}) ${p.description}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export function runCli(
  args: string[],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
  writeFile: WriteFile = (p, text) => writeFileSync(p, text),
): CliResult {
  let perfetto: string | null = null;
  let clock: 'tsc' | 'cycles' = 'tsc';
  let importPath: string | null = null;
  let json = false;
  let at: number | null = null;
  const range: { from?: number; to?: number } = {};
  let target: string | null = null;
  let nest = 0;
  let search: string | null = null;
  const params: Record<string, ParamValue> = {};
  const edits: string[] = [];
  let compare: Record<string, ParamValue> | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') json = true;
    else if (a === '--perfetto' || a === '--import') {
      const v = args[++i];
      if (v === undefined || v.startsWith('--'))
        return { code: 2, stdout: '', stderr: `${a} needs a file name\n${USAGE}\n` };
      if (a === '--perfetto') perfetto = v;
      else importPath = v;
    } else if (a === '--perfetto-clock') {
      const v = args[++i];
      if (v !== 'tsc' && v !== 'cycles')
        return { code: 2, stdout: '', stderr: `--perfetto-clock takes tsc or cycles\n${USAGE}\n` };
      clock = v;
    } else if (a === '--from' || a === '--to') {
      const v = args[++i];
      if (v === undefined || !/^\d+$/.test(v))
        return { code: 2, stdout: '', stderr: `${a} needs a step number\n${USAGE}\n` };
      range[a === '--from' ? 'from' : 'to'] = Number(v);
    } else if (a === '--at') {
      const v = args[++i];
      if (v === undefined || !/^\d+$/.test(v))
        return { code: 2, stdout: '', stderr: `--at needs a step number\n${USAGE}\n` };
      at = Number(v);
    } else if (a === '--search') {
      const v = args[++i];
      if (v === undefined)
        return { code: 2, stdout: '', stderr: `--search needs a query (docs/search.md)\n${USAGE}\n` };
      search = v;
    } else if (a === '--fork') {
      const v = args[++i];
      if (v === undefined || v.startsWith('--'))
        return {
          code: 2,
          stdout: '',
          stderr: `--fork needs an edit STEP:TARGET=VALUE (docs/compare.md)\n${USAGE}\n`,
        };
      edits.push(v);
    } else if (a === '--compare') {
      const v = args[++i];
      const eq = v?.indexOf('=') ?? -1;
      if (v !== 'fork' && (v === undefined || eq <= 0))
        return {
          code: 2,
          stdout: '',
          stderr: `--compare needs PARAM=VALUE (the other variant) or 'fork' (the --fork edits)\n${USAGE}\n`,
        };
      compare ??= {};
      if (v !== 'fork') compare[v.slice(0, eq)] = v.slice(eq + 1);
    } else if (a === '--nest') {
      const v = args[++i];
      if (v !== 'kvm')
        return {
          code: 2,
          stdout: '',
          stderr: `--nest takes 'kvm' (run the scenario under one more KVM level)\n${USAGE}\n`,
        };
      nest++;
    } else if (a === '--list') return { code: 0, stdout: listBuiltins() + '\n', stderr: '' };
    else if (a === '--help' || a === '-h') return { code: 0, stdout: USAGE + '\n', stderr: '' };
    else if (a === '--set') {
      const kv = args[++i];
      const eq = kv?.indexOf('=') ?? -1;
      if (!kv || eq <= 0) return { code: 2, stdout: '', stderr: `--set needs key=value\n${USAGE}\n` };
      params[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a.startsWith('--set=')) {
      const kv = a.slice(6);
      const eq = kv.indexOf('=');
      if (eq <= 0) return { code: 2, stdout: '', stderr: `--set needs key=value\n${USAGE}\n` };
      params[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a.startsWith('-')) return { code: 2, stdout: '', stderr: `unknown option '${a}'\n${USAGE}\n` };
    else if (target === null) target = a;
    else
      return { code: 2, stdout: '', stderr: `one scenario at a time ('${target}' and '${a}')\n${USAGE}\n` };
  }
  if (importPath !== null) {
    if (target !== null)
      return {
        code: 2,
        stdout: '',
        stderr: `--import reads a trace, not a scenario ('${target}')\n${USAGE}\n`,
      };
    return runImport(importPath, perfetto, readFile, writeFile, search);
  }
  if (target === null) return { code: 2, stdout: '', stderr: `${USAGE}\n` };
  const builtin = findBuiltin(target);
  let source: { text: string } | { doc: unknown };
  if (builtin) source = { doc: builtin };
  else {
    try {
      source = { text: readFile(target) };
    } catch {
      return {
        code: 2,
        stdout: '',
        stderr: `'${target}' is neither a built-in scenario (see --list) nor a readable file\n`,
      };
    }
  }
  if (nest > 0) {
    try {
      let raw = 'doc' in source ? source.doc : parseScenarioText(source.text);
      for (let i = 0; i < nest; i++) raw = nestUnderKvm(raw);
      source = { doc: raw };
    } catch (e) {
      if (e instanceof ScenarioError)
        return {
          code: 2,
          stdout: '',
          stderr: formatError(target, { kind: e.kind, message: e.message, where: e.where }) + '\n',
        };
      throw e;
    }
  }
  if (compare !== null) return compareOutput(target, source, params, compare, edits, json);
  const opened = openMaybeFork(source, params, edits);
  if (!opened.ok) return { code: 2, stdout: '', stderr: formatError(target, opened.error) + '\n' };
  const session = opened.session;
  const runError = session.runError();
  if (search !== null) return searchOutput(session, search, json);
  if (at !== null && at > session.totalSteps) {
    return { code: 2, stdout: '', stderr: `--at ${at}: the run has ${session.totalSteps} steps\n` };
  }
  let stdout =
    at !== null
      ? json
        ? JSON.stringify(session.view(at), null, 1) + '\n'
        : formatStepState(session.view(at))
      : json
        ? formatTraceJson(session)
        : formatSummary(session, range);
  if (perfetto !== null) {
    const w = writePerfetto(session, perfetto, clock, writeFile);
    if (!w.ok) return { code: 2, stdout, stderr: w.error + '\n' };
    stdout += w.note;
  }
  if (runError) return { code: 2, stdout, stderr: formatError(target, runError) + '\n' };
  const end = session.expectedEnd();
  const failed = session.assertions.some((a) => !a.passed && !a.skipped) || (end !== null && !end.reached);
  return { code: failed ? 1 : 0, stdout, stderr: '' };
}

/** --search: the answer of the palette's query, as text (one result a line) or JSON. */
function searchOutput(session: Parameters<typeof sessionRun>[0], query: string, json: boolean): CliResult {
  const answer = runQuery(sessionRun(session), query);
  if (!answer.ok) return { code: 2, stdout: '', stderr: `--search: ${answer.error.message}\n` };
  if (json) return { code: 0, stdout: JSON.stringify(answer, null, 1) + '\n', stderr: '' };
  if (answer.kind === 'goto') return { code: 0, stdout: `go to ${answer.note}\n`, stderr: '' };
  const lines = [`${answer.total} result${answer.total === 1 ? '' : 's'}: ${answer.description}`];
  answer.steps.forEach((step, i) =>
    lines.push(`  step ${step}${answer.notes[i] ? `  ${answer.notes[i]}` : ''}`),
  );
  return { code: 0, stdout: lines.join('\n') + '\n', stderr: '' };
}

const isMain = process.argv[1] && /cli[\\/]main\.ts$/.test(process.argv[1]);
if (isMain) {
  // Output piped into `head` and closed early is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  const r = runCli(process.argv.slice(2));
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.exitCode = r.code;
}
