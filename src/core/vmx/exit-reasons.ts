// The numbers VMX reports: basic exit reasons, VM-entry failure qualifications,
// VM-instruction error numbers and interruption types, with Linux's names for them.

/** A numbered code with its Linux name, a plain description and its SDM source. */
export interface VmxCode {
  readonly code: number;
  readonly name: string;
  readonly description: string;
  readonly section: string;
}

type Row = readonly [code: number, name: string, description: string];

function table(prefix: string, section: string, rows: readonly Row[]): VmxCode[] {
  return rows.map(([code, name, description]) => ({ code, name: prefix + name, description, section }));
}

/** Name (without prefix) → code, typed from the rows so that a misspelt name does not compile. */
function codes<const R extends readonly Row[]>(rows: R): { readonly [K in R[number][1]]: number } {
  return Object.fromEntries(rows.map(([code, name]) => [name, code])) as { [K in R[number][1]]: number };
}

const EXIT_ROWS = [
  [0, 'EXCEPTION_NMI', 'Exception or NMI'],
  [1, 'EXTERNAL_INTERRUPT', 'External interrupt'],
  [2, 'TRIPLE_FAULT', 'Triple fault'],
  [3, 'INIT_SIGNAL', 'INIT signal'],
  [4, 'SIPI_SIGNAL', 'Start-up IPI (SIPI)'],
  [5, 'IO_SMI', 'I/O system-management interrupt (SMI)'],
  [6, 'OTHER_SMI', 'Other SMI'],
  [7, 'INTERRUPT_WINDOW', 'Interrupt window'],
  [8, 'NMI_WINDOW', 'NMI window'],
  [9, 'TASK_SWITCH', 'Task switch'],
  [10, 'CPUID', 'CPUID (always exits)'],
  [11, 'GETSEC', 'GETSEC'],
  [12, 'HLT', 'HLT with HLT exiting = 1'],
  [13, 'INVD', 'INVD (always exits)'],
  [14, 'INVLPG', 'INVLPG with INVLPG exiting = 1'],
  [15, 'RDPMC', 'RDPMC with RDPMC exiting = 1'],
  [16, 'RDTSC', 'RDTSC with RDTSC exiting = 1'],
  [17, 'RSM', 'RSM in SMM'],
  [18, 'VMCALL', 'VMCALL'],
  [19, 'VMCLEAR', 'VMCLEAR'],
  [20, 'VMLAUNCH', 'VMLAUNCH'],
  [21, 'VMPTRLD', 'VMPTRLD'],
  [22, 'VMPTRST', 'VMPTRST'],
  [23, 'VMREAD', 'VMREAD'],
  [24, 'VMRESUME', 'VMRESUME'],
  [25, 'VMWRITE', 'VMWRITE'],
  [26, 'VMOFF', 'VMXOFF'],
  [27, 'VMON', 'VMXON'],
  [28, 'CR_ACCESS', 'Control-register access (MOV CR, CLTS, LMSW)'],
  [29, 'DR_ACCESS', 'MOV DR with MOV-DR exiting = 1'],
  [30, 'IO_INSTRUCTION', 'I/O instruction (IN, OUT, INS, OUTS)'],
  [31, 'MSR_READ', 'RDMSR'],
  [32, 'MSR_WRITE', 'WRMSR'],
  [33, 'INVALID_STATE', 'VM-entry failure: invalid guest state'],
  [34, 'MSR_LOAD_FAIL', 'VM-entry failure: MSR loading'],
  [36, 'MWAIT_INSTRUCTION', 'MWAIT with MWAIT exiting = 1'],
  [37, 'MONITOR_TRAP_FLAG', 'Monitor trap flag'],
  [39, 'MONITOR_INSTRUCTION', 'MONITOR with MONITOR exiting = 1'],
  [40, 'PAUSE_INSTRUCTION', 'PAUSE with PAUSE exiting, or a PAUSE loop too long'],
  [41, 'MCE_DURING_VMENTRY', 'VM-entry failure: machine-check event'],
  [43, 'TPR_BELOW_THRESHOLD', 'Virtual TPR dropped below the TPR threshold'],
  [44, 'APIC_ACCESS', 'Access to the APIC-access page'],
  [45, 'EOI_INDUCED', 'Virtualized EOI for a vector set in the EOI-exit bitmap'],
  [46, 'GDTR_IDTR', 'LGDT, LIDT, SGDT or SIDT with descriptor-table exiting = 1'],
  [47, 'LDTR_TR', 'LLDT, LTR, SLDT or STR with descriptor-table exiting = 1'],
  [48, 'EPT_VIOLATION', 'EPT violation'],
  [49, 'EPT_MISCONFIG', 'EPT misconfiguration'],
  [50, 'INVEPT', 'INVEPT'],
  [51, 'RDTSCP', 'RDTSCP with RDTSC exiting = 1'],
  [52, 'PREEMPTION_TIMER', 'VMX-preemption timer expired'],
  [53, 'INVVPID', 'INVVPID'],
  [54, 'WBINVD', 'WBINVD or WBNOINVD with WBINVD exiting = 1'],
  [55, 'XSETBV', 'XSETBV (always exits)'],
  [56, 'APIC_WRITE', 'Write to the virtual-APIC page that needs emulation (trap-like)'],
  [57, 'RDRAND', 'RDRAND with RDRAND exiting = 1'],
  [58, 'INVPCID', 'INVPCID with INVLPG exiting = 1'],
  [59, 'VMFUNC', 'VMFUNC failed (function not enabled or invalid)'],
  [60, 'ENCLS', 'ENCLS with ENCLS exiting for that leaf'],
  [61, 'RDSEED', 'RDSEED with RDSEED exiting = 1'],
  [62, 'PML_FULL', 'Page-modification log full'],
  [63, 'XSAVES', 'XSAVES with its XSS-exiting bitmap bit set'],
  [64, 'XRSTORS', 'XRSTORS with its XSS-exiting bitmap bit set'],
  [74, 'BUS_LOCK', 'Bus lock detected (bus-lock detection = 1)'],
  [75, 'NOTIFY', 'Notify: no event window for too long (instruction timeout)'],
] as const satisfies readonly Row[];

