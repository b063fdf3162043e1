// A run of a compiled scenario: the trace, checkpoints of the state, and seeking to any step
// forwards or backwards by restoring the nearest checkpoint and replaying (rr's
// ReplayTimeline, BizHawk's state manager). "Step N" is the state after event N; step 0 is
// the initial state.
import { RunError } from '../errors';
import type { CompiledScenario } from '../scenario/load';
import { type SimState, type StepEdits, Stepper, cloneState, initialState } from './machine';
import { Trace } from './trace';
import type { WhyLog } from '../causes/why';
import type { EndReason } from './view';

/** Steps between checkpoints: a seek replays at most this many steps. */
export const CHECKPOINT_INTERVAL = 8192;

export interface RunProblem {
  kind: 'runtime' | 'limit';
  message: string;
  level: number;
  line: number | null;
}

export class Simulation {
  readonly trace = new Trace();
  private readonly checkpoints: SimState[] = [];
  private readonly stepper: Stepper;
  /** The last state reached by a seek: sequential stepping continues from it. */
  private cursor: SimState;
  private finalState: SimState;
  endReason: EndReason = 'running';
  problem: RunProblem | null = null;

  constructor(
    readonly compiled: CompiledScenario,
    /** A fork's edits (scenario/fork-apply.ts): applied in the run and in every replay. */
    edits: StepEdits | null = null,
  ) {
    const s0 = initialState(compiled);
    this.checkpoints.push(cloneState(s0));
    this.stepper = new Stepper(compiled, s0);
    this.stepper.edits = edits;
    this.cursor = s0;
    this.finalState = s0;
  }

  get totalSteps(): number {
    return this.trace.length;
  }

  get endTime(): number {
    return this.finalState.time;
  }

  /** Run until the machine can do nothing more, or a limit or a run-time error stops it. */
  run(): this {
    const { steps: maxSteps, time: maxTime } = this.compiled.scenario.limits;
    const st = this.stepper;
    st.state = this.finalState;
    const state = this.finalState;
    const s = () => state;
    const trace = this.trace;
    const out = st.hart.out;
    try {
      for (;;) {
        if (s().step >= maxSteps) {
          // A run that needs exactly `maxSteps` steps and then stops has not hit its limit:
          // look one step ahead on a copy before calling it one.
          const probe = cloneState(s());
          st.state = probe;
          const more = st.step();
          st.state = state;
          if (!more) {
            state.end = probe.end;
            break;
          }
          throw new RunError(
            'limit',
            `the run reached its step limit (limits.steps = ${maxSteps}) at time ${s().time}`,
          );
        }
        if (s().time > maxTime) {
          throw new RunError(
            'limit',
            `the run passed its time limit (limits.time = ${maxTime} cycles) at step ${s().step}`,
          );
        }
        if (!st.step()) break;
        trace.append(out, st.actor, s().time);
        if (s().step % CHECKPOINT_INTERVAL === 0) this.checkpoints.push(cloneState(s()));
      }
      this.endReason = s().end ?? 'running';
    } catch (e) {
      if (!(e instanceof RunError)) throw e;
      const limitKind = e.message.includes('time limit') ? 'time-limit' : 'step-limit';
      this.endReason = e.kind === 'limit' ? limitKind : 'running';
      this.problem = { kind: e.kind, message: e.message, level: e.level, line: e.line };
      if (e.kind === 'runtime') {
        // The step that failed may have changed the state before it threw (an IRQ moved from
        // IRR to ISR, the interrupt shadow cleared). "Step N" is the state after event N and
        // must not depend on how it was reached: rebuild it from the last checkpoint.
        const n = trace.length;
        const rebuilt = cloneState(this.checkpoints[Math.floor(n / CHECKPOINT_INTERVAL)]);
        st.state = rebuilt;
        while (rebuilt.step < n) st.step();
      }
    }
    this.finalState = st.state;
    this.cursor = this.finalState;
    return this;
  }

  /** The state after step `n` (clamped to the run). The returned object must not be mutated. */
  stateAt(n: number): SimState {
    const target = Math.max(0, Math.min(n, this.trace.length));
    const st = this.stepper;
    let s = this.cursor;
    if (!(s.step <= target && target - s.step <= CHECKPOINT_INTERVAL)) {
      s = cloneState(this.checkpoints[Math.floor(target / CHECKPOINT_INTERVAL)]);
    } else if (s === this.finalState) {
      s = cloneState(s);
    }
    st.state = s;
    while (s.step < target) st.step();
    this.cursor = s;
    return s;
  }

  /**
   * Replays the whole run from its first checkpoint, calling `visit` with the state after each
   * step in order, 0 first (engine/search.ts's "when did this change"). The state passed must
   * not be mutated or kept: it is the same object, stepped on.
   */
  forEachState(visit: (s: SimState) => void): void {
    const st = this.stepper;
    const s = cloneState(this.checkpoints[0]);
    st.state = s;
    visit(s);
    while (s.step < this.trace.length) {
      st.step();
      visit(s);
    }
    this.cursor = s;
  }

  /**
   * Replays step `n` from the state before it with `why` attached to the hart, so that the
   * models note what they read to decide (causes/why.ts). The run is not changed.
   */
  recordStep(n: number, why: WhyLog): void {
    const target = Math.max(1, Math.min(n, this.trace.length));
    const s = cloneState(this.stateAt(target - 1));
    const st = this.stepper;
    st.state = s;
    st.hart.why = why;
    try {
      st.step();
    } finally {
      st.hart.why = null;
    }
    this.cursor = s;
  }

  /**
   * Replays from checkpoint `k` (the state after step k * CHECKPOINT_INTERVAL) to the state
   * after step `to`, calling `visit` with each state, the checkpoint's first (causes/causes.ts
   * searches backwards for the step that set a value, one checkpoint interval at a time).
   */
  replayFromCheckpoint(k: number, to: number, visit: (s: SimState) => void): void {
    const st = this.stepper;
    const s = cloneState(this.checkpoints[k]);
    st.state = s;
    visit(s);
    while (s.step < to) {
      st.step();
      visit(s);
    }
    this.cursor = s;
  }

  /** Bytes held by checkpoints, for the benchmark. */
  checkpointBytes(): number {
    let b = 0;
    for (const c of this.checkpoints) b += c.mems.reduce((n, m) => n + m.bytes.length, 0) + 512;
    return b;
  }
}
