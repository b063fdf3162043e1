// Nesting transparency: a kvm-unit-tests-style hypervisor program must not be able to tell
// bare metal from running as L1 under KVM, except where KVM's emulation really differs from
// the processor. Every 'kut-*' built-in runs on bare metal and one level up under KVM
// (nestUnderKvm, as `npm run sim -- NAME --nest kvm`); its assertion results (message and
// pass/fail, in order) and the sequence of exit reasons its hypervisor sees must be the same,
// but for the differences listed below, each with its reason.
import { describe, expect, it } from 'vitest';
import type { LabSession } from '../../../src/core/engine/session';
import { BUILTIN_SCENARIOS } from '../../../src/core/scenario/builtins';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { open } from '../helpers';
import { EventKind, ExitReason, l1Exits, nrows } from './nested-helpers';

interface Doc {
  name: string;
  params?: Record<string, { type: string; default: ParamValue; choices?: ParamValue[] }>;
}

/** A difference the nested run shows: this assertion passes on bare metal and not under KVM. */
interface KnownDifference {
  scenario: string;
  message: RegExp;
  /**
   * Under KVM the assertion fails, or is never reached, or is not run because the test finds a
   * feature missing and reports `skip` instead (the skip's message: `skip`).
   */
  nested: 'fails' | 'missing' | 'skipped';
  skip?: RegExp;
}

/**
 * The known differences, each a real behaviour of KVM's nested VMX (or of emulating L1's
 * timer), not of the hardware model.
 */
const KNOWN: KnownDifference[] = [
  // KVM never runs L2 in the HLT activity state: nested_vmx_run enters a halted L2 that has
  // NMI-window exiting as active (vmcs02 GUEST_ACTIVITY_STATE 0; only a halted L2 that nothing
  // can wake is halted by KVM itself, kvm_emulate_halt_noskip). So stage 5's NMI-window exit
  // reports ACTIVE, and in stage 6 (virtual-NMI blocking, so no NMI window) L2 runs to its
  // VMCALL instead of sleeping until the preemption timer. A real KVM behaviour.
  {
    scenario: 'kut-nmi-window',
    message: /^stage 5: the guest was still in HLT at the exit$/,
    nested: 'fails',
  },
  {
    scenario: 'kut-nmi-window',
    message: /^stage 6: no NMI-window exit while blocked; the timer exit instead$/,
    nested: 'fails',
  },
  {
    scenario: 'kut-nmi-window',
    message: /^stage 6: the guest slept in HLT until the timer expired$/,
    nested: 'fails',
  },
  // The emulated timer (an hrtimer started by nested_vmx_run) expires in L0, and the exit L1
  // sees comes only after L0's exit handling (the kick, vmx_check_nested_events, the emulated
  // exit): L1's RDTSC-measured ticks, and the count saved by "save VMX-preemption timer value",
  // include L0's time.
  { scenario: 'kut-preemption-timer', message: /^stage 3: right after \d+ ticks$/, nested: 'fails' },
  { scenario: 'kut-preemption-timer', message: /^stage 5: by about 200 \/ 32 ticks$/, nested: 'fails' },
  // KVM's CPUID hides MONITOR/MWAIT from its guest (kvm_set_cpu_caps leaves CPUID.01H:ECX[3]
  // clear), so L1 finds the feature missing and skips the MWAIT and MONITOR rows of the
  // instruction-intercept table, as insn_intercept_main does with monitor_supported.
  {
    scenario: 'kut-insn-intercept',
    message: /^(execute|intercept) MWAIT/,
    nested: 'skipped',
    skip: /^Feature required for MWAIT is not supported$/,
  },
  {
    scenario: 'kut-insn-intercept',
    message: /^(execute|intercept) MONITOR/,
    nested: 'skipped',
    skip: /^Feature required for MONITOR is not supported$/,
  },
  // vmx_db_test's "software synthesized single-step in MOVSS shadow" (kvm-unit-tests expects
  // these two checks to fail under KVM: report_xfail): L0 emulates L2's WBINVD, and
  // kvm_skip_emulated_instruction → kvm_vcpu_do_singlestep queues a #DB with payload DR6_BS
  // only; nested_vmx_inject_exception_vmexit makes that payload the exit qualification (not
  // BS | B0), and the pending debug exceptions of the MOV-SS shadow stay in vmcs12.
  { scenario: 'kut-db', message: /^stage 4: Expected pending debug exceptions 0$/, nested: 'fails' },
  { scenario: 'kut-db', message: /^stage 4: Expected exit qualification BS \| B0$/, nested: 'fails' },
];

