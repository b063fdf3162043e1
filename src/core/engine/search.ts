// Go to and search (docs/search.md): runs a palette query over a run. Event searches read the
// trace's columns only (a million steps in a few milliseconds); "when did X change" replays
// the run from its first checkpoint, reading the watched value after every step.
import { hypervisorFunction } from '../hypervisors/functions';
import type { CompiledScenario } from '../scenario/load';
import { svmExitName } from '../svm/exit-codes';
import { exitReasonByCode } from '../vmx/exit-reasons';
import type { SimState } from './machine';
import type { LabSession } from './session';
import { type Query, type SearchTerm, parseQuery } from './search-query';
import { type ChangeTarget, bindTarget, showValue, targetValue } from './search-targets';
import { QueryError } from './search-words';
import { EVENT_KIND_NAMES, EventKind } from './view';

/** The trace columns a search reads (engine/trace.ts's Trace has them). */
export interface SearchColumns {
  readonly length: number;
  readonly kind: ArrayLike<number>;
  readonly level: ArrayLike<number>;
  readonly time: ArrayLike<number>;
  readonly d0: ArrayLike<number>;
  readonly d1: ArrayLike<number>;
  readonly d2: ArrayLike<number>;
}

/** What a search needs of a run besides its columns. */
export interface SearchRun {
  cols: SearchColumns;
  /** The message of the `assert` recorded at trace index i. */
  assertionText(i: number): string;
  /** For change searches: the compiled scenario, and a replay that visits the state after
   *  every step in order. Absent: change searches are not offered. */
  compiled?: CompiledScenario;
  forEachState?(visit: (s: SimState) => void): void;
}

/** Most result steps returned; the count says how many there were. */
export const MAX_RESULTS = 100_000;
/** Results that get a note (the palette lists at most this many). */
export const MAX_NOTES = 2_000;

export type SearchAnswer =
  | { ok: true; kind: 'goto'; step: number; note: string }
  | {
      ok: true;
      kind: 'results';
      /** What was searched for, in words. */
      description: string;
      /** Matching steps in order (the first MAX_RESULTS). */
      steps: number[];
      /** One line per listed result (the first MAX_NOTES). */
      notes: string[];
      total: number;
      /** Time the search took in the worker. */
      ms: number;
    }
  | { ok: false; error: { message: string; column: number; length: number } };

function vectorOf(kind: number, d0: number, d1: number): number {
  switch (kind) {
    case EventKind.DELIVER:
    case EventKind.RAISE:
    case EventKind.SHUTDOWN:
      return d0 & 0xff;
    case EventKind.VMEXIT: // the exit interruption information, when valid
      return d1 & 0x80000000 ? d1 & 0xff : -1;
    case EventKind.VMENTRY: // the injected event, when valid
      return d0 & 0x80000000 ? d0 & 0xff : -1;
  }
  return -1;
}

type Test = (i: number) => boolean;

/** A term as a gate on the event's kind (kinds it can match) and, when the kind is not
 *  enough, a test of the event's other columns. */
interface Compiled {
  kinds: number[] | null;
  test: Test | null;
}

const VECTOR_KINDS = [
  EventKind.DELIVER,
  EventKind.RAISE,
  EventKind.SHUTDOWN,
  EventKind.VMEXIT,
  EventKind.VMENTRY,
];

function compileTerm(run: SearchRun, term: SearchTerm): Compiled {
  const { kind, level, d0, d1 } = run.cols;
  switch (term.t) {
    case 'kind':
      return { kinds: [term.kind], test: null };
    case 'level':
      return { kinds: null, test: (i) => level[i] === term.level };
    case 'exit':
      return {
        kinds: [EventKind.VMEXIT],
        test: term.basic ? (i) => (d0[i] & 0xffff) === term.reason : (i) => d0[i] >>> 0 === term.reason,
      };
    case 'vector':
      return { kinds: VECTOR_KINDS, test: (i) => vectorOf(kind[i], d0[i], d1[i]) === term.vector };
    case 'function':
      return { kinds: [EventKind.DECISION], test: (i) => d0[i] === term.fn };
    case 'assert': {
      const text = term.text?.toLowerCase() ?? null;
      return {
        kinds: [EventKind.ASSERT],
        test: (i) =>
          (term.passed === null || (term.passed ? d1[i] === 1 : d1[i] === 0)) &&
          (text === null || run.assertionText(i).toLowerCase().includes(text)),
      };
    }
  }
}

/** One line about trace event i, for the results list. */
export function eventNote(run: SearchRun, i: number): string {
  const { kind, level, d0, d1 } = run.cols;
  const k = kind[i];
  const at = `L${level[i]}`;
  switch (k) {
    case EventKind.VMEXIT: {
      // On AMD the exit is a #VMEXIT with an SVM exit code.
      if (run.compiled?.scenario.arch === 'svm')
        return `${at} #VMEXIT 0x${(d0[i] >>> 0).toString(16)} ${svmExitName(d0[i]).replace(/^SVM_EXIT_/, '')}`;
      const r = exitReasonByCode(d0[i] & 0xffff);
      return `${at} VM exit ${d0[i] & 0xffff}${r ? ` ${r.name.replace(/^EXIT_REASON_/, '')}` : ''}`;
    }
    case EventKind.DECISION:
      return `${at} ${hypervisorFunction(d0[i]).name}`;
    case EventKind.ASSERT:
      return `${at} assert ${d1[i] === 1 ? 'passed' : d1[i] === 2 ? 'skipped' : 'failed'}: ${run.assertionText(i)}`;
    case EventKind.DELIVER:
    case EventKind.RAISE:
      return `${at} ${EVENT_KIND_NAMES[k]} vector ${d0[i] & 0xff}`;
    case EventKind.VMENTRY:
      return `${at} VM entry${d0[i] & 0x80000000 ? `, injecting vector ${d0[i] & 0xff}` : ''}`;
  }
  return `${at} ${EVENT_KIND_NAMES[k] ?? `kind ${k}`}`;
}

