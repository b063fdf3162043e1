// AMD APM "Event Injection" / "Canonicalization and Consistency Checks": EVENTINJ of the
// exception type must name an exception the processor defines; a reserved type or a vector that
// is not an exception makes VMRUN fail (VMEXIT_INVALID). The defined exceptions are delivered,
// with event_inj_err when EV is set.
import { describe, expect, it } from 'vitest';
import { deliveries, label, memQ } from '../helpers';
import { GUEST_STACK, runSvm, svmExits, vmcb, vmruns } from './svm-helpers';

function inject(word: string, vector: number, err?: number) {
  return runSvm({
    guestIdt: [`        .intgate ${vector}, g_handler`],
    setup: [
      `        mov dword [rbx + VMCB_EVENT_INJ], ${word}`,
      ...(err !== undefined ? [`        mov dword [rbx + VMCB_EVENT_INJ_ERR], ${err}`] : []),
    ],
    extra: ['g_handler: vmmcall'],
  });
}

describe('EVENTINJ exception vectors', () => {
  it.each([2, 9, 15, 20, 21, 22, 27, 29, 31, 32, 0xff])(
    'exception type with vector %i is not an exception: VMEXIT_INVALID, nothing delivered',
    (v) => {
      const s = inject(`SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | ${v}`, v & 0xff);
      expect(vmruns(s)).toHaveLength(0);
      expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[-1, label(s, 'run')]]);
      // VMRUN failed before the injection: EVENTINJ keeps its V bit.
      expect(vmcb(s, 'event_inj') >>> 31).toBe(1);
    },
  );

  it.each([0, 1, 3, 6, 7, 16, 18, 19, 28, 30])(
    'exception vector %i is delivered through the guest IDT',
    (v) => {
      const s = inject(`SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | ${v}`, v);
      expect(vmruns(s).map((r) => r.guestRip)).toEqual([label(s, 'g_handler')]);
      expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x81, label(s, 'g_handler')]]);
      // No error code pushed: the return RIP is the last thing below the interrupt frame's top.
      expect(memQ(s, GUEST_STACK - 40)).toBe(BigInt(label(s, 'guest')));
    },
  );

  it.each([4, 5])('#OF/#BR (vector %i) in 64-bit mode fail VMRUN (docs/svm.md, Choice)', (v) => {
    const s = inject(`SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | ${v}`, v);
    expect(svmExits(s).map((e) => e.code)).toEqual([-1]);
  });

  it.each([8, 10, 11, 12, 13, 14, 17])('exception %i with EV pushes event_inj_err', (v) => {
    const s = inject(`SVM_EVTINJ_VALID | SVM_EVTINJ_VALID_ERR | SVM_EVTINJ_TYPE_EXEPT | ${v}`, v, 0x5a5a);
    expect(vmruns(s).map((r) => r.guestRip)).toEqual([label(s, 'g_handler')]);
    expect(memQ(s, GUEST_STACK - 48)).toBe(0x5a5an);
    expect(memQ(s, GUEST_STACK - 40)).toBe(BigInt(label(s, 'guest')));
  });
});

describe('EVENTINJ types', () => {
  it.each([1, 5, 6, 7])('reserved type %i fails VMRUN whatever the vector', (t) => {
    const s = inject(`SVM_EVTINJ_VALID | ${t << 8} | 0x30`, 0x30);
    expect(svmExits(s).map((e) => e.code)).toEqual([-1]);
    expect(vmruns(s)).toHaveLength(0);
  });

  it('EVENTINJ without V injects nothing, whatever its other bits', () => {
    const s = inject('0x700 | 0x30', 0x30);
    expect(vmruns(s).map((r) => [r.eventInj, r.guestRip])).toEqual([[0x730, label(s, 'guest')]]);
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x81, label(s, 'guest')]]);
  });

  it('an NMI with any vector field is NMI 2; a software interrupt with vector 2 is INT 2, not an NMI', () => {
    const n = inject('SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI | 0x40', 2);
    expect(vmruns(n).map((r) => r.guestRip)).toEqual([label(n, 'g_handler')]);
    // INT 2 through the NMI gate blocks nothing: a physical NMI in its handler is delivered.
    const s = runSvm(
      {
        guestIdt: ['        .intgate 2, g_handler'],
        setup: ['        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_SOFT | 2'],
        extra: ['g_handler: nop', 'g_h1:   vmmcall'],
      },
      [{ at: { level: 0, label: 'g_h1' }, nmi: true }],
    );
    expect(vmruns(s).map((r) => r.guestRip)).toEqual([label(s, 'g_handler')]);
    // The NMI is taken at g_h1, inside the INT 2 handler, which it re-enters.
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[2, label(s, 'g_h1')]]);
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x81, label(s, 'g_h1')]]);
  });
});

describe('EXITINTINFO of an interrupted injection, by type', () => {
  // The gate is not present (no .intgate): delivery raises #NP, which the VMCB intercepts.
  it.each([
    ['INTR 0x30', 'SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR | 0x30', 0x80000030, 0, 0x30 * 8 + 3],
    ['NMI', 'SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI', 0x80000202, 0, 2 * 8 + 3],
    ['soft INT 0x80', 'SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_SOFT | 0x80', 0x80000480, 0, 0x80 * 8 + 2],
    [
      '#GP(0x1234)',
      'SVM_EVTINJ_VALID | SVM_EVTINJ_VALID_ERR | SVM_EVTINJ_TYPE_EXEPT | 13',
      0x80000b0d,
      0x1234,
      13 * 8 + 3,
    ],
  ])('%s: exit 0x4b, EXITINTINFO holds the event (and its error code)', (_n, word, info, err, npErr) => {
    const s = runSvm({
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x800',
        `        mov dword [rbx + VMCB_EVENT_INJ], ${word}`,
        '        mov dword [rbx + VMCB_EVENT_INJ_ERR], 0x1234',
      ],
    });
    expect(svmExits(s).map((e) => [e.code, e.rip, e.info1, e.exitIntInfo])).toEqual([
      [0x4b, label(s, 'guest'), npErr, info],
    ]);
    expect(vmcb(s, 'exit_int_info_err')).toBe(err);
    expect(vmcb(s, 'event_inj') >>> 31).toBe(0);
  });
});

describe('a fault during the delivery of a contributory exception', () => {
  // The guest's RDMSR of a nonexistent MSR raises #GP(0); its gate is not present.
  const guest = ['        mov ecx, 0x40000000', 'gi:     rdmsr', '        vmmcall'];

  it('#NP intercepted: exit 0x4b for the #NP itself, EXITINTINFO = the #GP (no #DF formed)', () => {
    const s = runSvm({ setup: ['        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x800'], guest });
    expect(svmExits(s).map((e) => [e.code, e.rip, e.info1, e.exitIntInfo])).toEqual([
      [0x4b, label(s, 'gi'), 13 * 8 + 3, 0x80000b0d],
    ]);
    expect(vmcb(s, 'exit_int_info_err')).toBe(0);
  });

  it('only #DF intercepted: the pair becomes #DF, exit 0x48 with no EXITINTINFO', () => {
    const s = runSvm({ setup: ['        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x100'], guest });
    expect(svmExits(s).map((e) => [e.code, e.rip, e.exitIntInfo])).toEqual([[0x48, label(s, 'gi'), 0]]);
  });
});
