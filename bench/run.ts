// npm run bench: the speed figures of the core, printed as a table.
//  (a) simulated instructions per second for a tight loop (trace recording included)
//  (b) median and 95th-percentile time to seek to a random step of a 1,000,000-step run
//  (c) memory per step of trace (and of checkpoints)
//  (d) the soft-vNMI starvation scenario (1.5 s of guest time) in wall time
//  (e) guest instructions per second under the KVM model (VMX) and the Xen model (SVM) with a
//      10,000-cycle timer: bench/hypervisors.ts (npx tsx bench/hypervisors.ts runs only these)
//  (f), (g) nesting: bench/nested.ts
//  (h) go to and search over the 1,000,000-step run: bench/search.ts
//  (i) the timeline in headless Chromium: zoom and pan frame intervals with 10^5 events in
//      view, key press to painted step: bench/timeline-browser.ts (skipped without Chromium)
import { performance } from 'node:perf_hooks';
import { openSession, type LabSession } from '../src/core/engine/session';
import { findBuiltin } from '../src/core/scenario/builtins';
import { hypervisorBenchmarks } from './hypervisors';
import { nestedBenchmarks } from './nested';
import { searchBenchmarks } from './search';
import { timelineBrowserBenchmarks } from './timeline-browser';

function scenario(iterations: number, steps: number): unknown {
  return {
    version: 1,
    name: 'bench-loop',
    title: 'tight loop',
    description: 'inc/cmp/jne',
    arch: 'vmx',
    levels: [
      {
        kind: 'program',
        program: [
          'start:',
          '        xor ecx, ecx',
          'again:  inc rcx',
          `        cmp rcx, ${iterations}`,
          '        jne again',
          '        cli',
          '        hlt',
        ],
      },
    ],
    limits: { steps },
  };
}

function open(iterations: number): { session: LabSession; seconds: number } {
  const t0 = performance.now();
  const r = openSession({ doc: scenario(iterations, 50_000_000) });
  const seconds = (performance.now() - t0) / 1000;
  if (!r.ok) throw new Error(r.error.message);
  return { session: r.session, seconds };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// Seeded LCG: the benchmark seeks the same steps every run.
let seed = 12345;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

const rows: [string, string, string][] = [];

// (a) Warm up the JIT, then time five runs of about 6 million instructions; report the median.
open(300_000);
open(300_000);
const rates: number[] = [];
let instrs = 0;
for (let i = 0; i < 5; i++) {
  const r = open(2_000_000);
  instrs = r.session.totalSteps;
  rates.push(instrs / r.seconds);
}
rates.sort((a, b) => a - b);
const rate = rates[2];
rows.push([
  '(a) instructions per second, tight loop',
  `${(rate / 1e6).toFixed(1)} M/s`,
  `target ≥ 10 M/s; median of 5 runs of ${instrs.toLocaleString('en-US')} steps (range ${(rates[0] / 1e6).toFixed(1)}–${(rates[4] / 1e6).toFixed(1)})`,
]);

// (b) A run of exactly 1,000,000 steps (333,332 iterations × 3 + 4), then random seeks.
const big = open(333_332).session;
const total = big.totalSteps;
const seeks: number[] = [];
const views: number[] = [];
for (let i = 0; i < 400; i++) {
  const n = Math.floor(random() * total);
  const t0 = performance.now();
  big.sim.stateAt(n);
  seeks.push(performance.now() - t0);
}
for (let i = 0; i < 100; i++) {
  const n = Math.floor(random() * total);
  const t0 = performance.now();
  big.view(n);
  views.push(performance.now() - t0);
}
seeks.sort((a, b) => a - b);
views.sort((a, b) => a - b);
rows.push([
  '(b) seek to a random step, median',
  `${percentile(seeks, 0.5).toFixed(2)} ms`,
  `${total.toLocaleString('en-US')}-step run, 400 seeks`,
]);
rows.push([
  '(b) seek to a random step, 95th percentile',
  `${percentile(seeks, 0.95).toFixed(2)} ms`,
  'target < 10 ms',
]);
rows.push([
  '    full step view (seek + explanation), p95',
  `${percentile(views, 0.95).toFixed(2)} ms`,
  'what the app asks the worker for',
]);

// (c) Memory per step.
const traceBytes = big.sim.trace.bytesPerStep();
const cpBytes = big.sim.checkpointBytes() / total;
rows.push([
  '(c) trace memory per step',
  `${traceBytes.toFixed(1)} B`,
  'target < 100 B (typed-array columns, capacity included)',
]);
rows.push([
  '    checkpoint memory per step',
  `${cpBytes.toFixed(1)} B`,
  'one state snapshot every 8192 steps',
]);

// (h) Search over the same run.
rows.push(...searchBenchmarks(big));

// (d) The soft-vNMI seed's starvation variant: one second of guest time under KVM.
{
  const doc = findBuiltin('soft-vnmi');
  openSession({ doc }, { starve: true });
  const times: number[] = [];
  let steps = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = openSession({ doc }, { starve: true });
    times.push(performance.now() - t0);
    if (!r.ok) throw new Error(r.error.message);
    steps = r.session.totalSteps;
  }
  times.sort((a, b) => a - b);
  rows.push([
    '(d) soft-vnmi starve=true: 1.5 s of guest time',
    `${times[2].toFixed(0)} ms`,
    `target < 200 ms wall time; median of 5 (${steps.toLocaleString('en-US')} steps, load + run)`,
  ]);
}

rows.push(...hypervisorBenchmarks());

rows.push(...nestedBenchmarks());

rows.push(...(await timelineBrowserBenchmarks()));

const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log(`nestlab benchmarks (node ${process.version})\n`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
