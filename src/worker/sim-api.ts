// What the simulation worker answers (SimApi): owns the session. Kept apart from the worker's
// entry (sim-worker.ts) so tests can run the same object in-process.
import { type LabSession, openSession, toLabError } from '../core/engine/session';
import { sessionToPerfetto } from '../core/export/perfetto';
import { builtinExitIndex, closestBuiltins } from '../core/import/closest';
import { BUILTIN_SCENARIOS, findBuiltin } from '../core/scenario/builtins';
import { paramInfo, readParams } from '../core/scenario/params';
import type { BuiltinScenarioInfo, LoadRequest, LoadResponse, SimApi, TransitionColumns } from './protocol';
import { transitionColumns } from './transitions';
import { runQuery, sessionRun, type SearchAnswer } from '../core/engine/search';
import type { StepView, TimelineData } from '../core/engine/view';
import { timelineRange, type RangeRequest, type TimelineRange } from '../core/engine/timeline-range';

let session: LabSession | null = null;

function requireSession(): LabSession {
  if (!session) throw new Error('no scenario is loaded');
  return session;
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
    try {
      const opened = openSession(source, req.params ?? {});
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

  async perfetto(clock: 'tsc' | 'cycles' = 'tsc'): Promise<string> {
    return JSON.stringify(sessionToPerfetto(requireSession(), clock));
  },

  async closestBuiltins(reason: number): Promise<{ name: string; title: string }[]> {
    return closestBuiltins(reason, builtinExitIndex()).map(({ name, title }) => ({ name, title }));
  },

  async crash(): Promise<never> {
    // Test hook: an uncaught error in the worker, as a real crash would be.
    setTimeout(() => {
      throw new Error('deliberate crash (test hook)');
    });
    return new Promise<never>(() => {});
  },
};
