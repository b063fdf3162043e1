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
