// Aligning two runs: the common prefix, the first divergence, matching by kind and order after it.
import { describe, expect, it } from 'vitest';
import { alignRuns, alignedStep, exitsPerLevel, type TraceColumns } from '../../../src/core/engine/compare';
import { matchSignatures } from '../../../src/core/engine/compare-diff';
import { openSession } from '../../../src/core/engine/session';
import { EventKind } from '../../../src/core/engine/view';
import { findBuiltin } from '../../../src/core/scenario/builtins';

/** A trace from [kind, level, d0] triples (rip = index unless given). */
function trace(events: [number, number, number, number?][]): TraceColumns {
  return {
    length: events.length,
    kind: events.map((e) => e[0]),
    level: events.map((e) => e[1]),
    d0: events.map((e) => e[2]),
    rip: events.map((e, i) => e[3] ?? i),
    d1: events.map(() => 0),
    d2: events.map(() => 0),
  };
}
const { INSTR, VMEXIT, VMENTRY, DELIVER, DECISION } = EventKind;

function lcsLength(a: Int32Array, b: Int32Array): number {
  const dp = Array.from({ length: a.length + 1 }, () => new Int32Array(b.length + 1));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      dp[i][j] = a[i - 1] === b[j - 1] ? dp[i - 1][j - 1] + 1 : Math.max(dp[i - 1][j], dp[i][j - 1]);
  return dp[a.length][b.length];
}

describe('matchSignatures (bounded Myers diff)', () => {
  it('finds a longest common subsequence of small sequences, in order', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 4;
    for (let round = 0; round < 200; round++) {
      const a = Int32Array.from({ length: 1 + (round % 23) }, rnd);
      const b = Int32Array.from({ length: 1 + ((round * 7) % 19) }, rnd);
      const pairs: [number, number][] = [];
      matchSignatures(a, 0, a.length, b, 0, b.length, (i, j) => pairs.push([i, j]));
      for (const [i, j] of pairs) expect(a[i]).toBe(b[j]);
      for (let k = 1; k < pairs.length; k++) {
        expect(pairs[k][0]).toBeGreaterThan(pairs[k - 1][0]);
        expect(pairs[k][1]).toBeGreaterThan(pairs[k - 1][1]);
      }
      expect(pairs.length).toBe(lcsLength(a, b));
    }
  });

  it('aligns 10^5-event sequences with scattered differences quickly', () => {
    const n = 100_000;
    const a = Int32Array.from({ length: n }, (_, i) => i % 97);
    const b = Int32Array.from({ length: n }, (_, i) => (i % 1000 === 500 ? 1000 : i % 97));
    const t0 = performance.now();
    let count = 0;
    matchSignatures(a, 0, n, b, 0, n, () => count++);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(count).toBe(n - 100);
  });
});

