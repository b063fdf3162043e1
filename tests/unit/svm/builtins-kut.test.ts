// The svm-* built-ins added for issue 7 item 8 (kvm-unit-tests x86/svm_tests.c shapes): every
// assert passes, and the exits, their codes, RIPs and EXITINTINFO, and the deliveries are the
// ones each description promises.
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { deliveries, label, open } from '../helpers';
import { svmExits, vmcb, vmruns } from './svm-helpers';

function builtin(name: string) {
  const doc = findBuiltin(name);
  if (!doc) throw new Error(`no built-in ${name}`);
  const s = open(doc);
  expect(s.assertions.length).toBeGreaterThan(0);
  expect(s.assertions.filter((a) => !a.passed).map((a) => a.message)).toEqual([]);
  expect(s.sim.endReason).toBe('halted');
  return s;
}

/** The address of the instruction after the one at `lbl` (labels at data-less lines). */
function after(s: ReturnType<typeof builtin>, lbl: string): number {
  const i = s.compiled.programs[0].instrs.find((x) => x.addr === label(s, lbl))!;
  return i.addr + i.len;
}

describe('svm-v-intr-masking', () => {
  it('V_INTR_MASKING = 0: the guest takes the pending IRQ after its STI; = 1: the host takes it after the exit', () => {
    const s = builtin('svm-v-intr-masking');
    expect(svmExits(s).map((e) => [e.code, e.level])).toEqual([
      [0x81, 1],
      [0x81, 1],
    ]);
    expect(deliveries(s).map((d) => [d.vector, d.handler, d.rip])).toEqual([
      [0xf1, label(s, 'guest_irq'), after(s, 'guest_sti1')],
      [0xf1, label(s, 'host_irq'), after(s, 'host_takes')],
    ]);
  });
});

describe('svm-virq-shadow', () => {
  it('int_state holds V_IRQ for one instruction; the VINTR exit waits the same way', () => {
    const s = builtin('svm-virq-shadow');
    const g = label(s, 'guest');
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[0xf1, g + 1]]);
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([
      [0x81, g + 2],
      [0x64, g + 1],
    ]);
    expect(vmcb(s, 'int_state')).toBe(0);
    expect(vmcb(s, 'int_ctl') & 0x100).toBe(0x100);
  });
});

describe('svm-intr-intercept-mix', () => {
  it('the INTR/NMI exits come after the guest STI shadow or STGI; the host takes each event at its STGI', () => {
    const s = builtin('svm-intr-intercept-mix');
    expect(svmExits(s).map((e) => [e.code, e.rip, e.exitIntInfo])).toEqual([
      [0x60, label(s, 'if_exit'), 0],
      [0x60, label(s, 'gif_exit'), 0],
      [0x60, label(s, 'gif2_exit'), 0],
      [0x61, label(s, 'nmi_exit'), 0],
    ]);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.handler])).toEqual([
      [0x55, label(s, 'host_irq')],
      [0x55, label(s, 'host_irq')],
      [0x55, label(s, 'host_irq')],
      [2, label(s, 'host_nmi')],
    ]);
    // Each taken by the host at the instruction after its STGI.
    for (const x of d) {
      const stgi = s.compiled.programs[0].instrs.find((i) => i.addr + i.len === x.rip)!;
      expect(stgi.text).toBe('stgi');
    }
  });
});

describe('svm-vgif', () => {
  it('the guest STGI/CLGI write V_GIF; V_GIF = 0 holds V_IRQ until the STGI', () => {
    const s = builtin('svm-vgif');
    expect(svmExits(s).map((e) => e.code)).toEqual([0x81, 0x81, 0x81, 0x81]);
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[0xf1, label(s, 'after_stgi')]]);
    // The host's GIF is untouched by the guest: every VMRUN entered (GIF = 1 at each).
    expect(vmruns(s)).toHaveLength(4);
  });
});

describe('svm-exitintinfo', () => {
  it('EXITINTINFO holds the INTR and the vNMI whose delivery #NP interrupted; EVENTINJ re-injects them', () => {
    const s = builtin('svm-exitintinfo');
    expect(svmExits(s).map((e) => [e.code, e.rip, e.info1, e.exitIntInfo])).toEqual([
      [0x4b, label(s, 'irq_here'), 0x18b, 0x80000031],
      [0x81, after(s, 'irq_here') + 1, 0, 0],
      [0x4b, label(s, 'guest2'), 0x13, 0x80000202],
      [0x81, label(s, 'guest_nmi'), 0, 0],
      [0x81, label(s, 'guest2_end'), 0, 0],
    ]);
    // The re-injections: VMRUN's EVENTINJ words are the EXITINTINFO ones; after each #VMEXIT
    // EVENTINJ keeps its other bits with V clear.
    expect(vmruns(s).map((r) => r.eventInj)).toEqual([0, 0x80000031, 0x31, 0x80000202, 0x202]);
    expect(vmruns(s)[1].guestRip).toBe(label(s, 'guest_irq'));
    expect(vmruns(s)[3].guestRip).toBe(label(s, 'guest_nmi'));
    // No delivery through the IDT completed on its own: the first attempt ended in the #NP
    // exit, and the re-injections are part of their VMRUNs.
    expect(deliveries(s)).toEqual([]);
  });
});
