// A counter track's data: the value of something the search engine can watch (a register or
// flag of a level, an interruptibility bit, a VMCS field or bit, a KVM variable; see
// search-targets.ts) over the whole run, as the steps where it changed and its value from each
// on, by replaying the run once (as "when did X change" does). A one-bit target is a 'bit'
// track (drawn as a step line), anything wider a 'value' track (a value line, as Perfetto draws
// counters).
import { MAX_RESULTS, type SearchRun } from './search';
import { parseQuery } from './search-query';
import { bindTarget, targetValue } from './search-targets';
import { QueryError } from './search-words';

export interface CounterSeries {
  /** What is watched, as the search names it ("RFLAGS.IF of L1"). */
  label: string;
  /** The query that made it (kept with the track, so it can be fetched again). */
  query: string;
  shape: 'bit' | 'value';
  /** KVM's counters and times read in decimal; the rest in hex. */
  decimal: boolean;
  /** steps[0] = 0 (the initial value), then each step after which the value differs. */
  steps: number[];
  /** The value from steps[i] on; null where it does not exist (no current VMCS). */
  values: (number | null)[];
  min: number;
  max: number;
  /** More changes than MAX_RESULTS: the series stops at the last one kept. */
  truncated: boolean;
}

export type CounterAnswer =
  | { ok: true; series: CounterSeries }
  | { ok: false; error: { message: string; column: number; length: number } };

const FORMS =
  'a counter track watches a register or flag (RFLAGS.IF of L1), an interruptibility bit (blocking_by_nmi), a VMCS field or bit (GUEST_INTERRUPTIBILITY_INFO.NMI) or a KVM variable (vnmi_blocked_time)';

function asNumber(v: number | string | null): number | null {
  if (v === null || typeof v === 'number') return v;
  // A 64-bit register ("0x0000…"): exact below 2^53, which is what a track can draw anyway.
  return Number(BigInt(v));
}

/** The series of a watched value over the run. Never throws for a name that cannot be read. */
export function counterSeries(run: SearchRun, query: string): CounterAnswer {
  try {
    const q = parseQuery(query);
    if (q.q !== 'change')
      throw new QueryError(`'${query.trim()}' is not a value: ${FORMS}`, 1, query.length || 1);
    if (!run.compiled || !run.forEachState)
      throw new QueryError('this run cannot be replayed to watch a value', 1, 1);
    const c = run.compiled;
    const t = bindTarget(c, q.target);
    const wide = t.bits
      ? t.bits[0] - t.bits[1] + 1
      : t.w === 'apic' || (t.w === 'reg' && /^blocking_by_/.test(t.reg))
        ? 1
        : 64;
    const steps: number[] = [];
    const values: (number | null)[] = [];
    let min = Infinity;
    let max = -Infinity;
    let truncated = false;
    let prev: number | null | undefined;
    run.forEachState!((s) => {
      if (truncated) return;
      const v = asNumber(targetValue(c, s, t));
      if (s.step > 0 && v === prev) return;
      if (steps.length >= MAX_RESULTS) {
        truncated = true;
        return;
      }
      steps.push(s.step);
      values.push(v);
      if (v !== null) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      prev = v;
    });
    const kvmBool = t.w === 'kvm' && values.every((v) => v === null || v === 0 || v === 1);
    return {
      ok: true,
      series: {
        label: t.label,
        query: query.trim(),
        shape: wide === 1 || kvmBool ? 'bit' : 'value',
        decimal: t.w === 'kvm' && t.variable !== 'current_vmptr',
        steps,
        values,
        min: min === Infinity ? 0 : min,
        max: max === -Infinity ? 0 : max,
        truncated,
      },
    };
  } catch (e) {
    if (e instanceof QueryError)
      return { ok: false, error: { message: e.message, column: e.column, length: e.length } };
    throw e;
  }
}