describe('alignRuns', () => {
  it('identical runs: all a prefix, no divergence', () => {
    const t = trace([
      [INSTR, 1, 0],
      [VMEXIT, 1, 7],
      [DECISION, 0, 3],
    ]);
    const al = alignRuns(t, t);
    expect(al.prefix).toBe(3);
    expect(al.divergence).toBeNull();
    expect(Array.from(al.aToB)).toEqual([0, 1, 2, 3]);
  });

  it('the first divergence is the first event that differs in data, and the prefix ends before it', () => {
    const a = trace([
      [INSTR, 1, 0],
      [VMEXIT, 1, 1],
      [DECISION, 0, 5],
      [VMENTRY, 0, 0],
      [INSTR, 1, 0, 40],
    ]);
    const b = trace([
      [INSTR, 1, 0],
      [VMEXIT, 1, 7], // another exit reason
      [DECISION, 0, 5],
      [VMENTRY, 0, 0],
      [INSTR, 1, 0, 40],
    ]);
    const al = alignRuns(a, b);
    expect(al.prefix).toBe(1);
    expect(al.divergence).toEqual({ a: 2, b: 2 });
    // After the divergence the decision, the entry and the instruction still match.
    expect(al.aToB[3]).toBe(3);
    expect(al.aToB[4]).toBe(4);
    expect(al.aToB[5]).toBe(5);
    expect(al.aToB[2]).toBe(-1);
  });

  it('matches events by kind and order after an inserted stretch', () => {
    const a = trace([
      [INSTR, 1, 0, 1],
      [DELIVER, 1, 0x202, 2],
      [INSTR, 1, 0, 3],
      [VMEXIT, 1, 12, 4],
    ]);
    const b = trace([
      [INSTR, 1, 0, 1],
      [VMEXIT, 1, 7, 9],
      [DECISION, 0, 4, 0],
      [VMENTRY, 0, 0, 0],
      [DELIVER, 1, 0x202, 2],
      [INSTR, 1, 0, 3],
      [VMEXIT, 1, 12, 4],
    ]);
    const al = alignRuns(a, b);
    expect(al.divergence).toEqual({ a: 2, b: 2 });
    expect(al.aToB[2]).toBe(5); // the delivery
    expect(al.aToB[3]).toBe(6);
    expect(al.aToB[4]).toBe(7); // the HLT exit
    expect(al.bToA[2]).toBe(-1); // the extra exit has no match
    expect(alignedStep(al, 'b', 3)).toBe(1); // unmatched: the match of the step before
  });

  it('a run that is a prefix of the other diverges where it ends', () => {
    const a = trace([[INSTR, 0, 0]]);
    const b = trace([
      [INSTR, 0, 0],
      [INSTR, 0, 0, 5],
    ]);
    expect(alignRuns(a, b).divergence).toEqual({ a: null, b: 2 });
  });

  it('soft-vnmi: virtual_nmis off and on share the start and diverge at the first NMI injection', () => {
    const open = (virtual_nmis: boolean) => {
      const r = openSession({ doc: findBuiltin('soft-vnmi') }, { virtual_nmis });
      if (!r.ok) throw new Error(r.error.message);
      return r.session;
    };
    const off = open(false);
    const on = open(true);
    const al = alignRuns(off.sim.trace, on.sim.trace);
    // The runs agree until KVM's handling of the second NMI's kick: without virtual NMIs
    // KVM first accounts the soft-vNMI blocked time (vmx_recover_nmi_blocking).
    expect(al.divergence).toEqual({ a: 28, b: 28 });
    expect(al.prefix).toBe(27);
    expect(off.view(28).explanation.text).toMatch(/^vmx_recover_nmi_blocking/);
    expect(al.aToB[29]).toBe(28); // handle_external_interrupt_irqoff in both
    // The off run's interrupt-window exit (step 38) has no match; its HLT exit matches the on run's.
    const hltOff = off.traceEvents().find((e) => e.kind === 'vmexit' && e.data.reason === 12)!.step;
    const hltOn = on.traceEvents().find((e) => e.kind === 'vmexit' && e.data.reason === 12)!.step;
    expect(al.aToB[hltOff]).toBe(hltOn);
    expect(al.aToB[38]).toBe(-1);
    expect(exitsPerLevel(off.sim.trace)).toEqual([0, 4]);
    expect(exitsPerLevel(on.sim.trace)).toEqual([0, 4]);
  });

  it('stays fast on two 10^5-event runs', () => {
    const n = 100_000;
    const mk = (shift: number) =>
      trace(
        Array.from({ length: n }, (_, i) => {
          const k = (i + shift) % 50 === 0 ? VMEXIT : INSTR;
          return [k, 1, k === VMEXIT ? 1 : 0, (i + shift) % 50] as [number, number, number, number];
        }),
      );
    const t0 = performance.now();
    const al = alignRuns(mk(0), mk(7));
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(al.matched).toBeGreaterThan(n * 0.9);
  });
});
