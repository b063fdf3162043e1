// An in-memory SimClient for component tests: four built-ins with canned runs (a KVM + guest
// VMX run, and a nested one: KVM, a hypervisor, its guest), a JSON load that rejects bad JSON
// and unknown instructions with a line and column like the real assembler, step-by-kind
// search, the palette's search (the core's query engine over the canned events), crash
// notification, and a switch that holds view answers so tests can observe request coalescing.
import type { StepRecord } from '../../src/core/cpu/hart';
import { timelineRange, type RangeRequest, type TimelineRange } from '../../src/core/engine/timeline-range';
import { Trace } from '../../src/core/engine/trace';
import { EventKind } from '../../src/core/engine/view';
import type {
  ExpectedEndView,
  LabError,
  ScenarioInfo,
  StepView,
  TimelineData,
  UnreachedAssertionView,
} from '../../src/core/engine/view';
import type {
  BuiltinScenarioInfo,
  CounterAnswer,
  CompareResponse,
  LoadRequest,
  LoadResponse,
  SearchAnswer,
  SimClient,
  TransitionColumns,
} from '../../src/worker/protocol';
import {
  IRQ_PROGRAM,
  irqRun,
  NMI_PROGRAM,
  nmiRun,
  timelineOf,
  transitionsOf,
  type CannedRun,
} from './fake-run';
import { L1_PROGRAM, nestedRun } from './fake-nested-run';
import { fakeSearch } from './fake-search';
import type { CausesView } from '../../src/core/causes/causes';
import { GUEST_PROGRAM, vmxRun } from './fake-vmx-run';

type Params = Record<string, string | number | boolean>;

export const BUILTINS: BuiltinScenarioInfo[] = [
  {
    name: 'irq-basics',
    title: 'An external interrupt on bare metal',
    description: 'STI, an IRQ arrives during WORK, the handler EOIs and IRETs.',
    params: [
      { key: 'vector', description: 'The IRQ vector', type: 'number', value: 0x30, choices: [0x30, 0x40] },
      { key: 'eoi', description: 'The handler writes EOI', type: 'boolean', value: true },
    ],
  },
  {
    name: 'nmi-nesting',
    title: 'Two NMIs, nested',
    description: 'A premature IRET lets a second NMI in.',
    params: [],
  },
  {
    name: 'kvm-nmi',
    title: 'KVM injects an NMI into its guest',
    description: 'KVM at L0, a guest kernel at L1: an interrupt-window exit, then an NMI-window exit.',
    params: [{ key: 'virtual_nmis', description: 'The CPU has virtual NMIs', type: 'boolean', value: false }],
  },
  {
    name: 'nested-intr',
    title: 'Nested VMX: an interrupt for L1 while L2 runs',
    description: 'KVM at L0, a hypervisor at L1, its guest at L2: an emulated external-interrupt exit.',
    params: [
      { key: 'ack_on_exit', description: 'Acknowledge interrupt on exit', type: 'boolean', value: false },
    ],
  },
];

interface LoadedRun {
  run: CannedRun;
  info: ScenarioInfo;
}

function documentFor(name: string, title: string, program: string[], params: Params): string {
  return JSON.stringify(
    {
      version: 1,
      name,
      title,
      description: 'canned for tests',
      arch: 'vmx',
      params,
      levels: [{ name: 'L0 · bare metal', program }],
      limits: { steps: 1000 },
    },
    null,
    2,
  );
}

