// The svm-* built-ins (kvm-unit-tests x86/svm_tests.c shapes) teach their lessons because the
// SVM model behaves that way: every assert passes, and the exits and deliveries are the ones
// the description promises.
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { deliveries, label, open } from '../helpers';
import { svmExits } from './svm-helpers';

function builtin(name: string, params: Record<string, ParamValue> = {}) {
  const doc = findBuiltin(name);
  if (!doc) throw new Error(`no built-in ${name}`);
  return open(doc, params);
}

function allPass(s: ReturnType<typeof builtin>) {
  expect(s.assertions.length).toBeGreaterThan(0);
  expect(s.assertions.filter((a) => !a.passed).map((a) => a.message)).toEqual([]);
  expect(s.sim.endReason).toBe('halted');
}

describe('svm-virq', () => {
  it('VINTR exit first, then V_IRQ delivered, held below V_TPR, delivered with V_IGN_TPR', () => {
    const s = builtin('svm-virq');
    allPass(s);
    expect(svmExits(s).map((e) => e.code)).toEqual([0x64, 0x81, 0x81, 0x81]);
    expect(svmExits(s)[0].rip).toBe(label(s, 'guest_vintr'));
    expect(deliveries(s).map((d) => [d.vector, d.handler])).toEqual([
      [0xf1, label(s, 'virq_isr')],
      [0xf1, label(s, 'virq_isr')],
    ]);
  });
});

describe('svm-vnmi', () => {
  it('vNMI: VMEXIT_INVALID without the NMI intercept, then the NMI taken with one exit and no IRET intercept', () => {
    const s = builtin('svm-vnmi');
    allPass(s);
    expect(svmExits(s).map((e) => [e.code, e.level])).toEqual([
      [-1, 0],
      [0x81, 1],
    ]);
    expect(deliveries(s).map((d) => d.vector)).toEqual([2]);
  });

  it('legacy: the injected NMI needs the IRET intercept, one exit more', () => {
    const s = builtin('svm-vnmi', { legacy: true });
    allPass(s);
    expect(svmExits(s).map((e) => e.code)).toEqual([-1, 0x74, 0x81]);
    const iret = s.compiled.programs[0].instrs.find((i) => i.text === 'iretq')!;
    expect(svmExits(s)[1].rip).toBe(iret.addr);
    expect(iret.addr).toBeGreaterThan(label(s, 'guest_nmi'));
  });
});

describe('svm-intr-gif', () => {
  it('INTR and NMI exits leave their events pending; the host takes them at STGI', () => {
    const s = builtin('svm-intr-gif');
    allPass(s);
    expect(svmExits(s).map((e) => e.code)).toEqual([0x60, 0x61]);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.handler])).toEqual([
      [0x30, label(s, 'host_irq')],
      [2, label(s, 'host_nmi')],
    ]);
  });
});

describe('svm-event-inj', () => {
  it('an interrupt pending at VMRUN exits before the first guest instruction; EVENTINJ vector 2 fails, #DE is delivered', () => {
    const s = builtin('svm-event-inj');
    allPass(s);
    const e = svmExits(s);
    expect(e.map((x) => [x.code, x.level])).toEqual([
      [0x60, 1],
      [-1, 0],
      [0x81, 1],
    ]);
    expect(e[0].rip).toBe(label(s, 'guest'));
    expect(deliveries(s).map((d) => [d.vector, d.handler])).toEqual([[0x30, label(s, 'host_irq')]]);
  });
});
