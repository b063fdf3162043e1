// Bit layouts of the VM-execution, VM-exit and VM-entry control fields. Masks and names from
// Linux asm/vmx.h and asm/vmxfeatures.h, cross-checked with kvm-unit-tests x86/vmx.h and
// Bochs vmx_ctrls.h (facts §1.1-1.4).

import { sdm } from './encoding';
import { type FieldLayout, type LayoutRow, entries, masks } from './layout';

const PIN_SECTION = sdm('Pin-Based VM-Execution Controls');
const PROC_SECTION = sdm('Processor-Based VM-Execution Controls');
const EXIT_SECTION = sdm('VM-Exit Controls');
const ENTRY_SECTION = sdm('VM-Entry Controls');

const PIN_ROWS = [
  [
    0,
    'PIN_BASED_EXT_INTR_MASK',
    'External-interrupt exiting',
    'External interrupts cause VM exits (reason 1) instead of guest IDT delivery; RFLAGS.IF does not block the exit',
  ],
  [3, 'PIN_BASED_NMI_EXITING', 'NMI exiting', 'NMIs cause VM exits (reason 0, interruption info 0x80000202)'],
  [
    5,
    'PIN_BASED_VIRTUAL_NMIS',
    'Virtual NMIs',
    'Interruptibility bit 3 means virtual-NMI blocking; requires NMI exiting; needed for NMI-window exiting',
  ],
  [
    6,
    'PIN_BASED_VMX_PREEMPTION_TIMER',
    'Activate VMX-preemption timer',
    'The timer counts down in VMX non-root operation and causes a VM exit (reason 52) at zero',
  ],
  [
    7,
    'PIN_BASED_POSTED_INTR',
    'Process posted interrupts',
    'The posted-interrupt notification vector moves posted interrupts into the virtual APIC',
  ],
] as const satisfies readonly LayoutRow[];

export const PIN_BASED = masks(PIN_ROWS);
export const PIN_BASED_LAYOUT: FieldLayout = {
  fields: ['PIN_BASED_VM_EXEC_CONTROL'],
  entries: entries(PIN_SECTION, PIN_ROWS),
  defaultOne: 0x16, // PIN_BASED_ALWAYSON_WITHOUT_TRUE_MSR: bits 1, 2, 4
  section: PIN_SECTION,
};

