// npm run sim -- NAME --fork 'STEP:TARGET=VALUE' … and --compare PARAM=VALUE | fork
// (docs/compare.md): open a fork, and print two runs' first divergence and exit counts.
import { alignRuns, exitsPerLevel } from '../core/engine/compare';
import { openFork } from '../core/engine/fork-session';
import { type OpenResult, type LabSession, openSession } from '../core/engine/session';
import { ForkError, parseEdit } from '../core/scenario/fork';
import type { ParamValue } from '../core/scenario/schema';
import { forkLabError } from '../core/engine/fork-session';
import { formatError } from './summary';

export interface CliOutput {
  code: 0 | 1 | 2;
  stdout: string;
  stderr: string;
}

type Source = { text: string } | { doc: unknown };

/** Opens the scenario, or its fork when edits are given (each `STEP:TARGET=VALUE`). */
export function openMaybeFork(
  source: Source,
  params: Record<string, ParamValue>,
  edits: string[],
): OpenResult {
  if (edits.length === 0) return openSession(source, params);
  try {
    return openFork(
      source,
      params,
      edits.map((e, i) => parseEdit(e, i)),
    );
  } catch (e) {
    if (e instanceof ForkError) return { ok: false, error: forkLabError(e) };
    throw e;
  }
}

function describeSide(params: Record<string, ParamValue>, edits: string[]): string {
  const p = Object.entries(params).map(([k, v]) => `${k}=${String(v)}`);
  if (edits.length) p.push(`fork ${edits.join(' ')}`);
  return p.length ? p.join(' ') : 'as written';
}

function eventLine(s: LabSession, step: number | null): string {
  if (step === null) return `the run has ended (${s.totalSteps} steps)`;
  const v = s.view(step);
  return `step ${step}  L${v.event!.level}  ${v.explanation.text}`;
}

/**
 * --compare: run A (the parameters given with --set, no edits) and B (A's parameters with the
 * --compare ones over them, and the --fork edits), align them, and print the first divergence
 * and the VM exits per level of each.
 */
export function compareOutput(
  target: string,
  source: Source,
  params: Record<string, ParamValue>,
  other: Record<string, ParamValue>,
  edits: string[],
  json: boolean,
): CliOutput {
  const a = openSession(source, params);
  if (!a.ok) return { code: 2, stdout: '', stderr: formatError(target, a.error) + '\n' };
  const bParams = { ...params, ...other };
  const b = openMaybeFork(source, bParams, edits);
  if (!b.ok) return { code: 2, stdout: '', stderr: formatError(target, b.error) + '\n' };
  const A = a.session;
  const B = b.session;
  const al = alignRuns(A.sim.trace, B.sim.trace);
  const exA = exitsPerLevel(A.sim.trace);
  const exB = exitsPerLevel(B.sim.trace);
  const levels = Math.max(A.compiled.lanes.length, B.compiled.lanes.length);
  const names = Array.from(
    { length: levels },
    (_, l) => B.info().levels[l]?.name ?? A.info().levels[l]?.name,
  );
  if (json) {
    const out = {
      a: { params: A.compiled.values, steps: A.totalSteps, exitsPerLevel: exA },
      b: { params: B.compiled.values, edits, steps: B.totalSteps, exitsPerLevel: exB },
      prefix: al.prefix,
      matched: al.matched,
      divergence: al.divergence && {
        a: al.divergence.a,
        b: al.divergence.b,
        eventA: al.divergence.a ? A.view(al.divergence.a).event : null,
        eventB: al.divergence.b ? B.view(al.divergence.b).event : null,
      },
    };
    return { code: 0, stdout: JSON.stringify(out, null, 1) + '\n', stderr: '' };
  }
  const lines = [
    `nestlab · compare ${target}`,
    `  A: ${describeSide(params, [])} — ${A.totalSteps} steps`,
    `  B: ${describeSide(other, edits)} — ${B.totalSteps} steps`,
    `common prefix: ${al.prefix} event${al.prefix === 1 ? '' : 's'}; events matched: ${al.matched} of A's ${A.totalSteps} and B's ${B.totalSteps}`,
  ];
  if (!al.divergence) lines.push('the runs are identical');
  else {
    lines.push('first divergence:');
    lines.push(`  A  ${eventLine(A, al.divergence.a)}`);
    lines.push(`  B  ${eventLine(B, al.divergence.b)}`);
  }
  lines.push('VM exits, by the level that exited:');
  const w = Math.max(...names.map((n) => n.length));
  lines.push(`  ${''.padEnd(w)}  ${'A'.padStart(6)}  ${'B'.padStart(6)}`);
  names.forEach((n, l) =>
    lines.push(`  ${n.padEnd(w)}  ${String(exA[l] ?? 0).padStart(6)}  ${String(exB[l] ?? 0).padStart(6)}`),
  );
  return { code: 0, stdout: lines.join('\n') + '\n', stderr: '' };
}
