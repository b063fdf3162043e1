// Aligning two runs (docs/compare.md): two variants of a scenario, or a scenario and its fork.
// First the common prefix (identical events: kind, level, data and RIP), whose end is the first
// divergence; then, after it, events matched by kind and order: a longest common subsequence of
// the "key" events (everything but instructions and idle time) by signature (kind, level and the
// kind's main datum: exit reason, vector and type, KVM function), then, between matched key
// events, the instructions by level and RIP. The result maps each step of one run to a step of
// the other, for a synced cursor.
import { matchSignatures } from './compare-diff';
import { EventKind } from './view';

/** The trace columns an alignment reads (engine/trace.ts Trace has them). */
export interface TraceColumns {
  length: number;
  kind: ArrayLike<number>;
  level: ArrayLike<number>;
  rip: ArrayLike<number>;
  d0: ArrayLike<number>;
  d1: ArrayLike<number>;
  d2: ArrayLike<number>;
}

export interface Alignment {
  lengthA: number;
  lengthB: number;
  /** Events identical at the start of both runs. */
  prefix: number;
  /**
   * The first divergence: the steps (1-based) of the first events that differ, or null on the
   * side whose run ended there. Null when the runs are identical.
   */
  divergence: { a: number | null; b: number | null } | null;
  /** Per step of A (0 … lengthA): the matched step of B, or -1. Step 0 matches step 0. */
  aToB: Int32Array;
  /** Per step of B: the matched step of A, or -1. */
  bToA: Int32Array;
  /** Events of A matched to one of B (the prefix included). */
  matched: number;
}

function identical(a: TraceColumns, i: number, b: TraceColumns, j: number): boolean {
  return (
    a.kind[i] === b.kind[j] &&
    a.level[i] === b.level[j] &&
    a.rip[i] === b.rip[j] &&
    a.d0[i] === b.d0[j] &&
    a.d1[i] === b.d1[j] &&
    a.d2[i] === b.d2[j]
  );
}

const isKey = (k: number) => k !== EventKind.INSTR && k !== EventKind.IDLE;

/** The datum that says which event of its kind this is (not when or where it happened). */
function mainDatum(t: TraceColumns, i: number): number {
  switch (t.kind[i]) {
    case EventKind.VMEXIT:
      return t.d0[i];
    case EventKind.DELIVER:
    case EventKind.RAISE:
    case EventKind.SHUTDOWN:
      return t.d0[i] & 0x7ff; // vector and type
    case EventKind.VMENTRY:
      return t.d0[i] >>> 31 ? t.d0[i] & 0x7ff : 0x800; // the injected event, if any
    case EventKind.DECISION:
      return t.d0[i];
    case EventKind.ASSERT:
      return t.d0[i] * 4 + t.d1[i];
    default:
      return 0;
  }
}

/** A key event's signature: kind, level and main datum, hashed into 31 bits. */
function keySignature(t: TraceColumns, i: number): number {
  let h = (t.kind[i] * 0x9e3779b1) ^ (t.level[i] * 0x85ebca6b) ^ Math.imul(mainDatum(t, i), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2d);
  return h & 0x7fffffff;
}

/** An instruction's signature: level and RIP. */
function instrSignature(t: TraceColumns, i: number): number {
  return Math.imul(t.rip[i] ^ (t.level[i] << 28), 0x9e3779b1) & 0x7fffffff;
}

export function alignRuns(a: TraceColumns, b: TraceColumns): Alignment {
  const aToB = new Int32Array(a.length + 1).fill(-1);
  const bToA = new Int32Array(b.length + 1).fill(-1);
  aToB[0] = 0;
  bToA[0] = 0;
  let matched = 0;
  const pair = (i: number, j: number) => {
    // Indices are events (step - 1).
    aToB[i + 1] = j + 1;
    bToA[j + 1] = i + 1;
    matched++;
  };
  let p = 0;
  while (p < a.length && p < b.length && identical(a, p, b, p)) {
    pair(p, p);
    p++;
  }
  const prefix = p;
  const divergence =
    p === a.length && p === b.length
      ? null
      : { a: p < a.length ? p + 1 : null, b: p < b.length ? p + 1 : null };

  // Key events after the prefix, matched by signature.
  const keysOf = (t: TraceColumns) => {
    const idx: number[] = [];
    for (let i = prefix; i < t.length; i++) if (isKey(t.kind[i])) idx.push(i);
    const sig = new Int32Array(idx.length);
    idx.forEach((e, n) => (sig[n] = keySignature(t, e)));
    return { idx, sig };
  };
  const ka = keysOf(a);
  const kb = keysOf(b);
  const keyPairs: [number, number][] = [];
  matchSignatures(ka.sig, 0, ka.sig.length, kb.sig, 0, kb.sig.length, (i, j) =>
    keyPairs.push([ka.idx[i], kb.idx[j]]),
  );
  // Between matched key events (and after the last), the instructions by level and RIP.
  let fromA = prefix;
  let fromB = prefix;
  const gap = (toA: number, toB: number) => {
    if (toA > fromA && toB > fromB) {
      const sa = new Int32Array(toA - fromA);
      const sb = new Int32Array(toB - fromB);
      for (let i = fromA; i < toA; i++) sa[i - fromA] = isKey(a.kind[i]) ? -1 - i : instrSignature(a, i);
      for (let j = fromB; j < toB; j++)
        sb[j - fromB] = isKey(b.kind[j]) ? -2 - j - a.length : instrSignature(b, j);
      matchSignatures(sa, 0, sa.length, sb, 0, sb.length, (i, j) => pair(fromA + i, fromB + j));
    }
  };
  for (const [i, j] of keyPairs) {
    gap(i, j);
    pair(i, j);
    fromA = i + 1;
    fromB = j + 1;
  }
  gap(a.length, b.length);
  return { lengthA: a.length, lengthB: b.length, prefix, divergence, aToB, bToA, matched };
}

/**
 * The step of the other run that goes with `step` of this one: its matched step, or, for an
 * event without a match, the match of the nearest matched step before it.
 */
export function alignedStep(al: Alignment, side: 'a' | 'b', step: number): number {
  const map = side === 'a' ? al.aToB : al.bToA;
  const n = Math.max(0, Math.min(step, map.length - 1));
  for (let s = n; s >= 0; s--) if (map[s] >= 0) return map[s];
  return 0;
}

/** VM exits per level of a trace (the CLI's and the compare view's counts). */
export function exitsPerLevel(t: TraceColumns): number[] {
  const out: number[] = [];
  for (let i = 0; i < t.length; i++) {
    if (t.kind[i] !== EventKind.VMEXIT) continue;
    const l = t.level[i];
    while (out.length <= l) out.push(0);
    out[l]++;
  }
  return out;
}
