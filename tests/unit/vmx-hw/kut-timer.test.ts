// The kvm-unit-tests style VMX-preemption timer built-ins beside kut-preemption-timer
// (kut-preemption-timer-tf, kut-preemption-timer-expiry): each passes its own asserts, and the
// facts they check are checked here from the trace.
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { EventType, deliveries, label, memQ, open, rows } from '../helpers';
import { entries, exits, field } from './vmx-helpers';

function builtin(name: string, params: Record<string, ParamValue> = {}) {
  const doc = findBuiltin(name);
  if (!doc) throw new Error(`no built-in ${name}`);
  return open(doc, params);
}

type Session = ReturnType<typeof builtin>;

function expectClean(s: Session, passes: number) {
  expect(s.runError()).toBeNull();
  expect(s.sim.endReason).toBe('halted');
  expect(s.assertions.filter((a) => !a.passed).map((a) => a.message)).toEqual([]);
  expect(s.assertions).toHaveLength(passes);
  expect(s.expectedEnd()).toMatchObject({ label: 'tests_done', reached: true });
}

const time = (s: Session, step: number) => rows(s)[step - 1].time;

describe('kut-preemption-timer-tf', () => {
  it.each([30, 10])(
    'iterations=%i: only timer exits, at many boundaries, and the trap RIPs alternate',
    (n) => {
      const s = builtin('kut-preemption-timer-tf', { iterations: n });
      expectClean(s, 8);
      const x = exits(s);
      expect(x.map((r) => r.reason)).toEqual([18, ...Array<number>(n).fill(52), 18]);
      const timer = x.slice(1, -1);
      // entry i had the value i: the exits land at different places, in the loop and the handler
      const handler = label(s, 'guest_db');
      expect(timer.some((r) => r.rip < handler)).toBe(true);
      expect(timer.some((r) => r.rip >= handler)).toBe(true);
      expect(new Set(timer.map((r) => r.rip)).size).toBeGreaterThan(3);
      // the #DB trap comes first on its boundary: no timer exit leaves one pending (BS)
      for (const r of timer) expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS', r.step)).toBe(0);
      // every trap in stage 1 returns after the NOP or after the JMP, in turn
      const loop0 = label(s, 'loop0');
      const traps = deliveries(s).filter(
        (d) => s.sim.trace.level[d.step - 1] === 1 && d.vector === 1 && d.step < x[x.length - 2].step,
      );
      expect(traps.every((d) => d.type === EventType.HW_EXCEPTION)).toBe(true);
      for (let i = 1; i < traps.length; i++) expect(traps[i].rip).not.toBe(traps[i - 1].rip);
      expect(new Set(traps.map((d) => d.rip))).toEqual(new Set([loop0 + 2, loop0])); // after WBINVD, JMP
      const all = deliveries(s).filter((d) => s.sim.trace.level[d.step - 1] === 1 && d.vector === 1);
      expect(memQ(s, label(s, 'db_count'))).toBe(BigInt(all.length));
      // stage 2 ends at the end of the loop, with TF cleared by the handler
      expect(x[x.length - 1].rip).toBe(label(s, 'endloop'));
      expect(field(s, 'GUEST_RFLAGS') & 0x100).toBe(0);
    },
  );
});

describe('kut-preemption-timer-expiry', () => {
  it.each([3200, 320, 10000])(
    'cycles=%i: the exit comes on the first boundary past the deadline',
    (cycles) => {
      const s = builtin('kut-preemption-timer-expiry', { cycles });
      expectClean(s, 6);
      const x = exits(s);
      expect(x.map((r) => r.reason)).toEqual([18, 52, 18]);
      const value = Math.floor(cycles / 32);
      expect(field(s, 'VMX_PREEMPTION_TIMER_VALUE')).toBe(value);
      const start = Number(memQ(s, label(s, 'tsc_start')));
      const finish = Number(memQ(s, label(s, 'finish'), x[1].step));
      const deadline = Math.floor(start / 32) * 32 + value * 32;
      expect(Number(memQ(s, label(s, 'deadline')))).toBe(deadline);
      expect(finish).toBeLessThan(deadline);
      // the hardware's own deadline (from the VM entry) is at or before the guest's; the exit
      // is the step at that boundary (a record's time is the time after its step)
      const entered = time(s, entries(s)[1].step);
      const expired = time(s, x[1].step) - 1;
      expect(expired).toBe(Math.floor(entered / 32) * 32 + value * 32);
      expect(expired).toBeLessThanOrEqual(deadline);
      // the last value stored is at most one turn of the guest's 7-instruction loop old
      expect(expired - finish).toBeLessThanOrEqual(10);
    },
  );
});
