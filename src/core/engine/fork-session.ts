// Opening a fork: a scenario, its parameters and an edit list (docs/compare.md). The edits are
// checked against the compiled scenario before the run (target, value) and after it (each edit's
// step was reached, its target existed there).
import { ScenarioError } from '../scenario/params';
import { compileScenario, parseScenarioText } from '../scenario/load';
import type { ParamValue } from '../scenario/schema';
import { type ForkEdit, ForkError, editText, resolveEdit } from '../scenario/fork';
import { ForkPlan } from '../scenario/fork-apply';
import { EventKind, type LabError } from './view';
import { LabSession, type OpenResult, toLabError } from './session';

/** A ForkError as the faces show errors: kind 'fork', where = the edit and column. */
export function forkLabError(e: ForkError): LabError {
  return {
    kind: 'fork',
    message: e.message,
    where: `fork edit ${e.edit + 1}, column ${e.column}`,
    column: e.column,
  };
}

export function openFork(
  source: { text: string } | { doc: unknown },
  params: Record<string, ParamValue>,
  edits: ForkEdit[],
): OpenResult {
  let compiled;
  let doc: unknown;
  try {
    doc = 'text' in source ? parseScenarioText(source.text) : source.doc;
    compiled = compileScenario(doc, params);
  } catch (e) {
    if (e instanceof ScenarioError) return { ok: false, error: toLabError(e) };
    throw e;
  }
  try {
    const plan = new ForkPlan(
      compiled,
      edits.map((e, i) => resolveEdit(compiled, e, i)),
    );
    const session = new LabSession(compiled, doc, plan);
    const failed = [...plan.failures.entries()].sort((a, b) => a[0] - b[0])[0];
    if (failed) {
      const e = plan.groups[failed[0]][0];
      throw new ForkError(failed[1], e.index, String(e.step).length + 2);
    }
    const t = session.sim.trace;
    const applied = new Set<number>();
    for (let i = 0; i < t.length; i++) if (t.kind[i] === EventKind.EDIT) applied.add(t.d0[i]);
    plan.groups.forEach((g, gi) => {
      if (applied.has(gi)) return;
      const e = g[0];
      throw new ForkError(
        `edit ${e.index + 1} ('${editText(edits[e.index])}'), column 1: step ${e.step} is beyond the run (the fork ends at step ${session.totalSteps})`,
        e.index,
        1,
      );
    });
    return { ok: true, session };
  } catch (e) {
    if (e instanceof ForkError) return { ok: false, error: forkLabError(e) };
    throw e;
  }
}
