// The kvm-unit-tests style built-ins of the instruction-intercept table and of
// vmx_controls_test's guest-state checks (kut-insn-intercept, kut-guest-state): each passes its
// own asserts, and what they teach is checked here from the trace — exit reasons in order, the
// saved guest RIPs, lengths and qualifications, VM-entry failures.
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { label, open } from '../helpers';
import { exits, field } from './vmx-helpers';

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