/**
 * Basic exit reasons (exit-reason bits 15:0), named as Linux uapi/asm/vmx.h EXIT_REASON_*.
 * Linux has no names for 5, 6, 11 and 17; those follow kvm-unit-tests and the SDM.
 */
export const EXIT_REASONS: readonly VmxCode[] = table(
  'EXIT_REASON_',
  'SDM Vol. 3 "VMX Basic Exit Reasons"',
  EXIT_ROWS,
);
/** Basic exit reason numbers, e.g. EXIT_REASON.PREEMPTION_TIMER = 52. */
export const EXIT_REASON = codes(EXIT_ROWS);

/** Basic exit reasons that report a VM entry failing after its checks on controls and host state. */
export const ENTRY_FAILURE_REASONS: readonly number[] = [33, 34, 41];

const ENTRY_FAIL_ROWS = [
  [0, 'DEFAULT', 'No further information'],
  [2, 'PDPTE', 'Failure loading a PDPTE'],
  [3, 'NMI', 'NMI injection blocked by events (blocking by STI, on processors that check it)'],
  [4, 'VMCS_LINK_PTR', 'Invalid VMCS link pointer'],
] as const satisfies readonly Row[];

/**
 * Exit qualification of a VM-entry failure (exit reasons 33, 34, 41), Linux enum
 * vm_entry_failure_code.
 */
export const ENTRY_FAILURE_QUALIFICATIONS: readonly VmxCode[] = table(
  'ENTRY_FAIL_',
  'SDM Vol. 3C "VM-Entry Failures During or After Loading Guest State"',
  ENTRY_FAIL_ROWS,
);
export const ENTRY_FAIL = codes(ENTRY_FAIL_ROWS);

