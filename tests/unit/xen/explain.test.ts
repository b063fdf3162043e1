// The explanations of the Xen model's decisions name the Xen function, its file, and the AMD
// APM section the decision relies on.
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { open } from '../helpers';
import { xenDecisions } from './xen-helpers';

describe('Xen explanations', () => {
  it('every Xen decision of the seed cites the Xen function and the APM', () => {
    for (const vnmi of [false, true]) {
      const s = open(findBuiltin('xen-svm-vnmi'), { vnmi });
      for (const d of xenDecisions(s)) {
        const e = s.view(d.step).explanation;
        expect(e.cite, `${d.fn} at ${d.step}`).toMatch(/^Xen xen\/(arch|common)\/.*\(\)/);
        expect(e.cite).toContain(`${d.fn.split(' ')[0]}()`);
        expect(e.text.length).toBeGreaterThan(20);
      }
    }
  });

  it('tells the legacy story: svm_inject_nmi with the IRET intercept, VMEXIT_IRET and the fake shadow', () => {
    const s = open(findBuiltin('xen-svm-vnmi'), { vnmi: false });
    const texts = xenDecisions(s).map((d) => s.view(d.step).explanation.text);
    expect(texts.some((t) => /EVENTINJ = 0x80000202 and the IRET intercept/.test(t))).toBe(true);
    expect(texts.some((t) => /VMEXIT_IRET: .*interrupt shadow \(int_state = 1\)/.test(t))).toBe(true);
    expect(texts.some((t) => /svm_enable_intr_window does nothing for an NMI/.test(t))).toBe(true);
    const assist = xenDecisions(s).find((d) => d.fn === 'svm_intr_assist')!;
    expect(s.view(assist.step).explanation.cite).toBe(
      'Xen xen/arch/x86/hvm/svm/intr.c svm_intr_assist(); AMD64 APM Vol. 2, "Secure Virtual Machine": "Event Injection", "Virtual Interrupts", "NMI Virtualization"',
    );
  });

  it('tells the vNMI story: V_NMI set, the short-circuit; VMEXIT_INVALID names the rule', () => {
    const s = open(findBuiltin('xen-svm-vnmi'));
    const texts = xenDecisions(s).map((d) => s.view(d.step).explanation.text);
    expect(texts.some((t) => /only V_NMI is set/.test(t))).toBe(true);
    expect(texts.some((t) => /short-circuits the NMI shadow/.test(t))).toBe(true);
    const bad = open(findBuiltin('xen-svm-vnmi'), { nmi_intercept: false });
    const crash = xenDecisions(bad).at(-1)!;
    expect(bad.view(crash.step).explanation.text).toMatch(
      /V_NMI_ENABLE is legal only with the NMI intercept/,
    );
  });
});
