// One loaded scenario and its run, as the faces use it: the worker answers the page from a
// session, the command line prints one, the tests and benchmarks drive one.
import { describeSvm, withSvmLevel } from './describe-svm';
import { Op } from '../asm/ir';
import { ScenarioError, paramInfo } from '../scenario/params';
import { type CompiledScenario, compileScenario, parseScenarioText } from '../scenario/load';
import type { ParamValue } from '../scenario/schema';
import { describeEvent, describeLevel, describeVmx, levelName } from './describe';
import { explainStep } from './explain';
import type { ForkPlan } from '../scenario/fork-apply';
import { explainEdit } from '../scenario/fork-explain';
import { type SimState, cloneState } from './machine';
import { Simulation } from './simulation';
import {
  EVENT_KIND_NAMES,
  EventKind,
  type AssertionView,
  type LabError,
  type ParamInfo,
  type ScenarioInfo,
  type StepView,
  type TimelineData,
  type TraceEventView,
  type ExpectedEndView,
  type UnreachedAssertionView,
} from './view';

export type OpenResult = { ok: true; session: LabSession } | { ok: false; error: LabError };

export function toLabError(e: unknown): LabError {
  if (e instanceof ScenarioError) {
    return {
      kind: e.kind,
      message: e.message,
      where: e.where,
      level: e.level,
      line: e.line,
      column: e.column,
    };
  }
  return { kind: 'crash', message: e instanceof Error ? e.message : String(e), where: null };
}

/** Open a scenario from its JSON text or parsed document, with parameter overrides. */
export function openSession(
  source: { text: string } | { doc: unknown },
  params: Record<string, ParamValue> = {},
): OpenResult {
  try {
    const doc = 'text' in source ? parseScenarioText(source.text) : source.doc;
    const compiled = compileScenario(doc, params);
    return { ok: true, session: new LabSession(compiled, doc) };
  } catch (e) {
    if (e instanceof ScenarioError) return { ok: false, error: toLabError(e) };
    throw e;
  }
}

/** Most events the timeline receives at once; instruction ticks are thinned past this. */
const TIMELINE_BUDGET = 200_000;

export class LabSession {
  readonly sim: Simulation;
  readonly assertions: AssertionView[] = [];

  constructor(
    readonly compiled: CompiledScenario,
    /** The document as given (parameters not applied), for sharing and editing. */
    readonly document: unknown,
    /** A fork's edits (scenario/fork-apply.ts), or null for the scenario as written. */
    readonly fork: ForkPlan | null = null,
  ) {
    this.sim = new Simulation(compiled, fork).run();
    const t = this.sim.trace;
    for (let i = 0; i < t.length; i++) {
      if (t.kind[i] !== EventKind.ASSERT) continue;
      const ins = compiled.programs[compiled.lanes[t.level[i]].program].instrs[t.d0[i]];
      this.assertions.push({
        step: i + 1,
        level: t.level[i],
        line: ins.line,
        passed: t.d1[i] === 1,
        skipped: t.d1[i] === 2,
        message: ins.message ?? ins.text,
      });
    }
  }

  get totalSteps(): number {
    return this.sim.totalSteps;
  }

  /** A run-time error or limit that stopped the run early, as a LabError. */
  runError(): LabError | null {
    const p = this.sim.problem;
    if (!p) return null;
    const where = p.line !== null ? `L${p.level} line ${p.line}` : `L${p.level}, step ${this.totalSteps}`;
    return { kind: p.kind, message: p.message, where, level: p.level, line: p.line ?? undefined };
  }

  info(): ScenarioInfo {
    const c = this.compiled;
    const sc = c.scenario;
    const params: ParamInfo[] = Object.entries(c.params).map(([key, p]) => paramInfo(key, p, c.values[key]));
    const passed = this.assertions.filter((a) => a.passed).length;
    const skipped = this.assertions.filter((a) => a.skipped).length;
    return {
      name: sc.name,
      title: sc.title,
      description: sc.description,
      arch: sc.arch,
      virtualization:
        c.lanes.length > 1 ||
        c.programs.some((p) =>
          p.instrs.some(
            (ins) =>
              (ins.op >= Op.VMXON && ins.op <= Op.VMCALL) || (ins.op >= Op.VMRUN && ins.op <= Op.VMSAVE),
          ),
        ),
      levels: c.lanes.map((lane, i) => {
        const p = c.programs[lane.program];
        const src = c.sources[lane.program];
        return {
          index: i,
          name: levelName(c, i),
          kind: lane.kind,
          source: src.join('\n'),
          inactiveLines: src.flatMap((text, l) => (text.trim() !== '' && p.source[l] === '' ? [l + 1] : [])),
          labels: { ...p.labels },
        };
      }),
      params,
      totalSteps: this.totalSteps,
      endTime: this.sim.endTime,
      tscHz: sc.features.tscHz,
      endReason: this.sim.endReason,
      assertions: {
        passed,
        failed: this.assertions.length - passed - skipped,
        skipped,
        notReached: this.unreachedAssertions(),
      },
      expectedEnd: this.expectedEnd(),
    };
  }

