// Named numbers of SVM for assembly programs, beside the VMX ones (asm/constants.ts):
// VMCB_<FIELD> offsets (mov dword [rbx + VMCB_INT_CTL], eax), the int_ctl / int_state /
// EVENTINJ bits as Linux's asm/svm.h names them, INTERCEPT_<X>_MASK (the bit of INTERCEPT_<X>
// within its 32-bit intercept word: VMCB_INTERCEPT_CR, _DR, _EXCEPTIONS, VMCB_INTERCEPT for
// INTR … SHUTDOWN, VMCB_INTERCEPT_WORD4 for VMRUN …), the SVM_EXIT_* codes and the MSRs.
import {
  EFER,
  EVTINJ,
  INT_CTL,
  INT_STATE,
  INTERCEPT,
  MSR_EFER,
  MSR_VM_CR,
  MSR_VM_HSAVE_PA,
  interceptMask,
} from './bits';
import { SVM_EXIT_CODES } from './exit-codes';
import { VMCB_FIELDS } from './vmcb';

export interface SvmConstant {
  readonly name: string;
  readonly value: number;
  readonly kind: 'bit' | 'code';
  readonly description: string;
}

const WORD_NAMES = [
  'VMCB_INTERCEPT_CR',
  'VMCB_INTERCEPT_DR',
  'VMCB_INTERCEPT_EXCEPTIONS',
  'VMCB_INTERCEPT',
  'VMCB_INTERCEPT_WORD4',
];

function build(): SvmConstant[] {
  const out: SvmConstant[] = [];
  for (const f of VMCB_FIELDS)
    out.push({
      name: f.constant,
      value: f.offset,
      kind: 'code',
      description: `VMCB offset of ${f.name} (${f.size} bytes): ${f.description}`,
    });
  for (const [name, value] of Object.entries(INT_CTL))
    out.push({
      name,
      value: value >>> 0,
      kind: 'bit',
      description: `int_ctl (VMCB 0x60) ${name.replace(/_MASK$/, '')}`,
    });
  for (const [name, value] of Object.entries(INT_STATE))
    out.push({ name, value, kind: 'bit', description: `int_state (VMCB 0x68)` });
  for (const [name, value] of Object.entries(EVTINJ)) {
    out.push({ name, value: value >>> 0, kind: 'bit', description: 'EVENTINJ (VMCB 0xA8)' });
    out.push({
      name: name.replace('SVM_EVTINJ_', 'SVM_EXITINTINFO_'),
      value: value >>> 0,
      kind: 'bit',
      description: 'EXITINTINFO (VMCB 0x88), the EVENTINJ format',
    });
  }
  for (const [name, bit] of Object.entries(INTERCEPT)) {
    if (name === 'INTERCEPT_EXCEPTION_OFFSET') continue;
    out.push({
      name: `${name}_MASK`,
      value: interceptMask(bit),
      kind: 'bit',
      description: `${name}: bit ${bit % 32} of ${WORD_NAMES[bit >> 5]}`,
    });
  }
  for (const e of SVM_EXIT_CODES)
    out.push({ name: e.name, value: e.code, kind: 'code', description: e.description });
  out.push({ name: 'EFER_SVME', value: EFER.SVME, kind: 'bit', description: 'EFER bit 12: SVM enable' });
  out.push({ name: 'MSR_EFER', value: MSR_EFER, kind: 'code', description: 'EFER (C000_0080)' });
  out.push({
    name: 'MSR_VM_HSAVE_PA',
    value: MSR_VM_HSAVE_PA,
    kind: 'code',
    description: 'VM_HSAVE_PA (C001_0117)',
  });
  out.push({ name: 'MSR_VM_CR', value: MSR_VM_CR, kind: 'code', description: 'VM_CR (C001_0114)' });
  return out;
}

export const SVM_CONSTANTS: readonly SvmConstant[] = build();
