// "Why" for Xen's decisions (seed 004, xen-svm-vnmi): svm_intr_assist notes v->arch.nmi_pending,
// whether it runs with vNMI, and the VMCB bits of its NMI shadow — V_NMI_MASK with vNMI, the
// IRET intercept (the fake shadow) without — each with the step that set it.
import { describe, expect, it } from 'vitest';
import { causesOf } from '../../../src/core/causes/causes';
import { EventKind } from '../../../src/core/engine/view';
import { Assist, XEN_FN_BASE, XenFn } from '../../../src/core/hypervisors/xen/functions';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { open, rows } from '../helpers';

function assists(vnmi: boolean) {
  const s = open(findBuiltin('xen-svm-vnmi'), { vnmi });
  const steps = rows(s).filter(
    (r) => r.kind === EventKind.DECISION && r.d0 === XEN_FN_BASE + XenFn.svm_intr_assist,
  );
  return { s, steps };
}

describe('causes of svm_intr_assist', () => {
  it('with vNMI: the second NMI is handed to V_NMI while V_NMI_MASK is set (the short-circuit)', () => {
    const { s, steps } = assists(true);
    const short = steps.find((r) => r.d1 & Assist.SHORT_CIRCUIT)!;
    expect(short).toBeDefined();
    const v = causesOf(s, short.step);
    const byLabel = Object.fromEntries(v.inputs.map((i) => [i.label, i]));
    expect(byLabel['nmi_pending of Xen L0']).toMatchObject({ value: '1', by: 'Xen L0', decides: true });
    expect(byLabel['vnmi of Xen L0']).toMatchObject({ value: '1' });
    const mask = v.inputs.find((i) => i.label.startsWith("int_ctl.V_NMI_MASK of Xen's VMCB"))!;
    expect(mask).toMatchObject({ value: '1', by: 'Xen L0' });
    // Set by the hardware taking the first NMI and the #VMEXIT writing int_ctl back: a step
    // before this one, after the first VMRUN.
    expect(mask.setBy).not.toBeNull();
    expect(mask.setBy!.step).toBeLessThan(short.step);
  });

  it('without vNMI: the IRET intercept is the NMI shadow Xen reads, set by svm_inject_nmi', () => {
    const { s, steps } = assists(false);
    const blocked = steps.find((r) => (r.d2 >>> 8) & 0xff)!;
    expect(blocked).toBeDefined();
    const v = causesOf(s, blocked.step);
    const iret = v.inputs.find((i) =>
      i.label.startsWith("intercept IRET (the fake NMI shadow) of Xen's VMCB"),
    )!;
    expect(iret).toMatchObject({ value: '1', by: 'Xen L0', decides: true });
    expect(iret.setBy!.actor).toMatch(/svm_intr_assist|svm_inject_nmi/);
    expect(v.inputs.find((i) => i.label === 'vnmi of Xen L0')).toMatchObject({ value: '0' });
  });
});
