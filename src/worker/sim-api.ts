// What the simulation worker answers (SimApi): owns the session. Kept apart from the worker's
// entry (sim-worker.ts) so tests can run the same object in-process.
import { type LabSession, openSession, toLabError } from '../core/engine/session';
import { sessionToPerfetto } from '../core/export/perfetto';
import { builtinExitIndex, closestBuiltins } from '../core/import/closest';
import { BUILTIN_SCENARIOS, findBuiltin } from '../core/scenario/builtins';
import { paramInfo, readParams } from '../core/scenario/params';
import type {
  BuiltinScenarioInfo,
  CompareResponse,
  LoadRequest,
  LoadResponse,
  SimApi,
  TransitionColumns,
} from './protocol';
import { alignRuns, exitsPerLevel } from '../core/engine/compare';
import { openFork, forkLabError } from '../core/engine/fork-session';
import { ForkError, parseEdit } from '../core/scenario/fork';
import { transitionColumns } from './transitions';
import { runQuery, sessionRun, type SearchAnswer } from '../core/engine/search';
import { counterSeries, type CounterAnswer } from '../core/engine/counter-series';
import type { StepView, TimelineData } from '../core/engine/view';
import { type CausesView, causesOf } from '../core/causes/causes';
import { timelineRange, type RangeRequest, type TimelineRange } from '../core/engine/timeline-range';

let session: LabSession | null = null;

function requireSession(): LabSession {
  if (!session) throw new Error('no scenario is loaded');
  return session;
}

/** Opens a load request: a built-in or a document, its parameters, and a fork's edits. */
function openRequest(req: LoadRequest): ReturnType<typeof openSession> {
  let source: { text: string } | { doc: unknown };
  if ('builtin' in req) {
    const doc = findBuiltin(req.builtin);
    if (!doc)
      return {
        ok: false,
        error: { kind: 'scenario', message: `no built-in scenario named '${req.builtin}'`, where: null },
      };
    source = { doc };
  } else source = { text: req.json };
  if (!req.fork?.length) return openSession(source, req.params ?? {});
  try {
    const edits = req.fork.map((e, i) => parseEdit(e, i));
    return openFork(source, req.params ?? {}, edits);
  } catch (e) {
    if (e instanceof ForkError) return { ok: false, error: forkLabError(e) };
    throw e;
  }
}

export const api: SimApi = {
  async listScenarios(): Promise<BuiltinScenarioInfo[]> {
    return BUILTIN_SCENARIOS.map((doc) => {
      const d = doc as { name: string; title: string; description: string };
      const params = Object.entries(readParams(doc)).map(([key, p]) => paramInfo(key, p, p.default));
      return { name: d.name, title: d.title, description: d.description, params };
    });
  },

  async load(req: LoadRequest): Promise<LoadResponse> {
    try {
      const opened = openRequest(req);
      if (!opened.ok) return { ok: false, error: opened.error };
      session = opened.session;
      return {
        ok: true,
        info: session.info(),
        scenarioJson: JSON.stringify(session.document, null, 2),
        runError: session.runError(),
      };
    } catch (e) {
      return { ok: false, error: toLabError(e) };
    }
  },

  async view(step: number): Promise<StepView> {
    return requireSession().view(step);
  },

  async timeline(): Promise<TimelineData> {
    return requireSession().timeline();
  },

  async timelineRange(req: RangeRequest): Promise<TimelineRange> {
    return timelineRange(requireSession().sim.trace, req);
  },

  async transitions(): Promise<TransitionColumns> {
    return transitionColumns(requireSession().sim.trace);
  },

  async findStep(step: number, direction: 1 | -1, kinds: string[]): Promise<number | null> {
    return requireSession().findStep(step, direction, kinds);
  },

  async search(query: string): Promise<SearchAnswer> {
    return runQuery(sessionRun(requireSession()), query);
  },

  async counter(query: string): Promise<CounterAnswer> {
    return counterSeries(sessionRun(requireSession()), query);
  },

  async causes(step: number): Promise<CausesView> {
    return causesOf(requireSession(), step);
  },

  async perfetto(clock: 'tsc' | 'cycles' = 'tsc'): Promise<string> {
    return JSON.stringify(sessionToPerfetto(requireSession(), clock));
  },

  async closestBuiltins(reason: number): Promise<{ name: string; title: string }[]> {
    return closestBuiltins(reason, builtinExitIndex()).map(({ name, title }) => ({ name, title }));
  },

  async compareWith(req: LoadRequest): Promise<CompareResponse> {
    const b = requireSession();
    try {
      const opened = openRequest(req);
      if (!opened.ok) return { ok: false, error: opened.error };
      const a = opened.session;
      const al = alignRuns(a.sim.trace, b.sim.trace);
      return {
        ok: true,
        prefix: al.prefix,
        divergence: al.divergence,
        aToB: al.aToB,
        bToA: al.bToA,
        matched: al.matched,
        exitsA: exitsPerLevel(a.sim.trace),
        exitsB: exitsPerLevel(b.sim.trace),
      };
    } catch (e) {
      return { ok: false, error: toLabError(e) };
    }
  },

  async crash(): Promise<never> {
    // Test hook: an uncaught error in the worker, as a real crash would be.
    setTimeout(() => {
      throw new Error('deliberate crash (test hook)');
    });
    return new Promise<never>(() => {});
  },
};
