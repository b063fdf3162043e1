// The VMCB as data: the control area (offsets 0x000–0x3FF) and the save area (0x400–) as
// Linux's struct vmcb_control_area / struct vmcb_save_area spell them (arch/x86/include/asm/
// svm.h), AMD APM vol. 2 appendix B "Layout of VMCB". Offsets are from the start of the VMCB
// page (the save area's are 0x400 + its own offset). Facts: vmx-svm-facts.md §2.1.

export type VmcbArea = 'control' | 'save';

export interface VmcbField {
  /** The member name as Linux spells it (segments as `idtr.base`, ...). */
  readonly name: string;
  /** The assembler constant: VMCB_ + the name in capitals (`VMCB_INT_CTL`). */
  readonly constant: string;
  readonly offset: number;
  /** Width in bytes. */
  readonly size: 1 | 2 | 4 | 8;
  readonly area: VmcbArea;
  readonly description: string;
}

type Row = [name: string, offset: number, size: 1 | 2 | 4 | 8, description: string];

const CONTROL: Row[] = [
  ['intercept_cr', 0x000, 4, 'Intercept vector 0: CR0–CR15 reads (bits 15:0), writes (bits 31:16)'],
  ['intercept_dr', 0x004, 4, 'Intercept vector 1: DR0–DR15 reads (bits 15:0), writes (bits 31:16)'],
  ['intercept_exceptions', 0x008, 4, 'Intercept vector 2: exception vectors 0–31 (bit n = vector n)'],
  ['intercept', 0x00c, 4, 'Intercept vector 3: INTR, NMI, SMI, INIT, VINTR, ... SHUTDOWN'],
  ['intercept_word4', 0x010, 4, 'Intercept vector 4: VMRUN, VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, ...'],
  ['intercept_word5', 0x014, 4, 'Intercept vector 5: INVLPGB, INVPCID, ...'],
  ['pause_filter_thresh', 0x03c, 2, 'PAUSE filter threshold'],
  ['pause_filter_count', 0x03e, 2, 'PAUSE filter count'],
  ['iopm_base_pa', 0x040, 8, 'Physical address of the I/O permission map (12 KiB)'],
  ['msrpm_base_pa', 0x048, 8, 'Physical address of the MSR permission map (8 KiB)'],
  ['tsc_offset', 0x050, 8, 'Added to the TSC the guest reads'],
  ['asid', 0x058, 4, 'Guest ASID (0 is the host’s: VMRUN fails)'],
  ['tlb_ctl', 0x05c, 1, 'TLB control'],
  ['int_ctl', 0x060, 4, 'Virtual interrupt control: V_TPR, V_IRQ, V_GIF, V_NMI, ... (see INT_CTL bits)'],
  ['int_vector', 0x064, 4, 'Bits 7:0: the vector V_IRQ delivers'],
  ['int_state', 0x068, 4, 'Bit 0: guest in an interrupt shadow; bit 1: guest interrupt mask'],
  ['exit_code', 0x070, 4, 'EXITCODE bits 31:0 (SVM_EXIT_*; -1 is VMEXIT_INVALID)'],
  ['exit_code_hi', 0x074, 4, 'EXITCODE bits 63:32'],
  ['exit_info_1', 0x078, 8, 'EXITINFO1'],
  ['exit_info_2', 0x080, 8, 'EXITINFO2'],
  ['exit_int_info', 0x088, 4, 'EXITINTINFO: the event being delivered when the #VMEXIT occurred'],
  ['exit_int_info_err', 0x08c, 4, 'EXITINTINFO error code'],
  ['nested_ctl', 0x090, 8, 'Bit 0: nested paging enable'],
  ['avic_vapic_bar', 0x098, 8, 'AVIC APIC BAR'],
  ['ghcb_gpa', 0x0a0, 8, 'GHCB guest physical address'],
  ['event_inj', 0x0a8, 4, 'EVENTINJ: vector, type, EV, V (SVM_EVTINJ_*)'],
  ['event_inj_err', 0x0ac, 4, 'EVENTINJ error code'],
  ['nested_cr3', 0x0b0, 8, 'Nested page table CR3'],
  ['virt_ext', 0x0b8, 8, 'LBR virtualization, virtual VMLOAD/VMSAVE'],
  ['clean', 0x0c0, 4, 'VMCB clean bits'],
  ['next_rip', 0x0c8, 8, 'nRIP: the next sequential instruction pointer (NRIPS)'],
  ['insn_len', 0x0d0, 1, 'Number of instruction bytes fetched (decode assists)'],
  ['avic_backing_page', 0x0e0, 8, 'AVIC backing page'],
  ['avic_logical_id', 0x0f0, 8, 'AVIC logical table'],
  ['avic_physical_id', 0x0f8, 8, 'AVIC physical table'],
];

const SEGMENTS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'gdtr', 'ldtr', 'idtr', 'tr'];