const CPU_ROWS = [
  [
    2,
    'CPU_BASED_INTR_WINDOW_EXITING',
    'Interrupt-window exiting',
    'VM exit (reason 7) at any boundary where RFLAGS.IF = 1 and there is no STI or MOV-SS blocking',
    { old: ['CPU_BASED_VIRTUAL_INTR_PENDING'] },
  ],
  [
    3,
    'CPU_BASED_USE_TSC_OFFSETTING',
    'Use TSC offsetting',
    'RDTSC returns TSC + TSC_OFFSET',
    { old: ['CPU_BASED_USE_TSC_OFFSETING'] },
  ],
  [7, 'CPU_BASED_HLT_EXITING', 'HLT exiting', 'HLT causes a VM exit (reason 12)'],
  [9, 'CPU_BASED_INVLPG_EXITING', 'INVLPG exiting', 'INVLPG causes a VM exit'],
  [10, 'CPU_BASED_MWAIT_EXITING', 'MWAIT exiting', 'MWAIT causes a VM exit'],
  [11, 'CPU_BASED_RDPMC_EXITING', 'RDPMC exiting', 'RDPMC causes a VM exit'],
  [12, 'CPU_BASED_RDTSC_EXITING', 'RDTSC exiting', 'RDTSC and RDTSCP cause VM exits'],
  [15, 'CPU_BASED_CR3_LOAD_EXITING', 'CR3-load exiting', 'MOV to CR3 exits unless the value is a CR3 target'],
  [16, 'CPU_BASED_CR3_STORE_EXITING', 'CR3-store exiting', 'MOV from CR3 causes a VM exit'],
  [
    17,
    'CPU_BASED_ACTIVATE_TERTIARY_CONTROLS',
    'Activate tertiary controls',
    'TERTIARY_VM_EXEC_CONTROL is used',
  ],
  [19, 'CPU_BASED_CR8_LOAD_EXITING', 'CR8-load exiting', 'MOV to CR8 causes a VM exit'],
  [20, 'CPU_BASED_CR8_STORE_EXITING', 'CR8-store exiting', 'MOV from CR8 causes a VM exit'],
  [
    21,
    'CPU_BASED_TPR_SHADOW',
    'Use TPR shadow',
    'CR8 accesses use the virtual-APIC page; TPR_THRESHOLD applies',
  ],
  [
    22,
    'CPU_BASED_NMI_WINDOW_EXITING',
    'NMI-window exiting',
    'VM exit (reason 8) at any boundary with no virtual-NMI blocking (needs virtual NMIs)',
    { old: ['CPU_BASED_VIRTUAL_NMI_PENDING'] },
  ],
  [23, 'CPU_BASED_MOV_DR_EXITING', 'MOV-DR exiting', 'MOV to or from a debug register causes a VM exit'],
  [24, 'CPU_BASED_UNCOND_IO_EXITING', 'Unconditional I/O exiting', 'Every I/O instruction causes a VM exit'],
  [25, 'CPU_BASED_USE_IO_BITMAPS', 'Use I/O bitmaps', 'I/O bitmaps A and B choose which ports exit'],
  [
    27,
    'CPU_BASED_MONITOR_TRAP_FLAG',
    'Monitor trap flag',
    'VM exit (reason 37) after the first instruction or event delivery following VM entry',
  ],
  [28, 'CPU_BASED_USE_MSR_BITMAPS', 'Use MSR bitmaps', 'The MSR bitmaps choose which RDMSR/WRMSR exit'],
  [29, 'CPU_BASED_MONITOR_EXITING', 'MONITOR exiting', 'MONITOR causes a VM exit'],
  [30, 'CPU_BASED_PAUSE_EXITING', 'PAUSE exiting', 'PAUSE causes a VM exit'],
  [
    31,
    'CPU_BASED_ACTIVATE_SECONDARY_CONTROLS',
    'Activate secondary controls',
    'SECONDARY_VM_EXEC_CONTROL is used',
  ],
] as const satisfies readonly LayoutRow[];

export const CPU_BASED = masks(CPU_ROWS);
export const CPU_BASED_LAYOUT: FieldLayout = {
  fields: ['CPU_BASED_VM_EXEC_CONTROL'],
  entries: entries(PROC_SECTION, CPU_ROWS),
  defaultOne: 0x0401e172, // CPU_BASED_ALWAYSON_WITHOUT_TRUE_MSR: bits 1, 4-6, 8, 13-16, 26
  section: PROC_SECTION,
};