/**
 * Found while writing these tests and reported (not part of the list the tests were specified
 * with): stage 7 of kut-intr-window never ends under KVM. L2 executes STI; HLT with vmcs12's
 * interrupt-window exiting and without HLT exiting; the HLT exits to L0 (vmcs01's HLT exiting
 * is merged into vmcs02), L1 does not want it (nested_vmx_l1_wants_exit), so L0 emulates the
 * halt (kvm_emulate_halt). A halted vCPU runs again only for kvm_vcpu_has_events, and neither
 * it nor vmx_has_nested_events (preemption timer, MTF) looks at vmcs12's interrupt window:
 * nothing wakes L2, the window exit L1 waits for never comes, and its three stage-7 assertions
 * are never reached. Linux's kvm_vcpu_has_events reads the same way, so this looks like a
 * real KVM behaviour, not a model bug.
 */
const REPORTED: KnownDifference[] = [
  { scenario: 'kut-intr-window', message: /^stage 7: interrupt-window exit from HLT$/, nested: 'missing' },
  { scenario: 'kut-intr-window', message: /^stage 7: the guest was in HLT at the exit$/, nested: 'missing' },
  { scenario: 'kut-intr-window', message: /^stage 7: RIP is past the HLT$/, nested: 'missing' },
];

const DIFFERENCES = [...KNOWN, ...REPORTED];

/**
 * The exit reasons the hypervisor sees under KVM, from the ones it sees on bare metal, where the
 * differences above change them.
 */
const EXIT_DIFFERENCES: Record<string, (bare: number[]) => number[]> = {
  // Stage 6: L2 runs to its VMCALL (18) instead of sleeping until the timer (52).
  'kut-nmi-window': (bare) => {
    expect(bare[5]).toBe(ExitReason.PREEMPTION_TIMER);
    return [...bare.slice(0, 5), ExitReason.VMCALL, ...bare.slice(6)];
  },
  // Stage 7's interrupt-window exit (the last one) never comes.
  'kut-intr-window': (bare) => {
    expect(bare[bare.length - 1]).toBe(ExitReason.INTERRUPT_WINDOW);
    return bare.slice(0, -1);
  },
  // The MWAIT and MONITOR rows are skipped: neither their VMCALL (the instruction run without
  // its control) nor their exit.
  'kut-insn-intercept': (bare) => {
    const out = [...bare];
    for (const reason of [ExitReason.MWAIT, ExitReason.MONITOR]) {
      const i = out.indexOf(reason);
      expect(out[i - 1]).toBe(ExitReason.VMCALL);
      out.splice(i - 1, 2);
    }
    return out;
  },
};

type Result = { message: string; passed: boolean; skipped: boolean };

/** The assertions in order; a `skip` (kvm-unit-tests' report_skip) is neither a pass nor a failure. */
const results = (s: LabSession): Result[] =>
  s.assertions.map((a) => ({ message: a.message, passed: a.passed, skipped: a.skipped }));

/** Bare metal: the exits of the guest lane, and VM-entry failures (recorded at the host's lane). */
function bareExitReasons(s: LabSession): number[] {
  return nrows(s)
    .filter((r) => r.kind === EventKind.VMEXIT && (r.level === 1 || (r.level === 0 && r.d0 & 0x80000000)))
    .map((r) => r.d0 >>> 0);
}

/** Number parameters to run at other values too. */
const NUMBER_VARIANTS: Record<string, Record<string, ParamValue>[]> = {
  'kut-preemption-timer': [{ timer_value: 0 }, { timer_value: 7 }],
  'kut-preemption-timer-tf': [{ iterations: 10 }],
  'kut-preemption-timer-expiry': [{ cycles: 320 }, { cycles: 10000 }],
};

