// The words for a VM exit in the timeline and the explanation: a VMX basic exit reason by its
// name, an AMD exit code by its SVM_EXIT name (VMEXIT_INVALID is -1, not 65535).
import { describe, expect, it } from 'vitest';
import { exitReasonLabel, exitReasonNumber } from '../../src/app/timeline/transition-text';

describe('exit labels', () => {
  it('names VMX exit reasons, and says when a VM entry failed', () => {
    expect(exitReasonLabel(7)).toBe('7 INTERRUPT_WINDOW');
    expect(exitReasonLabel(0x80000021)).toBe('33 INVALID_STATE (VM-entry failure)');
    expect(exitReasonNumber(0x80000021)).toBe('33');
  });

  it('names SVM exit codes in hex, and VMEXIT_INVALID as -1', () => {
    expect(exitReasonLabel(0x81, 'svm')).toBe('0x81 VMMCALL');
    expect(exitReasonLabel(0x74, 'svm')).toBe('0x74 IRET');
    expect(exitReasonLabel(-1, 'svm')).toBe('-1 ERR (VMEXIT_INVALID)');
    expect(exitReasonLabel(0xffffffff, 'svm')).toBe('-1 ERR (VMEXIT_INVALID)');
    expect(exitReasonNumber(0x61, 'svm')).toBe('0x61');
  });
});