// Facts §1.2 lists bits 0, 1, 5, 7, 8, 9 and 25; the others follow Linux asm/vmxfeatures.h
// word 2 (the SDM table "Definitions of Secondary Processor-Based VM-Execution Controls").
const SECONDARY_ROWS = [
  [0, 'SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES', 'Virtualize APIC accesses', 'APIC-access page accesses'],
  [1, 'SECONDARY_EXEC_ENABLE_EPT', 'Enable EPT', 'Guest-physical addresses go through EPT'],
  [2, 'SECONDARY_EXEC_DESC', 'Descriptor-table exiting', 'LGDT, LIDT, LLDT, LTR, SGDT... exit'],
  [3, 'SECONDARY_EXEC_ENABLE_RDTSCP', 'Enable RDTSCP', 'RDTSCP does not cause #UD'],
  [4, 'SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE', 'Virtualize x2APIC mode', 'x2APIC MSR accesses'],
  [5, 'SECONDARY_EXEC_ENABLE_VPID', 'Enable VPID', 'TLB entries are tagged with VIRTUAL_PROCESSOR_ID'],
  [6, 'SECONDARY_EXEC_WBINVD_EXITING', 'WBINVD exiting', 'WBINVD causes a VM exit'],
  [7, 'SECONDARY_EXEC_UNRESTRICTED_GUEST', 'Unrestricted guest', 'The guest may run unpaged or in real mode'],
  [
    8,
    'SECONDARY_EXEC_APIC_REGISTER_VIRT',
    'APIC-register virtualization',
    'APIC reads from the virtual page',
  ],
  [
    9,
    'SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY',
    'Virtual-interrupt delivery',
    'The CPU evaluates and delivers virtual interrupts (RVI/SVI in GUEST_INTR_STATUS)',
  ],
  [
    10,
    'SECONDARY_EXEC_PAUSE_LOOP_EXITING',
    'PAUSE-loop exiting',
    'Long PAUSE loops exit (PLE_GAP, PLE_WINDOW)',
  ],
  [11, 'SECONDARY_EXEC_RDRAND_EXITING', 'RDRAND exiting', 'RDRAND causes a VM exit'],
  [12, 'SECONDARY_EXEC_ENABLE_INVPCID', 'Enable INVPCID', 'INVPCID does not cause #UD'],
  [13, 'SECONDARY_EXEC_ENABLE_VMFUNC', 'Enable VM functions', 'VMFUNC is allowed'],
  [14, 'SECONDARY_EXEC_SHADOW_VMCS', 'VMCS shadowing', 'Guest VMREAD/VMWRITE may use a shadow VMCS'],
  [15, 'SECONDARY_EXEC_ENCLS_EXITING', 'Enable ENCLS exiting', 'ENCLS leaves may exit'],
  [16, 'SECONDARY_EXEC_RDSEED_EXITING', 'RDSEED exiting', 'RDSEED causes a VM exit'],
  [17, 'SECONDARY_EXEC_ENABLE_PML', 'Enable PML', 'Page-modification logging'],
  [18, 'SECONDARY_EXEC_EPT_VIOLATION_VE', 'EPT-violation #VE', 'Some EPT violations become #VE'],
  [19, 'SECONDARY_EXEC_PT_CONCEAL_VMX', 'Conceal VMX from PT', 'Processor Trace hides VMX transitions'],
  [20, 'SECONDARY_EXEC_ENABLE_XSAVES', 'Enable XSAVES/XRSTORS', 'XSAVES and XRSTORS do not cause #UD'],
  [
    22,
    'SECONDARY_EXEC_MODE_BASED_EPT_EXEC',
    'Mode-based execute control for EPT',
    'Separate user/supervisor X',
  ],
  [24, 'SECONDARY_EXEC_PT_USE_GPA', 'Intel PT uses guest physical addresses', 'PT output addresses are GPAs'],
  [25, 'SECONDARY_EXEC_TSC_SCALING', 'Use TSC scaling', 'RDTSC returns TSC * TSC_MULTIPLIER + TSC_OFFSET'],
  [26, 'SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE', 'Enable user wait and pause', 'TPAUSE, UMONITOR, UMWAIT'],
  [30, 'SECONDARY_EXEC_BUS_LOCK_DETECTION', 'Bus-lock detection', 'A bus lock causes a VM exit (reason 74)'],
  [
    31,
    'SECONDARY_EXEC_NOTIFY_VM_EXITING',
    'Instruction timeout (notify VM exiting)',
    'Exit 75 when no event window opens for too long',
  ],
] as const satisfies readonly LayoutRow[];

export const SECONDARY_EXEC = masks(SECONDARY_ROWS);
export const SECONDARY_EXEC_LAYOUT: FieldLayout = {
  fields: ['SECONDARY_VM_EXEC_CONTROL'],
  entries: entries(PROC_SECTION, SECONDARY_ROWS),
  defaultOne: 0,
  section: PROC_SECTION,
};

