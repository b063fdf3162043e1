// A bounded longest-common-subsequence over integer signatures (Myers, "An O(ND) Difference
// Algorithm and Its Variations", 1986), run on windows so that two runs of 10^5 events that
// differ a lot still align in bounded time (docs/compare.md). Within a window the diff is
// exact; across windows it is greedy: the first half of a window's matches is kept and the next
// window starts after it.

/** Events per side in one window. */
const WINDOW = 4096;
/** Most differences (insertions + deletions) a window's diff explores before giving up. */
const MAX_D = 256;
/** How far the greedy fallback looks ahead on each side for the next matching pair. */
const LOOKAHEAD = 64;

/** The matched pairs of an exact diff of a[a0,a1) and b[b0,b1), or null past MAX_D. */
function myers(
  a: Int32Array,
  a0: number,
  a1: number,
  b: Int32Array,
  b0: number,
  b1: number,
): number[] | null {
  const n = a1 - a0;
  const m = b1 - b0;
  const max = Math.min(n + m, MAX_D);
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[a0 + x] === b[b0 + y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) return backtrack(trace, d, off, n, m, a0, b0);
    }
  }
  return null;
}

function backtrack(
  trace: Int32Array[],
  dEnd: number,
  off: number,
  n: number,
  m: number,
  a0: number,
  b0: number,
): number[] {
  const pairs: number[] = [];
  let x = n;
  let y = m;
  for (let d = dEnd; d > 0; d--) {
    // trace[d] is V after d-1 differences: where the path to (x, y) came from.
    const pv = trace[d];
    const k = x - y;
    const down = k === -d || (k !== d && pv[off + k - 1] < pv[off + k + 1]);
    const prevK = down ? k + 1 : k - 1;
    const prevX = pv[off + prevK];
    const prevY = prevX - prevK;
    const startX = down ? prevX : prevX + 1;
    while (x > startX) {
      x--;
      y--;
      pairs.push(b0 + y, a0 + x);
    }
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    pairs.push(b0 + y, a0 + x);
  }
  pairs.reverse();
  return pairs; // [a, b, a, b, ...] in order
}

/**
 * Calls `match(i, j)` for pairs of equal signatures a[i] = b[j], in increasing order of both,
 * over a[a0,a1) and b[b0,b1): a longest common subsequence within each window.
 */
export function matchSignatures(
  a: Int32Array,
  a0: number,
  a1: number,
  b: Int32Array,
  b0: number,
  b1: number,
  match: (i: number, j: number) => void,
): void {
  let i = a0;
  let j = b0;
  // After a window too different for an exact diff, greedy matching up to here (then exact again).
  let greedyUntilA = -1;
  let greedyUntilB = -1;
  while (i < a1 && j < b1) {
    if (a[i] === b[j]) {
      match(i++, j++);
      continue;
    }
    if (i >= greedyUntilA && j >= greedyUntilB) {
      const ae = Math.min(a1, i + WINDOW);
      const be = Math.min(b1, j + WINDOW);
      const pairs = myers(a, i, ae, b, j, be);
      if (pairs) {
        const last = ae === a1 && be === b1;
        let committed = false;
        for (let p = 0; p < pairs.length; p += 2) {
          if (!last && (pairs[p] - i >= WINDOW / 2 || pairs[p + 1] - j >= WINDOW / 2)) break;
          match(pairs[p], pairs[p + 1]);
          committed = true;
          i = pairs[p] + 1;
          j = pairs[p + 1] + 1;
        }
        if (last) return;
        if (committed) continue;
      }
      greedyUntilA = i + WINDOW / 2;
      greedyUntilB = j + WINDOW / 2;
    }
    // Greedy: the nearer of a[i]'s next occurrence in b and b[j]'s next occurrence in a.
    let skipB = -1;
    for (let k = 1; k <= LOOKAHEAD && j + k < b1; k++)
      if (a[i] === b[j + k]) {
        skipB = k;
        break;
      }
    let skipA = -1;
    for (let k = 1; k <= LOOKAHEAD && i + k < a1; k++)
      if (a[i + k] === b[j]) {
        skipA = k;
        break;
      }
    if (skipB >= 0 && (skipA < 0 || skipB <= skipA)) j += skipB;
    else if (skipA >= 0) i += skipA;
    else {
      i++;
      j++;
    }
  }
}
