// The palette's query engine (engine/search.ts): each query kind on real runs, checked against
// the trace and against the views the panels show; bad queries name what and where.
import { describe, expect, it } from 'vitest';
import { openSession, type LabSession } from '../../../src/core/engine/session';
import { runQuery, sessionRun, stepAtTime, type SearchAnswer } from '../../../src/core/engine/search';
import { parseQuery } from '../../../src/core/engine/search-query';
import { EventKind } from '../../../src/core/engine/view';
import { findBuiltin } from '../../../src/core/scenario/builtins';

function open(name: string, params: Record<string, boolean | number | string> = {}): LabSession {
  const r = openSession({ doc: findBuiltin(name) }, params);
  if (!r.ok) throw new Error(r.error.message);
  return r.session;
}

function results(s: LabSession, q: string) {
  const a = runQuery(sessionRun(s), q);
  if (!a.ok || a.kind !== 'results') throw new Error(`${q}: ${JSON.stringify(a)}`);
  return a;
}

function error(s: LabSession, q: string) {
  const a: SearchAnswer = runQuery(sessionRun(s), q);
  if (a.ok) throw new Error(`${q} was read`);
  return a.error;
}

/** Steps whose trace event satisfies `test` (the engine's answer, computed the slow way). */
function where(s: LabSession, test: (i: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.sim.trace.length; i++) if (test(i)) out.push(i + 1);
  return out;
}

/** Steps after which `value(view)` differs from the step before, read from the panels' views. */
function changesInViews(s: LabSession, value: (n: number) => unknown): number[] {
  const out: number[] = [];
  let prev = JSON.stringify(value(0));
  for (let n = 1; n <= s.totalSteps; n++) {
    const v = JSON.stringify(value(n));
    if (v !== prev) out.push(n);
    prev = v;
  }
  return out;
}

describe('go to', () => {
  const s = open('soft-vnmi');
  it('reads a step as `step N`, `N`, `#N` and `go to N`', () => {
    for (const q of ['step 38', '38', '#38', 'go to 38', 'goto step 38'])
      expect(runQuery(sessionRun(s), q)).toMatchObject({ ok: true, kind: 'goto', step: 38 });
  });
  it('reads a time in cycles and lands on the first event at or after it', () => {
    const t = s.sim.trace;
    const cycles = t.time[20] - 1;
    for (const q of [`${cycles} cycles`, `time ${cycles}`, `@${cycles}`, `t=${cycles}`]) {
      const a = runQuery(sessionRun(s), q);
      expect(a).toMatchObject({ ok: true, kind: 'goto' });
      const step = (a as { step: number }).step;
      expect(t.time[step - 1]).toBeGreaterThanOrEqual(cycles);
      if (step > 1) expect(t.time[step - 2]).toBeLessThan(cycles);
    }
    expect(stepAtTime(t, 1e18)).toBe(t.length);
  });
  it('a step past the end is refused, not clamped silently', () => {
    expect(error(s, `step ${s.totalSteps + 1}`).message).toMatch(/past the end of the run \(\d+ steps\)/);
  });
});

