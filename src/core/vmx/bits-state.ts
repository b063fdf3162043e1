// Bit layouts of the event-related fields: the interruption-information formats, guest
// interruptibility and activity state, the exit reason, RFLAGS, the exception bitmap.

import { sdm } from './encoding';
import { EXCEPTION_VECTORS, exceptionLabel } from './exceptions';
import { EXIT_REASONS, INTERRUPTION_TYPES, VM_INSTRUCTION_ERRORS, type VmxCode } from './exit-reasons';
import { type FieldLayout, type LayoutRow, entries, masks } from './layout';

const INJECT = sdm('VM-Entry Controls for Event Injection');
const VECTORED = sdm('Information for VM Exits Due to Vectored Events');
const DELIVERY = sdm('Information for VM Exits That Occur During Event Delivery');
const NONREG = sdm('Guest Non-Register State');
const BASIC = sdm('Basic VM-Exit Information');

function valueNames(codes: readonly VmxCode[]): Record<number, string> {
  return Object.fromEntries(codes.map((c) => [c.code, c.description]));
}

const TYPE_VALUES = valueNames(INTERRUPTION_TYPES);

const ENTRY_INTR_INFO_ROWS = [
  [[7, 0], 'INTR_INFO_VECTOR_MASK', 'Vector', 'Vector of the event: 2 for an NMI, 0-31 for an exception'],
  [
    [10, 8],
    'INTR_INFO_INTR_TYPE_MASK',
    'Interruption type',
    'Kind of event to inject',
    { values: TYPE_VALUES },
  ],
  [
    11,
    'INTR_INFO_DELIVER_CODE_MASK',
    'Deliver error code',
    'Push VM_ENTRY_EXCEPTION_ERROR_CODE (hardware exceptions that have one, in protected mode)',
  ],
  [31, 'INTR_INFO_VALID_MASK', 'Valid', 'VM entry injects this event; every VM exit clears the bit'],
] as const satisfies readonly LayoutRow[];

/** VM_ENTRY_INTR_INFO_FIELD (facts §1.6): bits 30:12 reserved, must be 0. */
export const ENTRY_INTR_INFO_LAYOUT: FieldLayout = {
  fields: ['VM_ENTRY_INTR_INFO_FIELD'],
  entries: entries(INJECT, ENTRY_INTR_INFO_ROWS),
  defaultOne: 0,
  section: INJECT,
  interruptionInfo: true,
};

const EXIT_INTR_INFO_ROWS = [
  [
    [7, 0],
    'INTR_INFO_VECTOR_MASK',
    'Vector',
    'Vector of the event; the acknowledged vector for an interrupt',
  ],
  [[10, 8], 'INTR_INFO_INTR_TYPE_MASK', 'Interruption type', 'Kind of event', { values: TYPE_VALUES }],
  [11, 'INTR_INFO_DELIVER_CODE_MASK', 'Error code valid', 'VM_EXIT_INTR_ERROR_CODE holds its error code'],
  [
    12,
    'INTR_INFO_UNBLOCK_NMI',
    'NMI unblocking due to IRET',
    'A faulting IRET had already removed (virtual-)NMI blocking: the VMM must set it again before resuming',
  ],
  [31, 'INTR_INFO_VALID_MASK', 'Valid', 'The exit was caused by this event'],
] as const satisfies readonly LayoutRow[];

/** Masks of the interruption-information formats, as Linux names them (INTR_INFO_*). */
export const INTR_INFO = masks(EXIT_INTR_INFO_ROWS);

/** VM_EXIT_INTR_INFO (facts §1.7): exits due to exceptions, NMIs, acknowledged interrupts. */
export const EXIT_INTR_INFO_LAYOUT: FieldLayout = {
  fields: ['VM_EXIT_INTR_INFO'],
  entries: entries(VECTORED, EXIT_INTR_INFO_ROWS),
  defaultOne: 0,
  section: VECTORED,
  interruptionInfo: true,
};

const IDT_VECTORING_ROWS = [
  [[7, 0], 'VECTORING_INFO_VECTOR_MASK', 'Vector', 'Vector of the event that was being delivered'],
  [[10, 8], 'VECTORING_INFO_TYPE_MASK', 'Interruption type', 'Kind of event', { values: TYPE_VALUES }],
  [
    11,
    'VECTORING_INFO_DELIVER_CODE_MASK',
    'Error code valid',
    'IDT_VECTORING_ERROR_CODE holds its error code',
  ],
  [12, null, 'Undefined', 'Undefined; clear it before copying the word into VM_ENTRY_INTR_INFO_FIELD'],
  [
    31,
    'VECTORING_INFO_VALID_MASK',
    'Valid',
    'The exit happened while delivering this event, which was not delivered and must be re-injected',
  ],
] as const satisfies readonly LayoutRow[];