/**
 * Each built-in's default run, one run per other value of a boolean or choice parameter, and
 * the number values above.
 */
function variants(doc: Doc): Record<string, ParamValue>[] {
  const out: Record<string, ParamValue>[] = [{}, ...(NUMBER_VARIANTS[doc.name] ?? [])];
  for (const [key, p] of Object.entries(doc.params ?? {})) {
    if (p.type === 'boolean') out.push({ [key]: !p.default });
    else if (p.choices) for (const c of p.choices) if (c !== p.default) out.push({ [key]: c });
  }
  return out;
}

const KUT = (BUILTIN_SCENARIOS as Doc[]).filter((d) => d.name.startsWith('kut-'));

describe('nesting transparency of the kvm-unit-tests built-ins', () => {
  it('there are kut-* built-ins, and every difference names one of them', () => {
    expect(KUT.length).toBeGreaterThanOrEqual(5);
    for (const d of DIFFERENCES) expect(KUT.map((k) => k.name)).toContain(d.scenario);
  });

  for (const doc of KUT) {
    for (const params of variants(doc)) {
      const label = `${doc.name}${Object.keys(params).length ? ' ' + JSON.stringify(params) : ''}`;
      describe(label, () => {
        const bare = open(doc, params);
        const nested = open(nestUnderKvm(doc), params);
        const diffs = DIFFERENCES.filter((d) => d.scenario === doc.name);
        const isKnown = (r: Result) =>
          diffs.some((d) => d.message.test(r.message) || (d.skip?.test(r.message) ?? false));

        it('both runs end without an error or a limit', () => {
          expect(bare.runError()).toBeNull();
          expect(nested.runError()).toBeNull();
          expect(nested.compiled.lanes.map((l) => l.kind)).toEqual(['kvm', 'guest', 'guest']);
        });

        it('the assertion results are identical but for the listed differences', () => {
          expect(results(bare).every((r) => r.passed || r.skipped)).toBe(true);
          expect(results(nested).filter((r) => !isKnown(r))).toEqual(
            results(bare).filter((r) => !isKnown(r)),
          );
        });

        it('each listed difference shows exactly as documented', () => {
          for (const d of diffs) {
            const b = results(bare).filter((r) => d.message.test(r.message));
            const n = results(nested).filter((r) => d.message.test(r.message));
            if (d.nested === 'skipped') {
              // Every matching assertion passes on bare metal; under KVM none runs, one skip does.
              expect(b.length, `${d.message} on bare metal`).toBeGreaterThan(0);
              expect(b.every((r) => r.passed)).toBe(true);
              expect(n, `${d.message} under KVM`).toEqual([]);
              const skip = d.skip ?? /$^/;
              expect(results(bare).filter((r) => skip.test(r.message))).toEqual([]);
              expect(results(nested).filter((r) => skip.test(r.message))).toEqual([
                expect.objectContaining({ skipped: true }),
              ]);
              continue;
            }
            expect(b, `${d.message} on bare metal`).toEqual([expect.objectContaining({ passed: true })]);
            if (d.nested === 'missing') expect(n, `${d.message} under KVM`).toEqual([]);
            else expect(n, `${d.message} under KVM`).toEqual([expect.objectContaining({ passed: false })]);
          }
        });

        it('both reach the end the built-in expects (limits.expectEnd), but where a difference leaves stages unrun', () => {
          const missing = diffs.some((d) => d.nested === 'missing');
          expect(bare.expectedEnd()).toMatchObject({ label: 'tests_done', level: 0, reached: true });
          expect(nested.expectedEnd()).toMatchObject({ label: 'tests_done', level: 1, reached: !missing });
        });

        it('the hypervisor sees the same exit reasons, in order', () => {
          const b = bareExitReasons(bare);
          const expected = EXIT_DIFFERENCES[doc.name]?.(b) ?? b;
          expect(l1Exits(nested).map((e) => e.reason)).toEqual(expected);
        });
      });
    }
  }
});