describe('event searches (trace columns)', () => {
  const s = open('soft-vnmi');
  const t = s.sim.trace;
  it('exit N and exit NAME find the VM exits with that basic reason', () => {
    const want = where(s, (i) => t.kind[i] === EventKind.VMEXIT && (t.d0[i] & 0xffff) === 7);
    expect(want.length).toBeGreaterThan(0);
    expect(results(s, 'exit 7').steps).toEqual(want);
    expect(results(s, 'exit INTERRUPT_WINDOW').steps).toEqual(want);
    expect(results(s, 'EXIT_REASON_INTERRUPT_WINDOW').steps).toEqual(want);
    expect(results(s, 'exit 7').notes[0]).toBe('L1 VM exit 7 INTERRUPT_WINDOW');
    const ext = where(s, (i) => t.kind[i] === EventKind.VMEXIT && (t.d0[i] & 0xffff) === 1);
    expect(results(s, 'EXTERNAL_INTERRUPT').steps).toEqual(ext);
    expect(results(s, 'exit 0x1').steps).toEqual(ext);
  });
  it('`exit` alone and event kinds find every event of the kind', () => {
    expect(results(s, 'exit').total).toBe(where(s, (i) => t.kind[i] === EventKind.VMEXIT).length);
    expect(results(s, 'vmentry').steps).toEqual(where(s, (i) => t.kind[i] === EventKind.VMENTRY));
    expect(results(s, 'kind decision').steps).toEqual(where(s, (i) => t.kind[i] === EventKind.DECISION));
  });
  it('vector N matches raises, deliveries, injections on VM entry and exit interruption info', () => {
    const r = results(s, 'vector 2');
    const kinds = new Set(r.steps.map((n) => t.kind[n - 1]));
    expect(kinds).toContain(EventKind.RAISE);
    expect(kinds).toContain(EventKind.VMENTRY);
    for (const n of r.steps) {
      const i = n - 1;
      const v =
        t.kind[i] === EventKind.VMENTRY ? t.d0[i] : t.kind[i] === EventKind.VMEXIT ? t.d1[i] : t.d0[i];
      expect(v & 0xff).toBe(2);
    }
  });
  it('words are ANDed: a level narrows the search', () => {
    const l1 = results(s, 'vmexit L1').steps;
    expect(l1).toEqual(where(s, (i) => t.kind[i] === EventKind.VMEXIT && t.level[i] === 1));
    expect(results(s, 'vmexit level 0').total).toBe(0);
  });
  it('fn NAME finds the decisions of that kernel function, with or without vmx_', () => {
    const all = results(s, 'decision');
    const name = all.notes[all.notes.length - 1].replace(/^L\d /, '');
    const r = results(s, `fn ${name}`);
    expect(r.total).toBeGreaterThan(0);
    expect(r.notes.every((n) => n.endsWith(name))).toBe(true);
    expect(results(s, 'fn inject_nmi').steps).toEqual(results(s, 'fn vmx_inject_nmi').steps);
  });
  it('assert, assert passed|failed and "text"', () => {
    const all = results(s, 'assert');
    expect(all.steps).toEqual(s.assertions.map((a) => a.step));
    expect(results(s, 'assert passed').total).toBe(s.assertions.filter((a) => a.passed).length);
    expect(results(s, 'assert failed').total).toBe(0);
    const text = s.assertions[0].message.split(' ').slice(1, 3).join(' ');
    expect(results(s, `assert "${text.toUpperCase()}"`).steps).toContain(s.assertions[0].step);
    expect(results(s, 'assert "no such message"').total).toBe(0);
  });
});

describe('when did this change (replay)', () => {
  const s = open('soft-vnmi');
  it('RFLAGS.IF of L1 changes exactly where the level panel’s IF changes', () => {
    const r = results(s, 'RFLAGS.IF of L1');
    expect(r.description).toBe('when RFLAGS.IF of L1 changed');
    expect(r.steps).toEqual(changesInViews(s, (n) => s.view(n).levels[1].cpu.if));
    expect(r.notes[0]).toBe('RFLAGS.IF of L1: 0 → 1');
    expect(results(s, 'change RFLAGS[9] L1').steps).toEqual(r.steps);
  });
  it('soft_vnmi_blocked changes where the KVM panel’s does', () => {
    const r = results(s, 'soft_vnmi_blocked');
    expect(r.total).toBeGreaterThan(0);
    expect(r.steps).toEqual(changesInViews(s, (n) => s.view(n).levels[0].kvm?.softVnmiBlocked));
  });
  it('a VMCS bit by its Linux name, in the current VMCS or in one named by role', () => {
    const fieldOf = (n: number, role: string | null) => {
      const v = s.view(n).vmx.vmcs.find((x) => (role ? x.role === role : x.current));
      if (!v) return null;
      return ((v.fields.find((f) => f.name === 'GUEST_RFLAGS')?.value ?? 0) >>> 9) & 1;
    };
    expect(results(s, 'GUEST_RFLAGS.IF in vmcs01').steps).toEqual(
      changesInViews(s, (n) => fieldOf(n, 'vmcs01')),
    );
    expect(results(s, 'GUEST_RFLAGS[9]').steps).toEqual(changesInViews(s, (n) => fieldOf(n, null)));
  });
  it('the NMI-blocking bit of GUEST_INTERRUPTIBILITY_INFO with virtual NMIs', () => {
    const v = open('soft-vnmi', { virtual_nmis: true });
    const bit = (n: number) => {
      const cur = v.view(n).vmx.vmcs.find((x) => x.current);
      return cur
        ? ((cur.fields.find((f) => f.name === 'GUEST_INTERRUPTIBILITY_INFO')?.value ?? 0) >>> 3) & 1
        : null;
    };
    const r = results(v, 'GUEST_INTERRUPTIBILITY_INFO.NMI changed');
    expect(r.steps).toEqual(changesInViews(v, bit));
    expect(r.steps.length).toBeGreaterThan(1);
  });
  it('a general register of the level, as the CPU panel shows it', () => {
    const r = results(s, 'rax of L1');
    expect(r.steps).toEqual(changesInViews(s, (n) => s.view(n).levels[1].cpu.regs[0].value));
  });
});