const VMXERR_ROWS = [
  [1, 'VMCALL_IN_VMX_ROOT_OPERATION', 'VMCALL executed in VMX root operation'],
  [2, 'VMCLEAR_INVALID_ADDRESS', 'VMCLEAR with invalid physical address'],
  [3, 'VMCLEAR_VMXON_POINTER', 'VMCLEAR with VMXON pointer'],
  [4, 'VMLAUNCH_NONCLEAR_VMCS', 'VMLAUNCH with non-clear VMCS'],
  [5, 'VMRESUME_NONLAUNCHED_VMCS', 'VMRESUME with non-launched VMCS'],
  [6, 'VMRESUME_AFTER_VMXOFF', 'VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)'],
  [7, 'ENTRY_INVALID_CONTROL_FIELD', 'VM entry with invalid control field(s)'],
  [8, 'ENTRY_INVALID_HOST_STATE_FIELD', 'VM entry with invalid host-state field(s)'],
  [9, 'VMPTRLD_INVALID_ADDRESS', 'VMPTRLD with invalid physical address'],
  [10, 'VMPTRLD_VMXON_POINTER', 'VMPTRLD with VMXON pointer'],
  [11, 'VMPTRLD_INCORRECT_VMCS_REVISION_ID', 'VMPTRLD with incorrect VMCS revision identifier'],
  [12, 'UNSUPPORTED_VMCS_COMPONENT', 'VMREAD/VMWRITE from/to unsupported VMCS component'],
  [13, 'VMWRITE_READ_ONLY_VMCS_COMPONENT', 'VMWRITE to read-only VMCS component'],
  [15, 'VMXON_IN_VMX_ROOT_OPERATION', 'VMXON executed in VMX root operation'],
  [16, 'ENTRY_INVALID_EXECUTIVE_VMCS_POINTER', 'VM entry with invalid executive-VMCS pointer'],
  [17, 'ENTRY_NONLAUNCHED_EXECUTIVE_VMCS', 'VM entry with non-launched executive VMCS'],
  [
    18,
    'ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON_POINTER',
    'VM entry with executive-VMCS pointer not VMXON pointer (when deactivating the dual-monitor treatment)',
  ],
  [
    19,
    'VMCALL_NONCLEAR_VMCS',
    'VMCALL with non-clear VMCS (when activating the dual-monitor treatment of SMIs and SMM)',
  ],
  [20, 'VMCALL_INVALID_VM_EXIT_CONTROL_FIELDS', 'VMCALL with invalid VM-exit control fields'],
  [
    22,
    'VMCALL_INCORRECT_MSEG_REVISION_ID',
    'VMCALL with incorrect MSEG revision identifier (when activating the dual-monitor treatment)',
  ],
  [
    23,
    'VMXOFF_UNDER_DUAL_MONITOR_TREATMENT_OF_SMIS_AND_SMM',
    'VMXOFF under dual-monitor treatment of SMIs and SMM',
  ],
  [
    24,
    'VMCALL_INVALID_SMM_MONITOR_FEATURES',
    'VMCALL with invalid SMM-monitor features (when activating the dual-monitor treatment)',
  ],
  [
    25,
    'ENTRY_INVALID_VM_EXECUTION_CONTROL_FIELDS_IN_EXECUTIVE_VMCS',
    'VM entry with invalid VM-execution control fields in executive VMCS (when returning from SMM)',
  ],
  [26, 'ENTRY_EVENTS_BLOCKED_BY_MOV_SS', 'VM entry with events blocked by MOV SS'],
  [28, 'INVALID_OPERAND_TO_INVEPT_INVVPID', 'Invalid operand to INVEPT/INVVPID'],
] as const satisfies readonly Row[];

/**
 * VM-instruction error numbers (the VM_INSTRUCTION_ERROR field after VMfailValid), named as
 * Linux enum vm_instruction_error_number. 14, 21 and 27 are reserved.
 */
export const VM_INSTRUCTION_ERRORS: readonly VmxCode[] = table(
  'VMXERR_',
  'SDM Vol. 3C "VM-Instruction Error Numbers"',
  VMXERR_ROWS,
);
/** VM-instruction error numbers, e.g. VMXERR.ENTRY_EVENTS_BLOCKED_BY_MOV_SS = 26. */
export const VMXERR = codes(VMXERR_ROWS);

const INTR_TYPE_ROWS = [
  [0, 'EXT_INTR', 'External interrupt'],
  [1, 'RESERVED', 'Reserved (VM entry fails when injecting it)'],
  [2, 'NMI_INTR', 'NMI'],
  [3, 'HARD_EXCEPTION', 'Hardware exception'],
  [4, 'SOFT_INTR', 'Software interrupt (INT n)'],
  [5, 'PRIV_SW_EXCEPTION', 'Privileged software exception (INT1/ICEBP)'],
  [6, 'SOFT_EXCEPTION', 'Software exception (INT3, INTO)'],
  [7, 'OTHER_EVENT', 'Other event (vector 0: pending MTF VM exit)'],
] as const satisfies readonly Row[];

/**
 * Interruption types (bits 10:8 of VM_ENTRY_INTR_INFO_FIELD, VM_EXIT_INTR_INFO and
 * IDT_VECTORING_INFO_FIELD). `name` is Linux's INTR_TYPE_* constant, which holds the type
 * already shifted to bits 10:8; `code` is the 3-bit type itself.
 */
export const INTERRUPTION_TYPES: readonly VmxCode[] = table(
  'INTR_TYPE_',
  'SDM Vol. 3C "VM-Entry Controls for Event Injection"',
  INTR_TYPE_ROWS,
);
/** Interruption types as 3-bit numbers, e.g. INTR_TYPE.NMI_INTR = 2. */
export const INTR_TYPE = codes(INTR_TYPE_ROWS);

function byCode(list: readonly VmxCode[]): (code: number) => VmxCode | undefined {
  const map = new Map(list.map((c) => [c.code, c]));
  return (code) => map.get(code);
}

export const exitReasonByCode = byCode(EXIT_REASONS);
export const vmInstructionError = byCode(VM_INSTRUCTION_ERRORS);
export const entryFailureQualification = byCode(ENTRY_FAILURE_QUALIFICATIONS);
export const interruptionType = byCode(INTERRUPTION_TYPES);
