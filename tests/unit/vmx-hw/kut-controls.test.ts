// The kvm-unit-tests style built-ins of the instruction-intercept table and of
// vmx_controls_test's guest-state checks (kut-insn-intercept, kut-guest-state): each passes its
// own asserts, and what they teach is checked here from the trace — exit reasons in order, the
// saved guest RIPs, lengths and qualifications, VM-entry failures.
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

/** No run error, every assert passed or was skipped, and the run reached tests_done. */
function expectClean(s: Session, passes: number, skips: number) {
  expect(s.runError()).toBeNull();
  expect(s.assertions.filter((a) => !a.passed && !a.skipped).map((a) => a.message)).toEqual([]);
  expect(s.assertions.filter((a) => a.passed)).toHaveLength(passes);
  expect(s.assertions.filter((a) => a.skipped)).toHaveLength(skips);
  expect(s.expectedEnd()).toMatchObject({ label: 'tests_done', reached: true });
}

describe('kut-insn-intercept', () => {
  const s = builtin('kut-insn-intercept');

  it('passes every row; the DESC_TABLE rows and RDSEED are skips (controls not offered)', () => {
    expectClean(s, 60, 8);
    expect(s.assertions.filter((a) => a.skipped).map((a) => a.message)).toEqual([
      ...['SGDT', 'LGDT', 'SIDT', 'LIDT', 'SLDT', 'LLDT', 'STR'].map(
        (i) => `CPU_CTRL1.CPU_DESC_TABLE (${i}) is not supported`,
      ),
      'CPU_CTRL1.CPU_RDSEED is not supported',
    ]);
  });

  it('each row: without its control the guest reaches its VMCALL; with it the row exits', () => {
    const V = 18;
    expect(exits(s).map((x) => x.reason)).toEqual([
      V, // the first entry
      12, // HLT (not run without its control)
      ...[14, 36, 15, 16, 28, 28, 28, 28, 39, 40, 54, 57].flatMap((r) => [V, r]),
      10, // CPUID, INVD: always
      13,
    ]);
  });

  it('the intercepted instruction is at GUEST_RIP, with its length and qualification', () => {
    const byLabel = (name: string) => {
      const x = exits(s).find((e) => e.reason !== 18 && e.rip === label(s, name));
      if (!x) throw new Error(`no exit at ${name}`);
      return [x.reason, field(s, 'VM_EXIT_INSTRUCTION_LEN', x.step), field(s, 'EXIT_QUALIFICATION', x.step)];
    };
    expect(byLabel('i_invlpg')).toEqual([14, 7, 0x12345678]);
    expect(byLabel('i_cr3_load')).toEqual([28, 3, 0x3]);
    expect(byLabel('i_cr3_store')).toEqual([28, 3, 0x13]);
    expect(byLabel('i_cr8_load')).toEqual([28, 4, 0x8]);
    expect(byLabel('i_cr8_store')).toEqual([28, 4, 0x18]);
    expect(byLabel('i_mwait')).toEqual([36, 3, 0]);
    expect(byLabel('i_rdrand')).toEqual([57, 4, 0]);
    expect(byLabel('i_cpuid')).toEqual([10, 2, 0]);
    expect(byLabel('i_invd')).toEqual([13, 2, 0]);
  });
});

describe('kut-guest-state', () => {
  const s = builtin('kut-guest-state');
  const FAILED = 0x80000021;

  it('passes every case; the load-PAT/EFER/PERF_GLOBAL_CTRL/BNDCFGS and segment tests are skips', () => {
    expectClean(s, 228, 6);
  });

  it('every failed entry is exit 0x80000021 with qualification 0 and enters nothing', () => {
    const x = exits(s);
    const failed = x.filter((e) => e.reason === FAILED);
    expect(failed).toHaveLength(92);
    for (const f of failed) expect(field(s, 'EXIT_QUALIFICATION', f.step)).toBe(0);
    expect(x.filter((e) => e.reason === 18)).toHaveLength(43);
    expect(x.every((e) => e.reason === FAILED || e.reason === 18)).toBe(true);
    // only the successful entries enter the guest
    expect(entries(s)).toHaveLength(43);
  });

  it("test_guest_dr7 with 'load debug controls': bits 0-31 enter, bits 32-63 fail", () => {
    const x = exits(s);
    const sysenter = 4; // stage 1: ok, fail, ok, fail
    const dr7 = x.slice(sysenter, sysenter + 64).map((e) => e.reason);
    expect(dr7).toEqual([...Array(32).fill(18), ...Array(32).fill(FAILED)]);
  });

  it('TF = 1 with BS = 1 in blocking by STI: the entry succeeds and #DB is delivered at once', () => {
    const d = deliveries(s);
    expect(d.map((r) => [r.vector, r.type])).toEqual([[1, EventType.HW_EXCEPTION]]);
    const last = exits(s).at(-1)!;
    expect([last.reason, last.rip]).toEqual([18, label(s, 'guest_db')]);
  });
});
