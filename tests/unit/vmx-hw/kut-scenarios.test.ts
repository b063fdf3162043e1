// The kvm-unit-tests style built-ins (src/core/scenario/builtins/kut-*.json): each passes its
// own asserts, and its key facts are checked here from the trace — the exit reasons in order,
// the saved guest RIPs, and VMCS fields at the exits.
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { EventKind, EventType, deliveries, label, open, rows } from '../helpers';
import { entries, exits, field } from './vmx-helpers';

function builtin(name: string, params: Record<string, ParamValue> = {}) {
  const doc = findBuiltin(name);
  if (!doc) throw new Error(`no built-in ${name}`);
  return open(doc, params);
}

type Session = ReturnType<typeof builtin>;

/**
 * Every assert passed (or was skipped: `skips` of the `asserts`) and the run ended with the
 * host's final `cli; hlt`.
 */
function expectClean(s: Session, asserts: number, skips = 0) {
  expect(s.runError()).toBeNull();
  expect(s.sim.endReason).toBe('halted');
  expect(s.assertions.filter((a) => !a.passed && !a.skipped).map((a) => a.message)).toEqual([]);
  expect(s.assertions).toHaveLength(asserts);
  expect(s.assertions.filter((a) => a.skipped)).toHaveLength(skips);
  const last = s.view(s.totalSteps).levels[0].cpu;
  expect([last.running, last.activity, last.if]).toEqual([true, 'hlt', false]);
}

/** A VMCS field as the exit at index `i` left it. */
const at = (s: Session, i: number, name: string) => field(s, name, exits(s)[i].step);
const time = (s: Session, step: number) => rows(s)[step - 1].time;