export const VECTORING_INFO = masks(IDT_VECTORING_ROWS);

/** IDT_VECTORING_INFO_FIELD (facts §1.7). */
export const IDT_VECTORING_LAYOUT: FieldLayout = {
  fields: ['IDT_VECTORING_INFO_FIELD'],
  entries: entries(DELIVERY, IDT_VECTORING_ROWS),
  defaultOne: 0,
  section: DELIVERY,
  interruptionInfo: true,
};

const INTERRUPTIBILITY_ROWS = [
  [0, 'GUEST_INTR_STATE_STI', 'Blocking by STI', 'STI set IF: interrupts blocked for one instruction'],
  [1, 'GUEST_INTR_STATE_MOV_SS', 'Blocking by MOV SS', 'MOV SS / POP SS: events blocked for one instruction'],
  [2, 'GUEST_INTR_STATE_SMI', 'Blocking by SMI', 'SMIs blocked (in SMM)'],
  [3, 'GUEST_INTR_STATE_NMI', 'Blocking by NMI', 'NMIs blocked; virtual-NMI blocking when virtual NMIs = 1'],
  [4, 'GUEST_INTR_STATE_ENCLAVE_INTR', 'Enclave interruption', 'The exit interrupted an enclave'],
] as const satisfies readonly LayoutRow[];

export const GUEST_INTR_STATE = masks(INTERRUPTIBILITY_ROWS);

/** GUEST_INTERRUPTIBILITY_INFO (facts §1.8): bits 31:5 reserved; bits 0 and 1 not both 1. */
export const INTERRUPTIBILITY_LAYOUT: FieldLayout = {
  fields: ['GUEST_INTERRUPTIBILITY_INFO'],
  entries: entries(NONREG, INTERRUPTIBILITY_ROWS),
  defaultOne: 0,
  section: NONREG,
};

/** GUEST_ACTIVITY_STATE values (facts §1.9; Linux GUEST_ACTIVITY_*). */
export const GUEST_ACTIVITY = {
  GUEST_ACTIVITY_ACTIVE: 0,
  GUEST_ACTIVITY_HLT: 1,
  GUEST_ACTIVITY_SHUTDOWN: 2,
  GUEST_ACTIVITY_WAIT_SIPI: 3,
} as const;

export const ACTIVITY_LAYOUT: FieldLayout = {
  fields: ['GUEST_ACTIVITY_STATE'],
  entries: entries(NONREG, [
    [
      [31, 0],
      null,
      'Activity state',
      'The state VM entry puts the processor in (a vectoring entry leaves it active)',
      { values: { 0: 'Active', 1: 'HLT', 2: 'Shutdown', 3: 'Wait-for-SIPI' } },
    ],
  ]),
  defaultOne: 0,
  section: NONREG,
};

const EXIT_REASON_ROWS = [
  [[15, 0], null, 'Basic exit reason', 'Why the exit happened', { values: valueNames(EXIT_REASONS) }],
  [26, null, 'Bus lock detected', 'A bus lock was also detected (Linux vmx_exit_reason.bus_lock_detected)'],
  [27, 'VMX_EXIT_REASONS_SGX_ENCLAVE_MODE', 'Exit from enclave mode', 'The exit came from inside an enclave'],
  [28, null, 'Pending MTF VM exit', 'An MTF exit was pending at an SMI (Linux smi_pending_mtf)'],
  [29, null, 'Exit from VMX root operation', 'SMM VM exit from VMX root (Linux smi_from_vmx_root)'],
  [
    31,
    'VMX_EXIT_REASONS_FAILED_VMENTRY',
    'VM-entry failure',
    'The VM entry failed after loading guest state',
  ],
] as const satisfies readonly LayoutRow[];

export const EXIT_REASON_BITS = masks(EXIT_REASON_ROWS);

/** VM_EXIT_REASON (facts §1.10): 0x80000021 is a VM entry failing on invalid guest state. */
export const EXIT_REASON_LAYOUT: FieldLayout = {
  fields: ['VM_EXIT_REASON'],
  entries: entries(BASIC, EXIT_REASON_ROWS),
  defaultOne: 0,
  section: BASIC,
};

const VM_INSTRUCTION_ERROR_SECTION = 'SDM Vol. 3C "VM-Instruction Error Numbers"';
export const VM_INSTRUCTION_ERROR_LAYOUT: FieldLayout = {
  fields: ['VM_INSTRUCTION_ERROR'],
  entries: entries(VM_INSTRUCTION_ERROR_SECTION, [
    [
      [31, 0],
      null,
      'Error number',
      'Why the last VMX instruction failed (VMfailValid)',
      { values: valueNames(VM_INSTRUCTION_ERRORS) },
    ],
  ]),
  defaultOne: 0,
  section: VM_INSTRUCTION_ERROR_SECTION,
};

