// The explanations and the view of SVM steps: VMRUN, #VMEXIT (with EXITINTINFO), VMEXIT_INVALID
// naming the failed check, STGI/CLGI, each citing the AMD APM; StepView.svm.
import { describe, expect, it } from 'vitest';
import { runSvm, svmExits, vmruns } from './svm-helpers';

describe('SVM explanations', () => {
  it('explains VMRUN and #VMEXIT with the APM sections', () => {
    const s = runSvm({});
    const entry = s.view(vmruns(s)[0].step);
    expect(entry.explanation.text).toMatch(/^VMRUN into L1/);
    expect(entry.explanation.cite).toMatch(/AMD64 APM Vol\. 2.*"VMRUN Instruction"/);
    expect(entry.svm).toMatchObject({ enabled: true, gif: true, guest: true });
    const exit = s.view(svmExits(s)[0].step);
    expect(exit.explanation.text).toMatch(/#VMEXIT, exit code 0x81 \(SVM_EXIT_VMMCALL\)/);
    expect(exit.explanation.cite).toMatch(/"#VMEXIT"/);
    expect(exit.svm).toMatchObject({ gif: false, guest: false });
  });

  it('names the consistency check that failed', () => {
    const s = runSvm({ setup: ['        mov dword [rbx + VMCB_ASID], 0'] });
    const v = s.view(svmExits(s)[0].step);
    expect(v.explanation.text).toMatch(/VMEXIT_INVALID\): ASID is zero/);
    expect(v.explanation.cite).toMatch(/Canonicalization and Consistency Checks/);
    expect(s.info().virtualization).toBe(true);
  });

  it('says which delivery an exit interrupted', () => {
    const s = runSvm({
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x800',
        '        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR | 0x31',
      ],
    });
    const v = s.view(svmExits(s)[0].step);
    expect(v.explanation.text).toMatch(/interrupted the delivery of INTR, vector 0x31, saved in EXITINTINFO/);
  });
});

describe('SVM explanations of deliveries and IRET', () => {
  it('V_IRQ and V_NMI deliveries say what the processor did with int_ctl; the IRET clears V_NMI_MASK', () => {
    const s = runSvm({
      guestIdt: ['        .intgate 2, g_nmi', '        .intgate 0x30, g_irq'],
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
        '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK | V_NMI_PENDING_MASK',
      ],
      guest: ['        nop', '        vmmcall'],
      extra: ['g_nmi:  iretq', 'g_irq:  iretq'],
    });
    const texts = Array.from({ length: s.totalSteps }, (_, i) => s.view(i + 1).explanation.text);
    expect(texts.some((t) => /^Delivered the virtual NMI \(V_NMI\)/.test(t))).toBe(true);
    expect(texts.some((t) => /V_NMI_MASK is cleared/.test(t))).toBe(true);
  });
});
