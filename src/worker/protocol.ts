// The typed contract between the page and the simulation worker. The page holds only what
// it shows; every method returns plain, structured-cloneable data.
import type { CausesView } from '../core/causes/causes';
import type { LabError, ScenarioInfo, StepView, TimelineData, ParamInfo } from '../core/engine/view';
import type { SearchAnswer } from '../core/engine/search';
import type { CounterAnswer } from '../core/engine/counter-series';
import type { RangeRequest, TimelineRange } from '../core/engine/timeline-range';

export type { SearchAnswer } from '../core/engine/search';
export type { CounterAnswer, CounterSeries } from '../core/engine/counter-series';

export interface BuiltinScenarioInfo {
  name: string;
  title: string;
  description: string;
  params: ParamInfo[];
}

export type LoadRequest = (
  | { builtin: string; params?: Record<string, string | number | boolean> }
  | { json: string; params?: Record<string, string | number | boolean> }
) & {
  /** A fork: edits of the state, each `STEP:TARGET=VALUE` (docs/compare.md). */
  fork?: string[];
};

/**
 * Two runs aligned (docs/compare.md): `a` is the run `compareWith` was given, `b` the run the
 * worker has loaded. Steps are 1-based; the maps have one entry per step, 0 included.
 */
export type CompareResponse =
  | {
      ok: true;
      prefix: number;
      divergence: { a: number | null; b: number | null } | null;
      aToB: Int32Array;
      bToA: Int32Array;
      matched: number;
      exitsA: number[];
      exitsB: number[];
    }
  | { ok: false; error: LabError };

export type LoadResponse =
  | {
      ok: true;
      info: ScenarioInfo;
      /** The scenario document as loaded (with parameters applied), pretty-printed. */
      scenarioJson: string;
      /** A limit hit or a run-time error: the run stopped early but its steps are kept. */
      runError: LabError | null;
    }
  | { ok: false; error: LabError };

/**
 * The numbers of every VM exit, VM entry and hypervisor decision, in step order (never
 * thinned, unlike the timeline's instruction ticks): what the timeline needs to link an exit
 * of L2 to the entry into L1 that L0 emulated for it, and to fold L1's trapped instructions.
 */
export interface TransitionColumns {
  steps: number[];
  /** VM exit: the exit reason; VM entry: the injected interruption info; decision: the function id. */
  d0: number[];
  /** VM exit: the exit interruption info; VM entry: 1 for VMLAUNCH; decision: its first number. */
  d1: number[];
  /** VM exit: the IDT-vectoring info; VM entry: the guest's RIP; decision: its second number. */
  d2: number[];
}

/** What the simulation worker offers. Implemented in sim-worker.ts, wrapped by Comlink. */
export interface SimApi {
  listScenarios(): Promise<BuiltinScenarioInfo[]>;
  /** Validate, assemble and run the scenario to its end (or its limit). */
  load(req: LoadRequest): Promise<LoadResponse>;
  /** The state after event `step` (0 = initial state), clamped to the run. */
  view(step: number): Promise<StepView>;
  timeline(): Promise<TimelineData>;
  transitions(): Promise<TransitionColumns>;
  /** The visible range of the timeline at the zoom shown: per-pixel buckets per lane, from
   *  the whole trace (src/core/engine/timeline-range.ts). */
  timelineRange(req: RangeRequest): Promise<TimelineRange>;
  /** Next/previous step from `step` whose event is of one of `kinds` (for step-by-kind). */
  findStep(step: number, direction: 1 | -1, kinds: string[]): Promise<number | null>;
  /** The run as Chrome/Perfetto trace-event JSON text (src/core/export/perfetto.ts). */
  perfetto(clock?: 'tsc' | 'cycles'): Promise<string>;
  /** Built-ins whose runs take VMX exit `reason`, closest first (src/core/import/closest.ts). */
  closestBuiltins(reason: number): Promise<{ name: string; title: string }[]>;
  /** Go to or search (the palette's query, docs/search.md): a step to go to, the matching
   *  steps, or where the query cannot be read. */
  search(query: string): Promise<SearchAnswer>;
  /** A counter track's series: the watched value (a search "change" target) at every step it
   *  changed (src/core/engine/counter-series.ts). */
  counter(query: string): Promise<CounterAnswer>;
  /** Why step N happened (docs/causes.md): what its decision read, with the value read and the
   *  step that set each, and under nesting the rule that routed an exit. */
  causes(step: number): Promise<CausesView>;
  /** Opens `req` beside the loaded run and aligns the two (the compare view's second side). */
  compareWith(req: LoadRequest): Promise<CompareResponse>;
  /** Test hook: throw inside the worker so the page's recovery path can be exercised. */
  crash(): Promise<never>;
}

/** What panels receive: the worker API, plus a way to learn that the worker died. */
export interface SimClient extends SimApi {
  /** Called with the error when the worker crashed; the client restarts it itself. */
  onCrash(listener: (error: LabError) => void): () => void;
}