const SAVE: Row[] = [
  ...SEGMENTS.flatMap((s, i): Row[] => [
    [`${s}.selector`, 0x400 + i * 16, 2, `${s.toUpperCase()} selector`],
    [`${s}.attrib`, 0x402 + i * 16, 2, `${s.toUpperCase()} attributes`],
    [`${s}.limit`, 0x404 + i * 16, 4, `${s.toUpperCase()} limit`],
    [`${s}.base`, 0x408 + i * 16, 8, `${s.toUpperCase()} base`],
  ]),
  ['cpl', 0x4cb, 1, 'Current privilege level'],
  ['efer', 0x4d0, 8, 'EFER (SVME is bit 12)'],
  ['cr4', 0x548, 8, 'CR4'],
  ['cr3', 0x550, 8, 'CR3'],
  ['cr0', 0x558, 8, 'CR0'],
  ['dr7', 0x560, 8, 'DR7'],
  ['dr6', 0x568, 8, 'DR6'],
  ['rflags', 0x570, 8, 'RFLAGS'],
  ['rip', 0x578, 8, 'RIP'],
  ['rsp', 0x5d8, 8, 'RSP'],
  ['rax', 0x5f8, 8, 'RAX'],
  ['star', 0x600, 8, 'STAR'],
  ['lstar', 0x608, 8, 'LSTAR'],
  ['cstar', 0x610, 8, 'CSTAR'],
  ['sfmask', 0x618, 8, 'SFMASK'],
  ['kernel_gs_base', 0x620, 8, 'KernelGsBase'],
  ['sysenter_cs', 0x628, 8, 'SYSENTER_CS'],
  ['sysenter_esp', 0x630, 8, 'SYSENTER_ESP'],
  ['sysenter_eip', 0x638, 8, 'SYSENTER_EIP'],
  ['cr2', 0x640, 8, 'CR2'],
  ['g_pat', 0x668, 8, 'Guest PAT'],
  ['dbgctl', 0x670, 8, 'DBGCTL'],
];

function field(area: VmcbArea, [name, offset, size, description]: Row): VmcbField {
  return {
    name,
    constant: `VMCB_${name.replace('.', '_').toUpperCase()}`,
    offset,
    size,
    area,
    description,
  };
}

/** Every VMCB field the lab names, control area first, in offset order. */
export const VMCB_FIELDS: readonly VmcbField[] = [
  ...CONTROL.map((r) => field('control', r)),
  ...SAVE.map((r) => field('save', r)),
];

const BY_NAME = new Map(VMCB_FIELDS.map((f) => [f.name, f]));

/** A field by its Linux member name (`int_ctl`, `idtr.base`). */
export function vmcbField(name: string): VmcbField {
  const f = BY_NAME.get(name);
  if (!f) throw new Error(`no VMCB field '${name}'`);
  return f;
}

/** Offsets the model uses, by Linux member name. */
export const VMCB = {
  INTERCEPT_CR: 0x000,
  INTERCEPT_DR: 0x004,
  INTERCEPT_EXCEPTIONS: 0x008,
  INTERCEPT: 0x00c,
  INTERCEPT_WORD4: 0x010,
  IOPM_BASE_PA: 0x040,
  MSRPM_BASE_PA: 0x048,
  TSC_OFFSET: 0x050,
  ASID: 0x058,
  INT_CTL: 0x060,
  INT_VECTOR: 0x064,
  INT_STATE: 0x068,
  EXIT_CODE: 0x070,
  EXIT_CODE_HI: 0x074,
  EXIT_INFO_1: 0x078,
  EXIT_INFO_2: 0x080,
  EXIT_INT_INFO: 0x088,
  EXIT_INT_INFO_ERR: 0x08c,
  NESTED_CTL: 0x090,
  NESTED_CR3: 0x0b0,
  EVENT_INJ: 0x0a8,
  EVENT_INJ_ERR: 0x0ac,
  NEXT_RIP: 0x0c8,
  CS_ATTRIB: 0x412,
  SS_SELECTOR: 0x420,
  GDTR_BASE: 0x468,
  CR2: 0x640,
  IDTR_BASE: 0x488,
  EFER: 0x4d0,
  CR4: 0x548,
  CR3: 0x550,
  CR0: 0x558,
  DR7: 0x560,
  DR6: 0x568,
  RFLAGS: 0x570,
  RIP: 0x578,
  RSP: 0x5d8,
  RAX: 0x5f8,
} as const;

/**
 * The closest field constant to an unknown `VMCB_...` name, for errors: the least edit
 * distance, ties going to the longest common prefix (`VMCB_INT_VEC` → VMCB_INT_VECTOR).
 */
export function closestVmcbConstant(name: string): string {
  const n = name.toUpperCase();
  let best = VMCB_FIELDS[0].constant;
  let bestD = Infinity;
  let bestP = -1;
  for (const f of VMCB_FIELDS) {
    const d = distance(n, f.constant);
    const p = commonPrefix(n, f.constant);
    if (d < bestD || (d === bestD && p > bestP)) {
      bestD = d;
      bestP = p;
      best = f.constant;
    }
  }
  return best;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}