describe('kut-nmi-window', () => {
  it.each([false, true])(
    'sti_shadow=%s: 8, 8, VMCALL in the NMI handler, 8 after its IRET, 8 from HLT, 52',
    (sti) => {
      const s = builtin('kut-nmi-window', { sti_shadow: sti });
      expectClean(s, 18);
      const x = exits(s);
      expect(x.map((e) => e.reason)).toEqual([8, 8, 18, 8, 8, 52]);
      const g = label(s, 'guest');
      expect(x.map((e) => e.rip)).toEqual([
        g,
        g + 1,
        label(s, 'nmi_vmcall'),
        label(s, 'guest_resume'),
        label(s, 'guest_resume'),
        label(s, 'guest_resume'),
      ]);
      // stage 2's blocking is MOV SS, or STI with IF=1
      const e = entries(s);
      expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO', e[1].step - 1)).toBe(sti ? 1 : 2);
      // stage 3: the NMI was injected and its delivery set virtual-NMI blocking
      expect(e[2]).toMatchObject({ injected: 0x80000202, guestRip: label(s, 'guest_nmi') });
      expect(at(s, 2, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(8);
      // stage 4: the window exit is the step right after the handler's IRET
      const iret = rows(s).filter((r) => r.kind === EventKind.IRET);
      expect(iret.map((r) => r.step + 1)).toEqual([x[3].step]);
      expect(at(s, 3, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(0);
      // stages 5 and 6: from HLT; with blocking the guest sleeps until the timer (100 · 32 cycles)
      expect([at(s, 4, 'GUEST_ACTIVITY_STATE'), at(s, 5, 'GUEST_ACTIVITY_STATE')]).toEqual([1, 1]);
      expect(x[4].step).toBe(e[4].step + 1);
      expect(time(s, x[5].step) - time(s, e[5].step)).toBeGreaterThan(99 * 32);
    },
  );
});

describe('kut-intr-window', () => {
  it('7 at entry, 7 after MOV SS, 7 at the injected #DE’s handler, no exit with IF=0, 7 after STI’s shadow, after STI; STI, from HLT', () => {
    const s = builtin('kut-intr-window');
    expectClean(s, 16);
    const x = exits(s);
    expect(x.map((e) => e.reason)).toEqual([7, 7, 7, 18, 7, 7, 7]);
    expect(x.map((e) => e.rip)).toEqual([
      label(s, 'guest'),
      label(s, 'guest') + 1,
      label(s, 'guest_de'),
      label(s, 'guest_vmcall'),
      label(s, 'guest_sti') + 2,
      label(s, 'guest_sti_sti') + 2,
      label(s, 'guest_sti_hlt') + 2,
    ]);
    expect(entries(s)[2]).toMatchObject({ injected: 0x80000300, guestRip: label(s, 'guest_de') });
    // after STI with IF=0 the guest has IF=1 at the exit and no blocking left
    expect([at(s, 4, 'GUEST_RFLAGS') & 0x200, at(s, 4, 'GUEST_INTERRUPTIBILITY_INFO')]).toEqual([0x200, 0]);
    expect(at(s, 6, 'GUEST_ACTIVITY_STATE')).toBe(1);
    // STI; STI: exactly two guest instructions ran before the exit
    const guestSteps = rows(s).filter(
      (r) => r.step > entries(s)[5].step && r.step < x[5].step && s.sim.trace.level[r.step - 1] === 1,
    );
    expect(guestSteps.map((r) => r.rip)).toEqual([label(s, 'guest_sti_sti'), label(s, 'guest_sti_sti') + 1]);
  });
});

describe('kut-preemption-timer', () => {
  it.each([100, 7, 0])(
    'timer_value=%i: 52 before any instruction, 52 at the injected #DB’s handler (twice), 52 after value·32 cycles, from HLT, save',
    (value) => {
      const s = builtin('kut-preemption-timer', { timer_value: value });
      expectClean(s, 27);
      const all = exits(s);
      const e0 = entries(s);
      expect(all.map((r) => r.reason)).toEqual([52, 52, 52, 52, 0, 52, 52, 18, 52]);
      // vmx_preemption_timer_zero_test stages 2 and 3: pending debug exceptions B1 | bit 12 (no
      // injection) raise a #DB trap that is delivered before the timer exit, at its handler...
      expect(e0[3].injected).toBe(0);
      expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS', e0[3].step - 1)).toBe(0x1002);
      expect([all[3].reason, all[3].rip]).toEqual([52, label(s, 'guest_db')]);
      const db = deliveries(s).filter((d) => d.step > e0[3].step && d.step <= all[3].step);
      expect(db.map((d) => [d.vector, d.type, d.rip])).toEqual([
        [1, EventType.HW_EXCEPTION, label(s, 'guest')],
      ]);
      // ...and with #DB intercepted it exits first, with B1 in the exit qualification
      expect([all[4].intrInfo, all[4].rip, at(s, 4, 'EXIT_QUALIFICATION')]).toEqual([
        0x80000301,
        label(s, 'guest'),
        2,
      ]);
      expect(all[4].step).toBe(e0[4].step + 1);
      // the other stages as before
      const x = [...all.slice(0, 3), ...all.slice(5)];
      const e = [...e0.slice(0, 3), ...e0.slice(5)];
      const atx = (i: number, name: string) => field(s, name, x[i].step);
      // value 0: the exit is the step right after the VM entry
      expect([x[0].step, x[0].rip]).toEqual([e[0].step + 1, label(s, 'guest')]);
      // the #DB was injected (not intercepted, with and without #DB in the exception bitmap)
      // and the exit reports its handler
      for (const i of [1, 2]) {
        expect(e[i]).toMatchObject({ injected: 0x80000301, guestRip: label(s, 'guest_db') });
        expect([x[i].step, x[i].rip, atx(i, 'VM_EXIT_INTR_INFO')]).toEqual([
          e[i].step + 1,
          label(s, 'guest_db'),
          0,
        ]);
      }
      expect([field(s, 'EXCEPTION_BITMAP', e[1].step), field(s, 'EXCEPTION_BITMAP', e[2].step)]).toEqual([
        0, 2,
      ]);
      // stage 3: about value · 2^5 cycles of the guest's WORK; the field keeps the value
      const ran = time(s, x[3].step) - time(s, e[3].step - 1);
      expect(ran).toBeGreaterThan(Math.max(0, value - 1) * 32);
      expect(ran).toBeLessThanOrEqual(value * 32 + 2);
      expect(atx(3, 'VMX_PREEMPTION_TIMER_VALUE')).toBe(value);
      // stage 4 from HLT; stage 5 saves the remaining count; stage 6 counts it down to 0
      expect([atx(4, 'GUEST_ACTIVITY_STATE'), x[4].rip]).toEqual([1, label(s, 'after_hlt')]);
      const saved = atx(5, 'VMX_PREEMPTION_TIMER_VALUE');
      expect(saved).toBeGreaterThanOrEqual(992);
      expect(saved).toBeLessThan(1000);
      expect(atx(6, 'VMX_PREEMPTION_TIMER_VALUE')).toBe(0);
      const resumed = time(s, x[6].step) - time(s, e[6].step - 1);
      expect(resumed).toBeGreaterThan((saved - 1) * 32);
      expect(resumed).toBeLessThanOrEqual(saved * 32 + 1);
    },
  );
});

describe('kut-external-interrupt', () => {
  const apicAt = (s: Session, step: number) => s.view(step).levels[0].apic;
  const deliveries = (s: Session) =>
    rows(s)
      .filter((r) => r.kind === EventKind.DELIVER)
      .map((r) => [s.sim.trace.level[r.step - 1], r.d0 & 0xff, (r.d0 >>> 8) & 7]);

  it('ack_on_exit=true: exit 1 with 0x80000030 and the vector in the ISR; the guest takes 0x31 itself; 0x32 wakes HLT', () => {
    const s = builtin('kut-external-interrupt', { ack_on_exit: true });
    expectClean(s, 11);
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo])).toEqual([
      [1, 0x80000030],
      [18, 0],
      [1, 0x80000032],
    ]);
    expect(apicAt(s, x[0].step)).toMatchObject({ irr: [], isr: [0x30] });
    expect(x[0].rip).toBe(label(s, 'guest_work'));
    // the host runs its handler with INT 0x30 (a software interrupt); the guest's handler
    // gets 0x31 as an external interrupt through the guest IDT
    expect(deliveries(s)).toEqual([
      [0, 0x30, 4],
      [1, 0x31, 0],
    ]);
    expect(at(s, 2, 'GUEST_ACTIVITY_STATE')).toBe(1);
    expect(apicAt(s, s.totalSteps)).toMatchObject({ irr: [], isr: [] });
  });

  it('ack_on_exit=false: exit 1 with no vector, 0x30 stays in the IRR until the host’s STI', () => {
    const s = builtin('kut-external-interrupt', { ack_on_exit: false });
    expectClean(s, 12);
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo])).toEqual([
      [1, 0],
      [18, 0],
      [1, 0],
    ]);
    expect(apicAt(s, x[0].step)).toMatchObject({ irr: [0x30], isr: [] });
    expect(deliveries(s)).toEqual([
      [0, 0x30, 0],
      [1, 0x31, 0],
    ]);
    // taken after the NOP in STI's shadow: the pushed RIP is the CLI after it
    const hostIrq = rows(s).find((r) => r.kind === EventKind.DELIVER)!;
    const text = (addr: number) => s.compiled.programs[0].instrs.find((i) => i.addr === addr)?.text;
    expect([text(hostIrq.rip - 2), text(hostIrq.rip - 1), text(hostIrq.rip)]).toEqual(['sti', 'nop', 'cli']);
    expect(apicAt(s, s.totalSteps)).toMatchObject({ irr: [0x32], isr: [] });
  });
});