describe('queries that cannot be read say what and where', () => {
  const s = open('soft-vnmi');
  it.each([
    ['exit 7 foo', 8, /'foo' at column 8: not a search word/],
    ['vector 300', 8, /not a vector: a number from 0 to 255/],
    ['exit BOGUS', 6, /not an exit reason: give its number/],
    ['fn enable_nmi', 4, /not a function of the KVM model; did you mean .*enable_nmi_window/],
    ['RFLAGS.XX', 1, /RFLAGS has no flag 'XX'; flags are CF, PF/],
    ['GUEST_INTERRUPTIBILITY_INFO.FOO', 1, /has no bit 'FOO'; its bits are GUEST_INTR_STATE_STI/],
    ['RFLAGS.IF of L7', 14, /this run has levels L0 to L1/],
    ['step x', 6, /not a whole number/],
    ['assert "open', 8, /quote at column 8 is not closed/],
    ['', 1, /the query is empty/],
  ])('%s', (q, column, message) => {
    const e = error(s, q);
    expect(e.column).toBe(column);
    expect(e.message).toMatch(message);
  });
  it('a KVM variable in a run without KVM', () => {
    const bare = open('nmi-blocking');
    expect(error(bare, 'soft_vnmi_blocked').message).toMatch(/this run has no KVM level/);
  });
  it('the parser reads qualifiers only after what is watched', () => {
    expect(parseQuery('rflags.if of L1')).toMatchObject({ q: 'change', target: { w: 'reg', level: 1 } });
    expect(() => parseQuery('change')).toThrow(/say what to watch/);
  });
});

describe('under nesting, every level', () => {
  const s = open('nested-intr');
  const t = s.sim.trace;
  it('exit L2: the exits out of L2', () => {
    const r = results(s, 'exit L2');
    expect(r.total).toBeGreaterThan(0);
    expect(r.steps).toEqual(where(s, (i) => t.kind[i] === EventKind.VMEXIT && t.level[i] === 2));
  });
  it('RFLAGS.IF of L2 as L2’s panel shows it (its VMCS area while it waits)', () => {
    expect(results(s, 'RFLAGS.IF of L2').steps).toEqual(changesInViews(s, (n) => s.view(n).levels[2].cpu.if));
  });
  it('KVM’s nested state: guest_mode and nested_run_pending of L0', () => {
    expect(results(s, 'guest_mode of L0').steps).toEqual(
      changesInViews(s, (n) => s.view(n).levels[0].kvm?.nested?.guestMode ?? false),
    );
    expect(results(s, 'nested_run_pending').steps).toEqual(
      changesInViews(s, (n) => s.view(n).levels[0].kvm?.nested?.runPending ?? false),
    );
  });
  it('a field of vmcs12 (L1’s VMCS for L2, as KVM holds it): “—” until it exists, then its value', () => {
    const rip = (n: number) => {
      const v = s.view(n).vmx.vmcs.find((x) => x.role === 'vmcs12');
      return v ? (v.fields.find((f) => f.name === 'GUEST_RIP')?.value ?? 0) : null;
    };
    const r = results(s, 'GUEST_RIP in vmcs12');
    expect(r.steps).toEqual(changesInViews(s, rip));
    expect(r.notes[0]).toMatch(/^GUEST_RIP of vmcs12: — → /);
  });
});

describe('an SVM run names its exits by SVM exit code', () => {
  it('exit VINTR, exit SVM_EXIT_INTR, exit 0x64: the #VMEXITs with that code; the notes say #VMEXIT', () => {
    const s = open('kvm-svm-nested-intr');
    const t = s.sim.trace;
    const vintr = where(s, (i) => t.kind[i] === EventKind.VMEXIT && t.d0[i] >>> 0 === 0x64);
    expect(vintr.length).toBeGreaterThan(0);
    expect(results(s, 'exit VINTR').steps).toEqual(vintr);
    expect(results(s, 'exit 0x64').steps).toEqual(vintr);
    const intr = where(s, (i) => t.kind[i] === EventKind.VMEXIT && t.d0[i] >>> 0 === 0x60);
    expect(results(s, 'exit SVM_EXIT_INTR').steps).toEqual(intr);
    expect(results(s, 'exit VINTR').notes[0]).toMatch(/#VMEXIT 0x64 VINTR/);
  });

  it('VMEXIT_INVALID is exit ERR (or -1); a VMX reason name is no SVM exit code', () => {
    const s = open('svm-vnmi');
    const t = s.sim.trace;
    const err = where(s, (i) => t.kind[i] === EventKind.VMEXIT && t.d0[i] >>> 0 === 0xffffffff);
    expect(err.length).toBe(1);
    expect(results(s, 'exit ERR').steps).toEqual(err);
    expect(error(s, 'exit NMI_WINDOW').message).toMatch(/not an SVM exit code/);
  });
});
