// The kvm-unit-tests style #DB and exception built-ins (kut-db: vmx_db_test; kut-exception:
// vmx_exception_test): each passes its own asserts, and the facts they check are checked here
// from the trace — exit reasons and interruption information, GUEST_RIP, exit qualifications,
// DR6, and what the guest's IDT delivered.
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { EventType, deliveries, label, open } from '../helpers';
import { entries, exits, field } from './vmx-helpers';

function builtin(name: string) {
  const doc = findBuiltin(name);
  if (!doc) throw new Error(`no built-in ${name}`);
  return open(doc);
}

type Session = ReturnType<typeof builtin>;

function expectClean(s: Session, passes: number, skips: number) {
  expect(s.runError()).toBeNull();
  expect(s.sim.endReason).toBe('halted');
  expect(s.assertions.filter((a) => !a.passed && !a.skipped).map((a) => a.message)).toEqual([]);
  expect(s.assertions.filter((a) => a.passed)).toHaveLength(passes);
  expect(s.assertions.filter((a) => a.skipped)).toHaveLength(skips);
  expect(s.expectedEnd()).toMatchObject({ label: 'tests_done', reached: true });
}

const guestDeliveries = (s: Session) => deliveries(s).filter((d) => s.sim.trace.level[d.step - 1] === 1);

describe('kut-db', () => {
  const s = builtin('kut-db');

  it('passes every check of vmx_db_test it expresses; the RTM stage is skipped', () => {
    expectClean(s, 47, 1);
    expect(s.assertions.find((a) => a.skipped)?.message).toMatch(/^stage 5: .*RTM/);
  });

  it('each #DB exit: its interruption information, RIP and exit qualification', () => {
    const db = exits(s).filter((x) => x.reason === 0);
    expect(
      db.map((x) => [
        x.intrInfo,
        x.rip,
        field(s, 'EXIT_QUALIFICATION', x.step),
        field(s, 'GUEST_PENDING_DBG_EXCEPTIONS', x.step),
      ]),
    ).toEqual([
      [0x80000301, label(s, 'post_nop'), 0x4000, 0], // single-step: BS
      [0x80000301, label(s, 'post_movss_nop'), 0x4001, 0], // + the MOV-SS pending B0
      [0x80000301, label(s, 'post_wbinvd'), 0x4000, 0],
      [0x80000301, label(s, 'post_movss_wbinvd'), 0x4001, 0],
      [0x80000501, label(s, 'guest_int1'), 0, 0], // ICEBP: type 5, no DR6 bits
      [0x80000301, label(s, 'bp_target'), 0x1, 0], // instruction breakpoint 0, fault-like
    ]);
    expect(field(s, 'VM_EXIT_INSTRUCTION_LEN', db[4].step)).toBe(1);
  });

  it('the MOV-SS stages enter with BS | bit 12 | B0 pending and blocking by MOV SS; one instruction runs', () => {
    const e = entries(s);
    const db = exits(s).filter((x) => x.reason === 0);
    for (const x of [db[1], db[3]]) {
      const entry = e.filter((r) => r.step < x.step).pop()!;
      expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS', entry.step - 1)).toBe(0x5001);
      expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO', entry.step - 1)).toBe(2);
      // the shadow holds the trap over one instruction (the NOP or WBINVD), then the #DB exits
      expect(x.step).toBe(entry.step + 2);
    }
  });

  it('an intercepted #DB leaves DR6 as the hypervisor wrote it', () => {
    const written = exits(s)[0].step + 1;
    const dr6 = (n: number) => s.sim.stateAt(n).cpu.dr[12];
    expect(dr6(written - 1)).toBe(0xffff0ff0);
    const after = exits(s).filter((x) => x.reason === 0 && x.step > written);
    expect(after).toHaveLength(6);
    for (const x of after) expect(dr6(x.step)).toBe(0xffff4ffa);
  });

  it('the re-injected INT1 is delivered in the guest as type 5, returning after the INT1', () => {
    const e = entries(s).find((r) => r.injected === 0x80000501)!;
    expect(e.guestRip).toBe(label(s, 'guest_db'));
    expect(field(s, 'VM_ENTRY_INSTRUCTION_LEN', e.step)).toBe(1);
    expect(guestDeliveries(s)).toEqual([]); // the VM entry itself delivered it
  });

  it('RF = 1 steps over the instruction breakpoint', () => {
    const x = exits(s);
    const bp = x.findIndex((r) => r.reason === 0 && r.rip === label(s, 'bp_target'));
    expect(field(s, 'GUEST_RFLAGS', x[bp + 1].step - 1) & 0x10000).toBe(0x10000);
    expect([x[bp + 1].reason, x[bp + 1].rip]).toEqual([18, label(s, 'bp_target') + 7]);
  });
});

describe('kut-exception', () => {
  const s = builtin('kut-exception');

  it('every exception is handled in L2, then intercepted by L1; #OF and #AC are skipped', () => {
    expectClean(s, 41, 2);
    expect(s.assertions.filter((a) => a.skipped).map((a) => a.message.slice(0, 4))).toEqual(['#OF:', '#AC:']);
  });

  it('the exits through the exception bitmap: vector, type, error code, RIP and length', () => {
    const x = exits(s).filter((r) => r.reason === 0);
    expect(x.map((r) => [r.intrInfo, r.rip])).toEqual([
      [0x80000b0d, label(s, 'gp_insn')], // #GP(0): with an error code
      [0x80000306, label(s, 'test_ud')],
      [0x80000300, label(s, 'de_insn')],
      [0x80000301, label(s, 'db_after')], // single-step: a trap
      [0x80000501, label(s, 'test_int1')], // INT1: type 5
      [0x80000603, label(s, 'test_bp')], // INT3: type 6
      [0x80000306, label(s, 'into_insn')], // INTO in 64-bit mode: #UD, not #OF
    ]);
    expect(field(s, 'VM_EXIT_INTR_ERROR_CODE', x[0].step)).toBe(0);
    expect(field(s, 'EXIT_QUALIFICATION', x[3].step)).toBe(0x4000);
    expect([x[4], x[5]].map((r) => field(s, 'VM_EXIT_INSTRUCTION_LEN', r.step))).toEqual([1, 1]);
    // each ran with only its own bit in the exception bitmap
    expect(x.map((r) => field(s, 'EXCEPTION_BITMAP', r.step))).toEqual([
      0x2000, 0x40, 0x1, 0x2, 0x2, 0x8, 0x50,
    ]);
  });

  it('with the bit clear, the guest IDT delivers each exception', () => {
    const d = guestDeliveries(s);
    expect(d.map((r) => [r.vector, r.type, r.rip])).toEqual([
      [13, EventType.HW_EXCEPTION, label(s, 'gp_insn')],
      [6, EventType.HW_EXCEPTION, label(s, 'test_ud')],
      [0, EventType.HW_EXCEPTION, label(s, 'de_insn')],
      [1, EventType.HW_EXCEPTION, label(s, 'db_after')],
      [1, EventType.PRIV_SW_EXCEPTION, label(s, 'test_int1') + 1],
      [3, EventType.SW_EXCEPTION, label(s, 'test_bp') + 1],
    ]);
    expect([d[0].errValid, d[0].errorCode]).toEqual([true, 0]);
  });
});
