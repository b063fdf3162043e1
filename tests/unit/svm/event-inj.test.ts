// AMD APM "Event Injection": EVENTINJ delivered through the guest's IDT at VMRUN, every type;
// EV pushes the error code; a software interrupt returns to the VMCB's RIP; EVENTINJ.V is
// clear after the #VMEXIT; an intercepted fault during the delivery reports the event in
// EXITINTINFO.
import { describe, expect, it } from 'vitest';
import { label, memQ } from '../helpers';
import { GUEST_STACK } from './svm-helpers';
import { runSvm, svmExits, vmcb, vmruns } from './svm-helpers';

const GUEST_IDT = [
  '        .intgate 0, g_de',
  '        .intgate 2, g_nmi',
  '        .intgate 13, g_gp',
  '        .intgate 0x30, g_irq',
  '        .intgate 0x80, g_soft',
];
const HANDLERS = [
  'g_de:   vmmcall',
  'g_nmi:  vmmcall',
  'g_gp:   vmmcall',
  'g_irq:  vmmcall',
  'g_soft: vmmcall',
];

function inject(word: string, err?: number) {
  return runSvm({
    guestIdt: GUEST_IDT,
    setup: [
      `        mov dword [rbx + VMCB_EVENT_INJ], ${word}`,
      ...(err !== undefined ? [`        mov dword [rbx + VMCB_EVENT_INJ_ERR], ${err}`] : []),
    ],
    extra: HANDLERS,
  });
}

describe('EVENTINJ', () => {
  it.each([
    ['INTR 0x30', 'SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR | 0x30', 'g_irq', 0x30, 0],
    ['NMI (vector field ignored)', 'SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI | 0x55', 'g_nmi', 2, 2],
    ['exception #DE', 'SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | 0', 'g_de', 0, 3],
    ['software interrupt 0x80', 'SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_SOFT | 0x80', 'g_soft', 0x80, 4],
  ])('%s is delivered through the guest IDT at VMRUN', (_n, word, handler, vector, type) => {
    const s = inject(word);
    const r = vmruns(s);
    expect(r).toHaveLength(1);
    expect(r[0].eventInj & 0xff).toBe(type === 2 ? 0x55 : vector);
    expect((r[0].eventInj >>> 8) & 7).toBe(type);
    expect(r[0].guestRip).toBe(label(s, handler));
    // The frame returns to the VMCB's RIP (for the software interrupt too: no length is added).
    expect(memQ(s, GUEST_STACK - 40)).toBe(BigInt(label(s, 'guest')));
    const e = svmExits(s);
    expect(e.map((x) => x.code)).toEqual([0x81]);
    expect(e[0].rip).toBe(label(s, handler));
    // "EVENTINJ.V is cleared on #VMEXIT"; nothing was interrupted.
    expect(vmcb(s, 'event_inj') & 0x80000000).toBe(0);
    expect(vmcb(s, 'exit_int_info')).toBe(0);
  });

  it('pushes event_inj_err with EV (an exception with an error code: #GP)', () => {
    const s = inject('SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID_ERR | 13', 0x1234);
    expect(vmruns(s)[0].guestRip).toBe(label(s, 'g_gp'));
    expect(memQ(s, GUEST_STACK - 48)).toBe(0x1234n);
    expect(memQ(s, GUEST_STACK - 40)).toBe(BigInt(label(s, 'guest')));
  });

  it('reports the injected event in EXITINTINFO when a fault during its delivery is intercepted', () => {
    // Vector 0x31 has no gate: #NP(0x31·8 + 2 + EXT), intercepted (exception bit 11).
    const s = runSvm({
      guestIdt: GUEST_IDT,
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x800',
        '        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR | 0x31',
      ],
      extra: HANDLERS,
    });
    const e = svmExits(s);
    expect(e).toHaveLength(1);
    expect(e[0].code).toBe(0x40 + 11);
    expect(e[0].rip).toBe(label(s, 'guest'));
    expect(vmcb(s, 'exit_int_info')).toBe((0x80000000 | 0x31) >>> 0);
    expect(vmcb(s, 'exit_info_1')).toBe(0x31 * 8 + 3);
    expect(vmcb(s, 'event_inj') & 0x80000000).toBe(0);
  });

  it('intercepts an exception the guest raises (exit 0x40 + vector, EXITINFO1 = error code)', () => {
    const s = runSvm({
      setup: ['        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x40'],
      guest: ['        ud2'],
    });
    const e = svmExits(s);
    expect(e.map((x) => x.code)).toEqual([0x46]);
    expect(e[0].rip).toBe(label(s, 'guest'));
    expect(vmcb(s, 'exit_int_info')).toBe(0);
  });
});