const EXIT_ROWS = [
  [
    2,
    'VM_EXIT_SAVE_DEBUG_CONTROLS',
    'Save debug controls',
    'DR7 and IA32_DEBUGCTL are saved at VM exit (older Linux headers wrongly had 0x2)',
  ],
  [
    9,
    'VM_EXIT_HOST_ADDR_SPACE_SIZE',
    'Host address-space size',
    'The host runs in 64-bit mode after VM exit',
  ],
  [12, 'VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL', 'Load IA32_PERF_GLOBAL_CTRL', 'From HOST_IA32_PERF_GLOBAL_CTRL'],
  [
    15,
    'VM_EXIT_ACK_INTR_ON_EXIT',
    'Acknowledge interrupt on exit',
    'An external-interrupt exit acknowledges the interrupt controller and reports the vector in VM_EXIT_INTR_INFO',
  ],
  [18, 'VM_EXIT_SAVE_IA32_PAT', 'Save IA32_PAT', 'Into GUEST_IA32_PAT'],
  [19, 'VM_EXIT_LOAD_IA32_PAT', 'Load IA32_PAT', 'From HOST_IA32_PAT'],
  [20, 'VM_EXIT_SAVE_IA32_EFER', 'Save IA32_EFER', 'Into GUEST_IA32_EFER'],
  [21, 'VM_EXIT_LOAD_IA32_EFER', 'Load IA32_EFER', 'From HOST_IA32_EFER'],
  [
    22,
    'VM_EXIT_SAVE_VMX_PREEMPTION_TIMER',
    'Save VMX-preemption timer value',
    'The remaining count is written to VMX_PREEMPTION_TIMER_VALUE (requires the timer to be active)',
  ],
  [23, 'VM_EXIT_CLEAR_BNDCFGS', 'Clear IA32_BNDCFGS', 'IA32_BNDCFGS is cleared at VM exit'],
  [24, 'VM_EXIT_PT_CONCEAL_PIP', 'Conceal VMX from PT', 'No Processor Trace packet for the VM exit'],
  [25, 'VM_EXIT_CLEAR_IA32_RTIT_CTL', 'Clear IA32_RTIT_CTL', 'IA32_RTIT_CTL is cleared at VM exit'],
  [28, 'VM_EXIT_LOAD_CET_STATE', 'Load CET state', 'From HOST_S_CET, HOST_SSP, HOST_INTR_SSP_TABLE'],
] as const satisfies readonly LayoutRow[];

export const VM_EXIT = masks(EXIT_ROWS);
export const VM_EXIT_LAYOUT: FieldLayout = {
  fields: ['VM_EXIT_CONTROLS'],
  entries: entries(EXIT_SECTION, EXIT_ROWS),
  defaultOne: 0x00036dff, // VM_EXIT_ALWAYSON_WITHOUT_TRUE_MSR: bits 0-8, 10, 11, 13, 14, 16, 17
  section: EXIT_SECTION,
};

const ENTRY_ROWS = [
  [2, 'VM_ENTRY_LOAD_DEBUG_CONTROLS', 'Load debug controls', 'From GUEST_DR7 and GUEST_IA32_DEBUGCTL'],
  [9, 'VM_ENTRY_IA32E_MODE', 'IA-32e mode guest', 'The guest runs in IA-32e (64-bit) mode after VM entry'],
  [10, 'VM_ENTRY_SMM', 'Entry to SMM', 'The logical processor is in SMM after VM entry'],
  [11, 'VM_ENTRY_DEACT_DUAL_MONITOR', 'Deactivate dual-monitor treatment', 'Of SMIs and SMM'],
  [
    13,
    'VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL',
    'Load IA32_PERF_GLOBAL_CTRL',
    'From GUEST_IA32_PERF_GLOBAL_CTRL',
  ],
  [14, 'VM_ENTRY_LOAD_IA32_PAT', 'Load IA32_PAT', 'From GUEST_IA32_PAT'],
  [15, 'VM_ENTRY_LOAD_IA32_EFER', 'Load IA32_EFER', 'From GUEST_IA32_EFER'],
  [16, 'VM_ENTRY_LOAD_BNDCFGS', 'Load IA32_BNDCFGS', 'From GUEST_BNDCFGS'],
  [17, 'VM_ENTRY_PT_CONCEAL_PIP', 'Conceal VMX from PT', 'No Processor Trace packet for the VM entry'],
  [18, 'VM_ENTRY_LOAD_IA32_RTIT_CTL', 'Load IA32_RTIT_CTL', 'From GUEST_IA32_RTIT_CTL'],
  [20, 'VM_ENTRY_LOAD_CET_STATE', 'Load CET state', 'From GUEST_S_CET, GUEST_SSP, GUEST_INTR_SSP_TABLE'],
] as const satisfies readonly LayoutRow[];

export const VM_ENTRY = masks(ENTRY_ROWS);
export const VM_ENTRY_LAYOUT: FieldLayout = {
  fields: ['VM_ENTRY_CONTROLS'],
  entries: entries(ENTRY_SECTION, ENTRY_ROWS),
  defaultOne: 0x000011ff, // VM_ENTRY_ALWAYSON_WITHOUT_TRUE_MSR: bits 0-8, 12
  section: ENTRY_SECTION,
};