function searchEvents(run: SearchRun, terms: SearchTerm[]): { steps: number[]; total: number } {
  // One pass: a table lookup on the kind column rejects most events; the remaining tests run
  // only on events of the kinds every term allows.
  const gate = new Uint8Array(256).fill(1);
  const tests: Test[] = [];
  for (const term of terms) {
    const c = compileTerm(run, term);
    if (c.kinds) {
      const allowed = new Set(c.kinds);
      for (let k = 0; k < 256; k++) if (!allowed.has(k)) gate[k] = 0;
    }
    if (c.test) tests.push(c.test);
  }
  const kind = run.cols.kind;
  const n = run.cols.length;
  const steps: number[] = [];
  let total = 0;
  const t0 = tests[0];
  if (tests.length === 0) {
    for (let i = 0; i < n; i++) if (gate[kind[i]] === 1 && total++ < MAX_RESULTS) steps.push(i + 1);
  } else if (tests.length === 1) {
    for (let i = 0; i < n; i++) if (gate[kind[i]] === 1 && t0(i) && total++ < MAX_RESULTS) steps.push(i + 1);
  } else {
    outer: for (let i = 0; i < n; i++) {
      if (gate[kind[i]] !== 1) continue;
      for (const t of tests) if (!t(i)) continue outer;
      if (total++ < MAX_RESULTS) steps.push(i + 1);
    }
  }
  return { steps, total };
}

/** The steps after which the watched value differs from the step before, with old → new. */
export function searchChanges(
  run: SearchRun,
  target: ChangeTarget,
): { steps: number[]; notes: string[]; total: number } {
  const c = run.compiled!;
  const t = bindTarget(c, target);
  const steps: number[] = [];
  const notes: string[] = [];
  let total = 0;
  const decimal = t.w === 'kvm' && t.variable !== 'current_vmptr';
  const show = (v: number | string | null) => showValue(v, decimal);
  let prev: number | string | null = null;
  run.forEachState!((s) => {
    const v = targetValue(c, s, t);
    if (s.step > 0 && v !== prev) {
      total++;
      if (steps.length < MAX_RESULTS) steps.push(s.step);
      if (notes.length < MAX_NOTES) notes.push(`${t.label}: ${show(prev)} → ${show(v)}`);
    }
    prev = v;
  });
  return { steps, notes, total };
}

/** The first step whose event happened at or after `cycles` (the last step when none did). */
export function stepAtTime(cols: SearchColumns, cycles: number): number {
  let lo = 0;
  let hi = cols.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cols.time[mid] < cycles) lo = mid + 1;
    else hi = mid;
  }
  return Math.min(lo + 1, cols.length);
}

function describeQuery(q: Query): string {
  return q.q === 'change' ? `when ${q.target.label} changed` : q.q === 'events' ? q.text : '';
}

/** Runs a query. Never throws for a query that cannot be read: the answer names the column. */
export function runQuery(run: SearchRun, query: string): SearchAnswer {
  const t0 = performance.now();
  try {
    const q = parseQuery(query, run.compiled?.scenario.arch ?? 'vmx');
    if (q.q === 'step') {
      const total = run.cols.length;
      if (q.step > total)
        throw new QueryError(`step ${q.step} is past the end of the run (${total} steps)`, 1, query.length);
      return { ok: true, kind: 'goto', step: q.step, note: `step ${q.step}` };
    }
    if (q.q === 'time') {
      const step = stepAtTime(run.cols, q.cycles);
      const at = step > 0 ? run.cols.time[step - 1] : 0;
      return {
        ok: true,
        kind: 'goto',
        step,
        note: `step ${step}, the first event at or after cycle ${q.cycles} (at ${at})`,
      };
    }
    if (q.q === 'change') {
      if (!run.compiled || !run.forEachState)
        throw new QueryError('this run cannot be replayed to watch a value', 1, 1);
      const r = searchChanges(run, q.target);
      const bound = bindTarget(run.compiled, q.target);
      return {
        ok: true,
        kind: 'results',
        description: `when ${bound.label} changed`,
        ...r,
        ms: performance.now() - t0,
      };
    }
    const r = searchEvents(run, q.terms);
    const notes = r.steps.slice(0, MAX_NOTES).map((s) => eventNote(run, s - 1));
    return {
      ok: true,
      kind: 'results',
      description: describeQuery(q),
      ...r,
      notes,
      ms: performance.now() - t0,
    };
  } catch (e) {
    if (e instanceof QueryError)
      return { ok: false, error: { message: e.message, column: e.column, length: e.length } };
    throw e;
  }
}

/** A loaded session as a SearchRun: its trace, its assertions' messages, its replay. */
export function sessionRun(session: LabSession): SearchRun {
  const c = session.compiled;
  const t = session.sim.trace;
  return {
    cols: t,
    assertionText: (i) => {
      const ins = c.programs[c.lanes[t.level[i]].program].instrs[t.d0[i]];
      return ins.message ?? ins.text;
    },
    compiled: c,
    forEachState: (visit) => session.sim.forEachState(visit),
  };
}
