// Read-only VM-exit information fields (encoding type 1): VMWRITE to them fails with
// VM-instruction error 13. Names and encodings from Linux asm/vmx.h enum vmcs_field.

import { defineFields, sdm } from './encoding';

const BASIC = sdm('Basic VM-Exit Information');
const VECTORED = sdm('Information for VM Exits Due to Vectored Events');
const DELIVERY = sdm('Information for VM Exits That Occur During Event Delivery');
const INSTRUCTION = sdm('Information for VM Exits Due to Instruction Execution');
const ERROR = sdm('VM-Instruction Error Field');

export const EXIT_INFO_FIELDS = defineFields('exit-info', BASIC, [
  // 64-bit
  ['GUEST_PHYSICAL_ADDRESS', 0x2400, 64, 'Guest-physical address of an EPT violation or misconfiguration'],
  // 32-bit
  ['VM_INSTRUCTION_ERROR', 0x4400, 32, 'Why the last VMX instruction failed with VMfailValid', ERROR],
  ['VM_EXIT_REASON', 0x4402, 32, 'Basic exit reason (15:0) and flags, bit 31 = VM-entry failure'],
  [
    'VM_EXIT_INTR_INFO',
    0x4404,
    32,
    'The event that caused the exit: exception, NMI, acked interrupt',
    VECTORED,
  ],
  ['VM_EXIT_INTR_ERROR_CODE', 0x4406, 32, 'Error code of the exception that caused the exit', VECTORED],
  [
    'IDT_VECTORING_INFO_FIELD',
    0x4408,
    32,
    'The event being delivered through the IDT when the exit happened',
    DELIVERY,
  ],
  ['IDT_VECTORING_ERROR_CODE', 0x440a, 32, 'Error code of the event being delivered', DELIVERY],
  [
    'VM_EXIT_INSTRUCTION_LEN',
    0x440c,
    32,
    'Length of the instruction that exited, or of a soft event',
    INSTRUCTION,
  ],
  [
    'VMX_INSTRUCTION_INFO',
    0x440e,
    32,
    'Operands of the instruction that exited (VMREAD, INVEPT...)',
    INSTRUCTION,
  ],
  // natural width
  ['EXIT_QUALIFICATION', 0x6400, 'natural', 'Details of the exit, depending on the exit reason'],
  ['GUEST_LINEAR_ADDRESS', 0x640a, 'natural', 'Guest linear address of the access that exited'],
]);
