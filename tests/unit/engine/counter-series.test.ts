// Counter-track series: the watched value at step 0 and at every step it changed, by replaying
// the run; one-bit targets are 'bit' tracks, wider ones 'value' tracks; what is not a value is
// an error naming the forms.
import { describe, expect, it } from 'vitest';
import { counterSeries } from '../../../src/core/engine/counter-series';
import { runQuery, sessionRun } from '../../../src/core/engine/search';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { open } from '../helpers';

const softVnmi = () => sessionRun(open(findBuiltin('soft-vnmi')));

function series(run: ReturnType<typeof softVnmi>, query: string) {
  const a = counterSeries(run, query);
  if (!a.ok) throw new Error(a.error.message);
  return a.series;
}

describe('counter series', () => {
  const run = softVnmi();

  it('a flag of a level: a bit track whose changes are the search’s', () => {
    const s = series(run, 'RFLAGS.IF of L1');
    expect(s).toMatchObject({ label: 'RFLAGS.IF of L1', shape: 'bit', truncated: false, min: 0, max: 1 });
    expect(s.steps[0]).toBe(0);
    const search = runQuery(run, 'RFLAGS.IF of L1');
    if (!search.ok || search.kind !== 'results') throw new Error('search failed');
    expect(s.steps.slice(1)).toEqual(search.steps);
    // Each change flips the bit.
    for (let i = 1; i < s.values.length; i++) expect(s.values[i]).toBe(1 - s.values[i - 1]!);
  });

  it('a KVM time is a value track in decimal; a KVM flag a bit track', () => {
    const t = series(run, 'vnmi_blocked_time');
    expect(t).toMatchObject({ shape: 'value', decimal: true, label: 'vnmi_blocked_time of L0' });
    expect(t.max).toBeGreaterThan(0);
    expect(series(run, 'soft_vnmi_blocked')).toMatchObject({ shape: 'bit', max: 1 });
  });

  it('a VMCS bit and a register', () => {
    expect(series(run, 'GUEST_INTERRUPTIBILITY_INFO.NMI').shape).toBe('bit');
    const rip = series(run, 'RIP of L1');
    expect(rip.shape).toBe('value');
    expect(rip.steps.length).toBeGreaterThan(10);
  });

  it('what is not a value is an error', () => {
    const a = counterSeries(run, 'exit 7');
    expect(a.ok).toBe(false);
    if (!a.ok) expect(a.error.message).toMatch(/not a value: a counter track watches a register or flag/);
    const b = counterSeries(run, 'RFLAGS.IF of L9');
    expect(b.ok).toBe(false);
    if (!b.ok) expect(b.error.message).toMatch(/L0 to L1/);
  });
});

describe('VMCB and APIC targets', () => {
  it('a VMCB bit: V_NMI_MASK of the processor’s VMCB in svm-vnmi, set at the delivery, cleared by the IRET', () => {
    const run = sessionRun(open(findBuiltin('svm-vnmi')));
    const s = series(run, 'int_ctl.V_NMI_MASK');
    expect(s).toMatchObject({ label: "int_ctl.V_NMI_MASK of the processor's VMCB", shape: 'bit' });
    // No VMCB before the first VMRUN, then 0, 1 at the virtual NMI's delivery, 0 after the IRET.
    expect(s.values).toEqual([null, 0, 1, 0]);
    const found = runQuery(run, 'int_ctl.V_NMI_MASK changed');
    if (!found.ok || found.kind !== 'results') throw new Error('search failed');
    expect(found.steps).toEqual(s.steps.slice(1));
    expect(series(run, 'rip in vmcb01').label).toBe('rip of vmcb01');
    // Without `in vmcb01`, rip is the level's register.
    expect(series(run, 'rip').label).toMatch(/^RIP of L1$/);
    const bad = counterSeries(run, 'int_ctl.V_NMI_MASKED');
    expect(bad.ok).toBe(false);
    if (!bad.ok)
      expect(bad.error.message).toMatch(/int_ctl has no bit 'V_NMI_MASKED'; its bits are V_TPR, V_IRQ/);
  });

  it('a vector of a level’s APIC IRR and ISR', () => {
    const run = sessionRun(open(findBuiltin('soft-vnmi')));
    const irr = runQuery(run, 'IRR[0x30] of L1');
    expect(irr.ok).toBe(true);
    const bad = counterSeries(run, 'IRR[0x130]');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/0 to 255/);
    const s = series(run, 'ISR.0x30 of L1');
    expect(s).toMatchObject({ label: 'ISR[0x30] of L1', shape: 'bit' });
  });
});