describe('kut-invalid-injection', () => {
  it('82 VMLAUNCHes fail with VMfailValid(7), 30 VM entries fail with 0x80000021, the last one injects', () => {
    const s = builtin('kut-invalid-injection');
    expectClean(s, 199, 1);
    const p = s.compiled.programs[0];
    const launches = rows(s).filter(
      (r) =>
        (r.kind === EventKind.INSTR || r.kind === EventKind.VMEXIT || r.kind === EventKind.VMENTRY) &&
        p.instrs[p.indexAt[r.rip - p.origin]]?.text === 'vmlaunch',
    );
    // an INSTR record for a VMLAUNCH that fell through: d1 = 2 is VMfailValid
    const failedValid = launches.filter((r) => r.kind === EventKind.INSTR);
    // 12 of its own cases and 70 more of test_invalid_event_injection: 8 types with vector 13,
    // 24 vectors with an error code they do not have, 19 reserved bits, 16 error-code bits,
    // 3 instruction lengths of 0xffffffff
    expect(failedValid).toHaveLength(82);
    expect(failedValid.every((r) => r.d1 === 2)).toBe(true);
    // the valid cases of test_invalid_event_injection (3, and 24 vectors) with GUEST_RFLAGS = 0,
    // then the three guest-state violations, then the valid injection
    expect(exits(s).map((e) => e.reason)).toEqual([...Array(30).fill(0x80000021), 18]);
    expect(entries(s)).toEqual([
      expect.objectContaining({ injected: 0x80000020, launch: true, guestRip: label(s, 'guest_irq') }),
    ]);
    expect(field(s, 'VM_INSTRUCTION_ERROR')).toBe(7);
    expect(field(s, 'GUEST_ACTIVITY_STATE')).toBe(0);
  });
});