function positionOf(text: string, message: string): { line: number; column: number } {
  const m = /position (\d+)/.exec(message);
  const pos = m ? Number(m[1]) : 0;
  const before = text.slice(0, pos).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

export class FakeSimClient implements SimClient {
  readonly calls: { method: string; args: unknown[] }[] = [];
  viewsInFlight = 0;
  maxViewsInFlight = 0;
  /** While true, view() answers wait for releaseViews(). */
  holdViews = false;
  private held: (() => void)[] = [];
  private listeners = new Set<(e: LabError) => void>();
  private loaded: LoadedRun | null = null;

  constructor(
    private readonly opts: {
      levels?: number;
      /** Asserts every canned run reports as never executed. */
      notReached?: UnreachedAssertionView[];
      /** Every canned assertion is a `skip` instead. */
      skipAssertions?: boolean;
      /** ScenarioInfo.expectedEnd of every canned run. */
      expectedEnd?: ExpectedEndView;
    } = {},
  ) {}

  private record(method: string, ...args: unknown[]) {
    this.calls.push({ method, args });
  }

  callsOf(method: string) {
    return this.calls.filter((c) => c.method === method);
  }

  async listScenarios(): Promise<BuiltinScenarioInfo[]> {
    this.record('listScenarios');
    return structuredClone(BUILTINS);
  }

  private makeRun(
    name: string,
    title: string,
    program: string[],
    params: Params,
    run: CannedRun,
    json: string,
  ) {
    if (this.opts.skipAssertions)
      for (const v of run.views)
        v.assertions = v.assertions.map((a) => ({ ...a, passed: false, skipped: true }));
    const builtin = BUILTINS.find((b) => b.name === name);
    const info: ScenarioInfo = {
      name,
      title,
      description: builtin?.description ?? 'custom',
      arch: 'vmx',
      virtualization: run.views[0].levels.length > 1,
      levels: run.views[0].levels.map((l) => ({
        index: l.index,
        name: l.name,
        kind: l.kind,
        // A KVM lane is a model, not a program.
        source: l.kind === 'kvm' ? '' : program.join('\n'),
        // Without EOI the handler's WRMSR is left out, as an `.if eoi` block would be.
        inactiveLines: params.eoi === false ? [11] : [],
        labels: { start: 0x1000 },
      })),
      params: (builtin?.params ?? []).map((p) => ({ ...p, value: params[p.key] ?? p.value })),
      totalSteps: run.events.length,
      endTime: run.events[run.events.length - 1]?.time ?? 0,
      endReason: 'halted',
      assertions: {
        passed: run.views[run.views.length - 1].assertions.filter((a) => a.passed).length,
        failed: run.views[run.views.length - 1].assertions.filter((a) => !a.passed && !a.skipped).length,
        skipped: run.views[run.views.length - 1].assertions.filter((a) => a.skipped).length,
        notReached: this.opts.notReached ?? [],
      },
      expectedEnd: this.opts.expectedEnd ?? null,
    };
    this.loaded = { run, info };
    return { ok: true as const, info, scenarioJson: json, runError: null };
  }

  async load(req: LoadRequest): Promise<LoadResponse> {
    this.record('load', req);
    const levels = this.opts.levels ?? 1;
    if ('builtin' in req) {
      const params = req.params ?? {};
      if (req.builtin === 'kvm-nmi') {
        const doc = documentFor('kvm-nmi', BUILTINS[2].title, GUEST_PROGRAM, params);
        return this.makeRun('kvm-nmi', BUILTINS[2].title, GUEST_PROGRAM, params, vmxRun(), doc);
      }
      if (req.builtin === 'nested-intr') {
        const doc = documentFor('nested-intr', BUILTINS[3].title, L1_PROGRAM, params);
        return this.makeRun('nested-intr', BUILTINS[3].title, L1_PROGRAM, params, nestedRun(), doc);
      }
      if (req.builtin === 'nmi-nesting') {
        const doc = documentFor('nmi-nesting', BUILTINS[1].title, NMI_PROGRAM, params);
        return this.makeRun('nmi-nesting', BUILTINS[1].title, NMI_PROGRAM, params, nmiRun(levels), doc);
      }
      if (req.builtin !== 'irq-basics') {
        return {
          ok: false,
          error: { kind: 'scenario', message: `no built-in "${req.builtin}"`, where: null },
        };
      }
      const vector = Number(params.vector ?? 0x30);
      const doc = documentFor('irq-basics', BUILTINS[0].title, IRQ_PROGRAM, params);
      return this.makeRun('irq-basics', BUILTINS[0].title, IRQ_PROGRAM, params, irqRun(vector, levels), doc);
    }

    let doc: {
      name?: string;
      title?: string;
      levels?: { program?: string[] }[];
      limits?: { steps?: number };
    };
    try {
      doc = JSON.parse(req.json);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return {
        ok: false,
        error: { kind: 'scenario', message, where: null, ...positionOf(req.json, message) },
      };
    }
    const program = doc.levels?.[0]?.program ?? IRQ_PROGRAM;
    const bad = program.findIndex((l) => /^\s*bogus\b/.test(l));
    if (bad >= 0) {
      const column = program[bad].indexOf('bogus') + 1;
      return {
        ok: false,
        error: {
          kind: 'program',
          message: "unknown instruction 'bogus'",
          where: `L0 line ${bad + 1}, column ${column}`,
          level: 0,
          line: bad + 1,
          column,
        },
      };
    }
    const full = irqRun(0x30, levels);
    const limit = doc.limits?.steps;
    const res = this.makeRun(doc.name ?? 'custom', doc.title ?? 'Custom', program, {}, full, req.json);
    if (limit !== undefined && limit < full.events.length) {
      const run = { views: full.views.slice(0, limit + 1), events: full.events.slice(0, limit) };
      for (const v of run.views) v.totalSteps = limit;
      const cut = this.makeRun(doc.name ?? 'custom', doc.title ?? 'Custom', program, {}, run, req.json);
      cut.info.endReason = 'step-limit';
      return {
        ...cut,
        runError: { kind: 'limit', message: `step limit of ${limit} reached`, where: 'limits.steps' },
      };
    }
    return res;
  }

  async view(step: number): Promise<StepView> {
    this.record('view', step);
    if (!this.loaded) throw new Error('nothing loaded');
    const { views } = this.loaded.run;
    const answer = structuredClone(views[Math.max(0, Math.min(views.length - 1, Math.round(step)))]);
    this.viewsInFlight += 1;
    this.maxViewsInFlight = Math.max(this.maxViewsInFlight, this.viewsInFlight);
    try {
      if (this.holdViews) await new Promise<void>((resolve) => this.held.push(resolve));
      else await Promise.resolve();
      return answer;
    } finally {
      this.viewsInFlight -= 1;
    }
  }

  /** Lets the held view answers through. */
  releaseViews() {
    const held = this.held;
    this.held = [];
    for (const resolve of held) resolve();
  }

  async timeline(): Promise<TimelineData> {
    this.record('timeline');
    if (!this.loaded) throw new Error('nothing loaded');
    return timelineOf(this.loaded.run);
  }

  /** The real aggregation (core/engine/timeline-range.ts) over a trace rebuilt from the canned run. */
  async timelineRange(req: RangeRequest): Promise<TimelineRange> {
    if (!this.loaded) throw new Error('nothing loaded');
    const d = timelineOf(this.loaded.run);
    const t = new Trace();
    d.kinds.forEach((kind, i) => {
      const d0 = d.vectors[i] >= 0 ? (d.types[i] << 8) | d.vectors[i] : 0;
      const d1 = kind === EventKind.ASSERT ? d.types[i] : 0;
      t.append({ kind, rip: 0, d0, d1, d2: 0 } as unknown as StepRecord, d.levels[i], d.times[i]);
    });
    return timelineRange(t, req);
  }

  async transitions(): Promise<TransitionColumns> {
    this.record('transitions');
    if (!this.loaded) throw new Error('nothing loaded');
    return transitionsOf(this.loaded.run);
  }

  async findStep(step: number, direction: 1 | -1, kinds: string[]): Promise<number | null> {
    this.record('findStep', step, direction, kinds);
    const events = this.loaded?.run.events ?? [];
    const ordered = direction === 1 ? events : [...events].reverse();
    const hit = ordered.find(
      (e) => kinds.includes(e.kind) && (direction === 1 ? e.step > step : e.step < step),
    );
    return hit ? hit.step : null;
  }

  /** A small trace-event file from the canned run: one thread per level, an instant per event. */
  async perfetto(clock: 'tsc' | 'cycles' = 'tsc'): Promise<string> {
    this.record('perfetto', clock);
    if (!this.loaded) throw new Error('nothing loaded');
    const { info, run } = this.loaded;
    const traceEvents = [
      ...info.levels.map((l) => ({
        name: 'thread_name',
        ph: 'M',
        pid: 1,
        tid: l.index + 1,
        args: { name: l.name },
      })),
      ...run.events.map((e) => ({
        name: e.kind,
        ph: 'i',
        s: 't',
        pid: 1,
        tid: e.level + 1,
        ts: e.time / 2000,
        args: { step: e.step },
      })),
    ];
    return JSON.stringify({ traceEvents, displayTimeUnit: 'ns', otherData: { scenario: info.name, clock } });
  }

  /** The fake has one run: comparing with it finds no divergence. */
  async compareWith(req: LoadRequest): Promise<CompareResponse> {
    this.record('compareWith', req);
    const n = (this.loaded?.info.totalSteps ?? 0) + 1;
    const map = Int32Array.from({ length: n }, (_, i) => i);
    return {
      ok: true,
      prefix: n - 1,
      divergence: null,
      aToB: map,
      bToA: map,
      matched: n - 1,
      exitsA: [],
      exitsB: [],
    };
  }

  /** Exit 1 (external interrupt) is explained by irq-basics, an NMI (0) by nmi-nesting. */
  async closestBuiltins(reason: number): Promise<{ name: string; title: string }[]> {
    this.record('closestBuiltins', reason);
    const names = reason === 1 ? ['irq-basics'] : reason === 0 ? ['nmi-nesting'] : [];
    return BUILTINS.filter((b) => names.includes(b.name)).map(({ name, title }) => ({ name, title }));
  }

  async search(query: string): Promise<SearchAnswer> {
    this.record('search', query);
    if (!this.loaded) throw new Error('nothing loaded');
    return fakeSearch(this.loaded.run, query);
  }

  /** Counter series by query, for tests that add tracks to the fake run. */
  counterAnswers: Record<string, CounterAnswer> = {};

  async counter(query: string): Promise<CounterAnswer> {
    this.record('counter', query);
    return (
      this.counterAnswers[query] ?? {
        ok: false,
        error: {
          message: `the fake run watches nothing named '${query}'`,
          column: 1,
          length: query.length || 1,
        },
      }
    );
  }

  /** Canned runs record no reads: every step's causes are empty. */
  async causes(step: number): Promise<CausesView> {
    this.record('causes', step);
    return { step, event: `step ${step}`, recorded: false, inputs: [], routing: null };
  }

  async crash(): Promise<never> {
    this.record('crash');
    this.emitCrash('crash requested by the test hook');
    throw new Error('crash requested by the test hook');
  }

  /** What the worker client does when its worker dies. */
  emitCrash(message: string) {
    for (const l of [...this.listeners]) l({ kind: 'crash', message, where: null });
  }

  onCrash(listener: (error: LabError) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
