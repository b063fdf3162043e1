// The Perfetto export: levels as threads, exits and entries as flow arrows, KVM decisions as
// instants named by kernel function, times from TSC cycles; every file passes the trace-event
// format check.
import { describe, expect, it } from 'vitest';
import { openSession } from '../../../src/core/engine/session';
import { sessionToPerfetto } from '../../../src/core/export/perfetto';
import type { TraceEvent } from '../../../src/core/export/trace-event';
import { checkTraceEvents } from '../../../src/core/export/trace-event-check';
import { BUILTIN_SCENARIOS, findBuiltin } from '../../../src/core/scenario/builtins';

function session(name: string) {
  const o = openSession({ doc: findBuiltin(name)! }, {});
  if (!o.ok) throw new Error(o.error.message);
  return o.session;
}

describe('sessionToPerfetto (soft-vnmi)', () => {
  const s = session('soft-vnmi');
  const file = JSON.parse(JSON.stringify(sessionToPerfetto(s))) as {
    traceEvents: TraceEvent[];
    otherData: Record<string, unknown>;
  };
  const ev = file.traceEvents;
  const threadName = (tid: number) =>
    ev.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.tid === tid)?.args?.name;

  it('passes the trace-event format check', () => {
    expect(checkTraceEvents(file)).toEqual([]);
  });

  it('names one thread per level', () => {
    expect(threadName(1)).toBe('L0 · KVM');
    expect(threadName(2)).toBe('L1 · guest kernel');
  });

  it('turns cycles into µs at the scenario TSC frequency (2 GHz: 100 cycles = 0.05 µs)', () => {
    const first = ev.find((e) => e.ph === 'i')!;
    expect(first.name).toBe('hardware_enable');
    expect(first.ts).toBeCloseTo(0.05, 9);
    expect(file.otherData.tscHz).toBe(2_000_000_000);
    const cycles = sessionToPerfetto(s, 'cycles').traceEvents.find((e) => e.ph === 'i')!;
    expect(cycles.ts).toBeCloseTo(0.1, 9); // 100 cycles shown as 100 ns
  });

  it('records decisions as instants with the kernel function, its file and numbers', () => {
    const d = ev.find((e) => e.ph === 'i' && e.name === 'vmx_recover_nmi_blocking')!;
    expect(d.cat).toBe('kvm');
    expect(d.tid).toBe(1);
    expect(d.args).toMatchObject({ step: 28, function: 9, a: 24850, b: 24850, file: 'vmx/vmx.c' });
  });

  it('records VM exits and entries as slices with their fields, and the exit 7 of soft-vNMI', () => {
    const exit7 = ev.find((e) => e.ph === 'X' && e.name === 'VM exit 7 INTERRUPT_WINDOW')!;
    expect(exit7.tid).toBe(2);
    expect(exit7.args).toMatchObject({ step: 38, reason: 7 });
    const entry = ev.find((e) => e.ph === 'X' && e.args?.step === 11)!;
    expect(entry.name).toBe('VM entry (VMRESUME)');
    expect(entry.args).toMatchObject({ injected: 0x80000202, launch: 0 });
  });

  it('draws a flow from each VM exit to L0 and from each VM entry to L1, ids paired', () => {
    const starts = ev.filter((e) => e.ph === 's');
    const ends = ev.filter((e) => e.ph === 'f');
    expect(starts.length).toBe(ends.length);
    const exits = starts.filter((e) => e.name === 'VM exit');
    const nExits = ev.filter((e) => e.ph === 'X' && e.cat === 'vmexit').length;
    expect(exits.length).toBe(nExits);
    for (const s0 of exits) {
      expect(s0.tid).toBe(2);
      expect(ends.find((f) => f.id === s0.id)!.tid).toBe(1);
    }
    for (const s0 of starts.filter((e) => e.name === 'VM entry')) {
      expect(s0.tid).toBe(1);
      expect(ends.find((f) => f.id === s0.id)!.tid).toBe(2);
    }
  });

  it('shows assertions and raised NMIs as instants', () => {
    expect(ev.filter((e) => e.cat === 'assert').map((e) => e.name)).toContain(
      'assert pass: both NMIs were handled',
    );
    expect(ev.filter((e) => e.cat === 'raise').map((e) => e.name)).toEqual([
      'raise NMI 0x2',
      'raise NMI 0x2',
    ]);
  });

  it('wraps each stretch at one level in a "runs" slice that holds its events', () => {
    const runs = ev.filter((e) => e.cat === 'run');
    expect(runs[0]).toMatchObject({ name: 'L0 runs', tid: 1, ts: 0, args: { fromStep: 1, toStep: 4 } });
    expect(runs[1]).toMatchObject({ name: 'L1 runs', tid: 2, args: { fromStep: 5 } });
  });
});

describe('every built-in exports a valid trace', () => {
  it.each(BUILTIN_SCENARIOS.map((d) => (d as { name: string }).name))('%s', (name) => {
    const file = JSON.parse(JSON.stringify(sessionToPerfetto(session(name))));
    expect(checkTraceEvents(file)).toEqual([]);
  });
});

describe('checkTraceEvents finds what Perfetto would reject', () => {
  const ok = () => ({
    traceEvents: [
      { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'L0' } },
      { name: 'a', ph: 'X', pid: 1, tid: 1, ts: 0, dur: 10 },
      { name: 'b', ph: 'X', pid: 1, tid: 1, ts: 5, dur: 10 },
      { name: 'f', cat: 'x', ph: 's', id: 1, pid: 1, tid: 1, ts: 1 },
      { name: 'i', ph: 'i', pid: 1, tid: 2, ts: 1 },
    ],
  });
  it('reports overlapping slices, unpaired flows, unnamed threads and a missing scope', () => {
    const p = checkTraceEvents(ok());
    expect(p).toContain('thread 1:2 has events but no thread_name');
    expect(p).toContain('flow id 1 has no end (f)');
    expect(p.some((x) => x.includes('overlaps'))).toBe(true);
    expect(p).toContain('event 4: instant scope s must be t, p or g');
    expect(checkTraceEvents({})).toEqual(['the file is not an object with a traceEvents array']);
  });
});
