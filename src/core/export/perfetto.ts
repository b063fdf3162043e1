// A run as Chrome/Perfetto trace-event JSON (open it in ui.perfetto.dev or chrome://tracing).
// Each level is a thread ("L0 · KVM", "L1 · guest", ...). Every stretch of consecutive steps at
// one level is a slice ("L1 runs"); inside it each instruction, IRET, delivery, VM entry, VM
// exit and idle wait is a slice from the previous event's time to its own (the cycles the lab
// charges to it). KVM decisions (named by kernel function), raised events, assertions and a
// shutdown are instant events. A VM exit and a VM entry are flow arrows from their slice to
// the stretch of the level that runs next.
// Time: the lab counts TSC cycles; `clock: 'tsc'` converts them to microseconds at the
// scenario's features.tscHz (default 2 GHz), `clock: 'cycles'` shows one cycle as one
// nanosecond (Perfetto keeps nanoseconds, so at 2 GHz the TSC clock merges cycle pairs).
import { hypervisorFunction } from '../hypervisors/functions';
import { eventData } from '../engine/describe';
import type { LabSession } from '../engine/session';
import { EVENT_KIND_NAMES, EVENT_TYPE_NAMES, EventKind } from '../engine/view';
import { exitReasonByCode } from '../vmx/exit-reasons';
import { TraceEventBuilder, type TraceEventFile } from './trace-event';

export type PerfettoClock = 'tsc' | 'cycles';

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

/** VM exit reason as a name: "VM exit 7 INTERRUPT_WINDOW", or an entry failure. */
export function exitName(reason: number, arch: 'vmx' | 'svm'): string {
  if (arch === 'svm') return `#VMEXIT ${hex(reason)}`;
  const basic = reason & 0xffff;
  const r = exitReasonByCode(basic);
  const name = r ? r.name.replace(/^EXIT_REASON_/, '') : '';
  return `${reason & 0x80000000 ? 'VM-entry failure' : 'VM exit'} ${basic}${name ? ' ' + name : ''}`;
}

export function sessionToPerfetto(session: LabSession, clock: PerfettoClock = 'tsc'): TraceEventFile {
  const c = session.compiled;
  const info = session.info();
  const t = session.sim.trace;
  const tscHz = c.scenario.features.tscHz;
  const us = clock === 'tsc' ? (cy: number) => (cy * 1e6) / tscHz : (cy: number) => cy / 1000;
  const b = new TraceEventBuilder();
  b.process(`nestlab · ${info.name}`);
  const tid = (level: number) => level + 1;
  c.lanes.forEach((lane, i) => b.thread(tid(i), lane.name, i));
  const assertions = new Map(session.assertions.map((a) => [a.step, a]));
  const instrText = (level: number, index: number) =>
    c.programs[c.lanes[level].program].instrs[index]?.text ?? `instruction ${index}`;

  let runStart = 0; // index of the first event of the current stretch
  for (let i = 0; i < t.length; i++) {
    const level = t.level[i];
    const start = i === 0 ? 0 : t.time[i - 1];
    const end = t.time[i];
    const step = i + 1;
    const k = t.kind[i];
    const d0 = t.d0[i];
    const d1 = t.d1[i];
    const base = { step, rip: hex(t.rip[i]), ...eventData(k, d0, d1, t.d2[i]) };
    const slice = (name: string, cat: string, args: Record<string, unknown> = {}) =>
      b.slice(tid(level), name, cat, us(start), us(end), { ...base, ...args });
    const instant = (name: string, cat: string, args: Record<string, unknown> = {}) =>
      b.instant(tid(level), name, cat, us(end), { ...base, ...args });
    switch (k) {
      case EventKind.INSTR:
      case EventKind.IRET:
        slice(instrText(level, d0), 'instruction');
        break;
      case EventKind.DELIVER:
        slice(`deliver ${EVENT_TYPE_NAMES[(d0 >>> 8) & 7] ?? 'event'} ${hex(d0 & 0xff)}`, 'delivery');
        break;
      case EventKind.VMENTRY:
        slice(`VM entry (${d1 ? 'VMLAUNCH' : 'VMRESUME'})`, 'vmentry');
        break;
      case EventKind.VMEXIT:
        slice(exitName(d0, info.arch), 'vmexit');
        break;
      case EventKind.DECISION: {
        const fn = hypervisorFunction(d0);
        instant(fn.name, fn.hypervisor, { file: fn.file === '?' ? '' : fn.file });
        break;
      }
      case EventKind.ASSERT: {
        const a = assertions.get(step);
        const verdict = d1 === 2 ? 'skip' : d1 === 1 ? 'pass' : 'FAIL';
        instant(`assert ${verdict}: ${a?.message ?? ''}`.trim(), 'assert', { line: a?.line ?? 0 });
        break;
      }
      case EventKind.RAISE:
        instant(`raise ${EVENT_TYPE_NAMES[(d0 >>> 8) & 7] ?? 'event'} ${hex(d0 & 0xff)}`, 'raise');
        break;
      case EventKind.SHUTDOWN:
        instant('shutdown (triple fault)', 'shutdown');
        break;
      default:
        slice(EVENT_KIND_NAMES[k] ?? `kind ${k}`, EVENT_KIND_NAMES[k] ?? 'event');
    }
    const last = i + 1 === t.length || t.level[i + 1] !== level;
    if (!last) continue;
    // The stretch that ends here, and the arrow to the level that runs next.
    const from = runStart === 0 ? 0 : t.time[runStart - 1];
    b.slice(tid(level), `L${level} runs`, 'run', us(from), us(end), { fromStep: runStart + 1, toStep: step });
    if (i + 1 < t.length && (k === EventKind.VMEXIT || k === EventKind.VMENTRY)) {
      b.flow(
        k === EventKind.VMEXIT ? 'VM exit' : 'VM entry',
        k === EventKind.VMEXIT ? 'vmexit' : 'vmentry',
        tid(level),
        us((start + end) / 2),
        tid(t.level[i + 1]),
        us(end),
      );
    }
    runStart = i + 1;
  }
  return b.file({
    scenario: info.name,
    params: info.params.map((p) => `${p.key}=${String(p.value)}`).join(' '),
    clock: clock === 'tsc' ? `TSC cycles at ${tscHz} Hz, in µs` : '1 TSC cycle shown as 1 ns',
    tscHz,
    totalSteps: info.totalSteps,
    endReason: info.endReason,
  });
}
