// VM-execution, VM-exit and VM-entry control fields (encoding type 0). Names and encodings
// from Linux arch/x86/include/asm/vmx.h enum vmcs_field.

import { defineFields, sdm } from './encoding';

const PIN = sdm('Pin-Based VM-Execution Controls');
const PROC = sdm('Processor-Based VM-Execution Controls');
const EXC = sdm('Exception Bitmap');
const IO = sdm('I/O-Bitmap Addresses');
const TSC = sdm('Time-Stamp Counter Offset and Multiplier');
const CR = sdm('Guest/Host Masks and Read Shadows for CR0 and CR4');
const CR3 = sdm('CR3-Target Controls');
const APIC = sdm('Controls for APIC Virtualization');
const MSR = sdm('MSR-Bitmap Address');
const EPT = sdm('Extended-Page-Table Pointer (EPTP)');
const VPID = sdm('Virtual-Processor Identifier (VPID)');
const PLE = sdm('Controls for PAUSE-Loop Exiting');
const VMFUNC = sdm('VM-Function Controls');
const SHADOW = sdm('VMCS Shadowing Bitmap Addresses');
const EXIT = sdm('VM-Exit Controls');
const EXIT_MSR = sdm('VM-Exit Controls for MSRs');
const ENTRY = sdm('VM-Entry Controls');
const ENTRY_MSR = sdm('VM-Entry Controls for MSRs');
const INJECT = sdm('VM-Entry Controls for Event Injection');