const RFLAGS_SECTION = 'SDM Vol. 1 "EFLAGS Register"';
const RFLAGS_ROWS = [
  [0, 'X86_EFLAGS_CF', 'CF', 'Carry flag'],
  [1, 'X86_EFLAGS_FIXED', 'Reserved (always 1)', 'Reads as 1; VM entry fails if it is 0 in GUEST_RFLAGS'],
  [2, 'X86_EFLAGS_PF', 'PF', 'Parity flag'],
  [4, 'X86_EFLAGS_AF', 'AF', 'Auxiliary carry flag'],
  [6, 'X86_EFLAGS_ZF', 'ZF', 'Zero flag'],
  [7, 'X86_EFLAGS_SF', 'SF', 'Sign flag'],
  [8, 'X86_EFLAGS_TF', 'TF', 'Trap flag: a single-step #DB after each instruction'],
  [
    9,
    'X86_EFLAGS_IF',
    'IF',
    'Interrupt enable: maskable interrupts are delivered when 1; must be 1 to inject an external interrupt',
  ],
  [10, 'X86_EFLAGS_DF', 'DF', 'Direction flag'],
  [11, 'X86_EFLAGS_OF', 'OF', 'Overflow flag'],
  [[13, 12], 'X86_EFLAGS_IOPL', 'IOPL', 'I/O privilege level'],
  [14, 'X86_EFLAGS_NT', 'NT', 'Nested task'],
  [16, 'X86_EFLAGS_RF', 'RF', 'Resume flag: suppresses instruction breakpoints for one instruction'],
  [17, 'X86_EFLAGS_VM', 'VM', 'Virtual-8086 mode'],
  [18, 'X86_EFLAGS_AC', 'AC', 'Alignment check'],
  [19, 'X86_EFLAGS_VIF', 'VIF', 'Virtual interrupt flag'],
  [20, 'X86_EFLAGS_VIP', 'VIP', 'Virtual interrupt pending'],
  [21, 'X86_EFLAGS_ID', 'ID', 'CPUID is available'],
] as const satisfies readonly LayoutRow[];

/** RFLAGS masks as Linux asm/processor-flags.h names them. */
export const X86_EFLAGS = masks(RFLAGS_ROWS);

export const RFLAGS_LAYOUT: FieldLayout = {
  fields: ['GUEST_RFLAGS'],
  entries: entries(RFLAGS_SECTION, RFLAGS_ROWS),
  defaultOne: 0,
  section: RFLAGS_SECTION,
};

const EXCEPTION_BITMAP_SECTION = sdm('Exception Bitmap');
export const EXCEPTION_BITMAP_LAYOUT: FieldLayout = {
  fields: ['EXCEPTION_BITMAP'],
  entries: entries(
    EXCEPTION_BITMAP_SECTION,
    EXCEPTION_VECTORS.map((e) => [
      e.vector,
      null,
      `${e.vector} ${exceptionLabel(e.vector)}`,
      e.vector === 2
        ? 'Not used: NMIs cause VM exits through NMI exiting, not the exception bitmap'
        : e.vector === 14
          ? 'With 1, a #PF exits if (error code AND PAGE_FAULT_ERROR_CODE_MASK) = PAGE_FAULT_ERROR_CODE_MATCH; with 0, if not'
          : `Vector ${e.vector} causes a VM exit (reason 0) instead of guest IDT delivery`,
    ]),
  ),
  defaultOne: 0,
  section: EXCEPTION_BITMAP_SECTION,
};

export const GUEST_INTR_STATUS_LAYOUT: FieldLayout = {
  fields: ['GUEST_INTR_STATUS'],
  entries: entries(NONREG, [
    [[7, 0], null, 'RVI', 'Requesting virtual interrupt: the highest vector pending in the virtual IRR'],
    [[15, 8], null, 'SVI', 'Servicing virtual interrupt: the highest vector in service in the virtual ISR'],
  ]),
  defaultOne: 0,
  section: NONREG,
};

export const PENDING_DBG_LAYOUT: FieldLayout = {
  fields: ['GUEST_PENDING_DBG_EXCEPTIONS'],
  entries: entries(NONREG, [
    [0, 'DR_TRAP0', 'B0', 'Breakpoint 0 condition met'],
    [1, 'DR_TRAP1', 'B1', 'Breakpoint 1 condition met'],
    [2, 'DR_TRAP2', 'B2', 'Breakpoint 2 condition met'],
    [3, 'DR_TRAP3', 'B3', 'Breakpoint 3 condition met'],
    [12, null, 'Enabled breakpoint', 'At least one of B3-B0 is for an enabled breakpoint'],
    [14, 'DR6_BS', 'BS', 'Single-step trap pending (TF was set)'],
    [16, 'DR6_RTM', 'RTM', 'Debug exception inside an RTM region'],
  ]),
  defaultOne: 0,
  section: NONREG,
};