  /** limits.expectEnd: whether some lane running the level's program executed the label's
   *  instruction, and first at which step. */
  expectedEnd(): ExpectedEndView | null {
    const c = this.compiled;
    const want = c.expectedEnd;
    if (!want) return null;
    const lanes = c.lanes.flatMap((l, i) => (l.kind !== 'kvm' && l.level === want.level ? [i] : []));
    const t = this.sim.trace;
    let step: number | null = null;
    for (let i = 0; i < t.length && step === null; i++) {
      const k = t.kind[i];
      if (
        (k === EventKind.INSTR || k === EventKind.ASSERT || k === EventKind.IRET) &&
        t.rip[i] === want.addr &&
        lanes.includes(t.level[i])
      )
        step = i + 1;
    }
    return { level: lanes[0], label: want.label, line: want.line, reached: step !== null, step };
  }

  /** The `assert` instructions no level executed, in program order. A program that runs at
   *  several levels is counted once, under the first of them. */
  unreachedAssertions(): UnreachedAssertionView[] {
    const c = this.compiled;
    const reached = new Set(this.assertions.map((a) => `${c.lanes[a.level].program}:${a.line}`));
    const seen = new Set<number>();
    const out: UnreachedAssertionView[] = [];
    c.lanes.forEach((lane, level) => {
      if (lane.kind === 'kvm' || seen.has(lane.program)) return;
      seen.add(lane.program);
      for (const ins of c.programs[lane.program].instrs) {
        if (ins.op !== Op.ASSERT || reached.has(`${lane.program}:${ins.line}`)) continue;
        out.push({ level, line: ins.line, message: ins.message ?? ins.text });
      }
    });
    return out;
  }

  view(step: number): StepView {
    const n = Math.max(0, Math.min(Math.floor(step), this.totalSteps));
    const c = this.compiled;
    const t = this.sim.trace;
    let explanation;
    let cur;
    let prev: SimState | null = null;
    if (n === 0) {
      cur = cloneState(this.sim.stateAt(0));
      explanation = explainStep(c, null, cur);
    } else {
      prev = cloneState(this.sim.stateAt(n - 1));
      cur = this.sim.stateAt(n);
      const i = n - 1;
      explanation =
        t.kind[i] === EventKind.EDIT && this.fork
          ? explainEdit(c, this.fork, t.d0[i], prev, cur)
          : explainStep(c, prev, cur, {
              kind: t.kind[i],
              level: t.level[i],
              rip: t.rip[i],
              d0: t.d0[i],
              d1: t.d1[i],
              d2: t.d2[i],
            });
    }
    return {
      step: n,
      totalSteps: this.totalSteps,
      time: cur.time,
      event: describeEvent(t, n),
      explanation,
      levels: c.lanes.map((_, i) => withSvmLevel(c, cur, describeLevel(c, cur, i))),
      vmx: describeVmx(c, cur),
      svm: describeSvm(c, prev, cur),
      assertions: this.assertions.filter((a) => a.step <= n),
    };
  }

  timeline(): TimelineData {
    const t = this.sim.trace;
    const out: TimelineData = {
      totalSteps: t.length,
      steps: [],
      times: [],
      levels: [],
      kinds: [],
      vectors: [],
      types: [],
    };
    const stride = t.length > TIMELINE_BUDGET ? Math.ceil(t.length / (TIMELINE_BUDGET / 2)) : 1;
    for (let i = 0; i < t.length; i++) {
      const k = t.kind[i];
      if (k === EventKind.INSTR && i % stride !== 0) continue;
      out.steps.push(i + 1);
      out.times.push(t.time[i]);
      out.levels.push(t.level[i]);
      out.kinds.push(k);
      const carriesVector = k === EventKind.DELIVER || k === EventKind.RAISE || k === EventKind.SHUTDOWN;
      out.vectors.push(carriesVector ? t.d0[i] & 0xff : -1);
      out.types.push(carriesVector ? (t.d0[i] >>> 8) & 7 : k === EventKind.ASSERT ? t.d1[i] : -1);
    }
    return out;
  }

  /** The next (direction 1) or previous (-1) step after `step` whose event kind is in `kinds`. */
  findStep(step: number, direction: 1 | -1, kinds: string[]): number | null {
    const wanted = new Set(
      Object.entries(EVENT_KIND_NAMES)
        .filter(([, n]) => kinds.includes(n))
        .map(([k]) => Number(k)),
    );
    const t = this.sim.trace;
    for (let n = step + direction; n >= 1 && n <= t.length; n += direction)
      if (wanted.has(t.kind[n - 1])) return n;
    return null;
  }

  /** The whole trace as the design's contract: every event with step, time, level, kind and data. */
  traceEvents(): TraceEventView[] {
    const out: TraceEventView[] = [];
    for (let n = 1; n <= this.totalSteps; n++) out.push(describeEvent(this.sim.trace, n)!);
    return out;
  }
}