export const CONTROL_FIELDS = defineFields('control', PROC, [
  // 16-bit
  ['VIRTUAL_PROCESSOR_ID', 0x0000, 16, 'VPID tagging the guest\'s TLB entries ("enable VPID")', VPID],
  ['POSTED_INTR_NV', 0x0002, 16, 'Vector that notifies the processor of posted interrupts', APIC],
  // 64-bit
  ['IO_BITMAP_A', 0x2000, 64, 'Physical address of the I/O bitmap for ports 0000h-7FFFh', IO],
  ['IO_BITMAP_B', 0x2002, 64, 'Physical address of the I/O bitmap for ports 8000h-FFFFh', IO],
  ['MSR_BITMAP', 0x2004, 64, 'Physical address of the MSR bitmaps (RDMSR/WRMSR exiting per MSR)', MSR],
  ['VM_EXIT_MSR_STORE_ADDR', 0x2006, 64, 'Physical address of the MSRs stored at VM exit', EXIT_MSR],
  ['VM_EXIT_MSR_LOAD_ADDR', 0x2008, 64, 'Physical address of the MSRs loaded at VM exit', EXIT_MSR],
  ['VM_ENTRY_MSR_LOAD_ADDR', 0x200a, 64, 'Physical address of the MSRs loaded at VM entry', ENTRY_MSR],
  ['TSC_OFFSET', 0x2010, 64, 'Added to the TSC as the guest reads it ("use TSC offsetting")', TSC],
  ['VIRTUAL_APIC_PAGE_ADDR', 0x2012, 64, 'Physical address of the virtual-APIC page (TPR shadow)', APIC],
  ['APIC_ACCESS_ADDR', 0x2014, 64, 'Physical address of the APIC-access page', APIC],
  ['POSTED_INTR_DESC_ADDR', 0x2016, 64, 'Physical address of the posted-interrupt descriptor', APIC],
  ['VM_FUNCTION_CONTROL', 0x2018, 64, 'Which VM functions VMFUNC may invoke', VMFUNC],
  ['EPT_POINTER', 0x201a, 64, 'EPTP: root of the EPT paging structures, memory type, walk length', EPT],
  ['EOI_EXIT_BITMAP0', 0x201c, 64, 'EOI-exit bitmap for vectors 0-63 (virtual-interrupt delivery)', APIC],
  ['EOI_EXIT_BITMAP1', 0x201e, 64, 'EOI-exit bitmap for vectors 64-127', APIC],
  ['EOI_EXIT_BITMAP2', 0x2020, 64, 'EOI-exit bitmap for vectors 128-191', APIC],
  ['EOI_EXIT_BITMAP3', 0x2022, 64, 'EOI-exit bitmap for vectors 192-255', APIC],
  ['EPTP_LIST_ADDRESS', 0x2024, 64, 'Physical address of the EPTP list (EPTP switching)', VMFUNC],
  ['VMREAD_BITMAP', 0x2026, 64, 'Physical address of the VMREAD bitmap (VMCS shadowing)', SHADOW],
  ['VMWRITE_BITMAP', 0x2028, 64, 'Physical address of the VMWRITE bitmap (VMCS shadowing)', SHADOW],
  ['TSC_MULTIPLIER', 0x2032, 64, 'Fixed-point factor applied to the TSC before the offset', TSC],
  ['TERTIARY_VM_EXEC_CONTROL', 0x2034, 64, 'Tertiary processor-based VM-execution controls'],
  // 32-bit
  [
    'PIN_BASED_VM_EXEC_CONTROL',
    0x4000,
    32,
    'How asynchronous events (interrupts, NMIs, timer) are handled',
    PIN,
  ],
  [
    'CPU_BASED_VM_EXEC_CONTROL',
    0x4002,
    32,
    'Primary processor-based controls: instruction exits, windows, MTF',
  ],
  ['EXCEPTION_BITMAP', 0x4004, 32, 'One bit per exception vector: 1 = the exception causes a VM exit', EXC],
  [
    'PAGE_FAULT_ERROR_CODE_MASK',
    0x4006,
    32,
    'Which #PF error-code bits the exception bitmap bit 14 test uses',
    EXC,
  ],
  ['PAGE_FAULT_ERROR_CODE_MATCH', 0x4008, 32, 'The value those #PF error-code bits are compared with', EXC],
  ['CR3_TARGET_COUNT', 0x400a, 32, 'How many CR3-target values MOV to CR3 may load without exiting', CR3],
  ['VM_EXIT_CONTROLS', 0x400c, 32, 'What a VM exit saves and loads, and acknowledge-interrupt-on-exit', EXIT],
  ['VM_EXIT_MSR_STORE_COUNT', 0x400e, 32, 'Number of MSRs stored at VM exit', EXIT_MSR],
  ['VM_EXIT_MSR_LOAD_COUNT', 0x4010, 32, 'Number of MSRs loaded at VM exit', EXIT_MSR],
  [
    'VM_ENTRY_CONTROLS',
    0x4012,
    32,
    'What a VM entry loads (IA-32e mode guest, debug controls, EFER...)',
    ENTRY,
  ],
  ['VM_ENTRY_MSR_LOAD_COUNT', 0x4014, 32, 'Number of MSRs loaded at VM entry', ENTRY_MSR],
  [
    'VM_ENTRY_INTR_INFO_FIELD',
    0x4016,
    32,
    'The event VM entry injects: vector, type, error code, valid',
    INJECT,
  ],
  ['VM_ENTRY_EXCEPTION_ERROR_CODE', 0x4018, 32, 'Error code pushed for an injected exception', INJECT],
  ['VM_ENTRY_INSTRUCTION_LEN', 0x401a, 32, 'Length added to RIP when injecting a software event', INJECT],
  ['TPR_THRESHOLD', 0x401c, 32, 'Exit when the virtual TPR drops below this (bits 3:0, TPR shadow)', APIC],
  ['SECONDARY_VM_EXEC_CONTROL', 0x401e, 32, 'Secondary controls: EPT, VPID, APIC virtualization...'],
  ['PLE_GAP', 0x4020, 32, 'Largest TSC gap between two PAUSEs of one spin loop', PLE],
  ['PLE_WINDOW', 0x4022, 32, 'Longest a PAUSE loop may spin before it exits', PLE],
  // natural width
  ['CR0_GUEST_HOST_MASK', 0x6000, 'natural', 'CR0 bits owned by the host: guest writes to them exit', CR],
  ['CR4_GUEST_HOST_MASK', 0x6002, 'natural', 'CR4 bits owned by the host: guest writes to them exit', CR],
  ['CR0_READ_SHADOW', 0x6004, 'natural', 'What the guest reads in the host-owned bits of CR0', CR],
  ['CR4_READ_SHADOW', 0x6006, 'natural', 'What the guest reads in the host-owned bits of CR4', CR],
  ['CR3_TARGET_VALUE0', 0x6008, 'natural', 'CR3-target value 0', CR3],
  ['CR3_TARGET_VALUE1', 0x600a, 'natural', 'CR3-target value 1', CR3],
  ['CR3_TARGET_VALUE2', 0x600c, 'natural', 'CR3-target value 2', CR3],
  ['CR3_TARGET_VALUE3', 0x600e, 'natural', 'CR3-target value 3', CR3],
]);
