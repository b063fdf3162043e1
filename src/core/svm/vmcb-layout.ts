// The VMCB's control words bit by bit, with the APM's meaning of each: int_ctl ("Virtual
// Interrupt Control"), int_state, EVENTINJ / EXITINTINFO ("Event Injection"), the intercept
// vectors ("Intercept Operation"), EFER, RFLAGS, CR0 and CR4 of the save area; and a one-line
// reading of a field's value (the set bits by name, the exit code's SVM_EXIT_* name, the
// event). Built from the shared tables (bits.ts, exit-codes.ts) so the core and the UI agree.
import { EVTINJ, INTERCEPT } from './bits';
import { svmExitName } from './exit-codes';

const APM = 'AMD64 APM Vol. 2';

export interface VmcbBitEntry {
  /** hi, lo (equal for a single bit). */
  readonly bits: readonly [number, number];
  /** As Linux names the mask without _MASK (V_NMI_BLOCKING → shown with its APM name). */
  readonly name: string;
  /** What the APM says the bit means. */
  readonly meaning: string;
  /** A subfield's values by name (EVENTINJ TYPE). */
  readonly values?: Readonly<Record<number, string>>;
}

export interface VmcbLayout {
  readonly section: string;
  readonly entries: readonly VmcbBitEntry[];
  /** A set bit not in `entries` is reserved (else: an undefined bit, shown by position). */
  readonly reservedOthers: boolean;
}

export interface VmcbBit {
  name: string;
  bits: readonly [number, number];
  value: number;
  set: boolean;
  /** "TYPE = 2 (NMI)", "V_NMI_MASK = 1". */
  text: string;
  meaning: string;
  section: string;
  /** A set bit that no entry defines. */
  reserved: boolean;
}

const bit = (n: number, name: string, meaning: string): VmcbBitEntry => ({ bits: [n, n], name, meaning });

const INT_CTL_LAYOUT: VmcbLayout = {
  section: `${APM} "Virtual Interrupt Control" (VMCB int_ctl), "NMI Virtualization", "Virtual GIF"`,
  reservedOthers: true,
  entries: [
    {
      bits: [3, 0],
      name: 'V_TPR',
      meaning:
        'The guest’s virtual TPR: with V_INTR_MASKING the guest’s CR8 reads and writes go here; V_IRQ is taken only when V_INTR_PRIO is above it',
    },
    bit(
      8,
      'V_IRQ',
      'A virtual interrupt is pending: taken (int_vector through the guest’s IDT) when the guest’s IF = 1 and V_INTR_PRIO > V_TPR (or V_IGN_TPR); the processor clears V_IRQ when it is taken, and the VINTR intercept exits (0x64) instead',
    ),
    bit(
      9,
      'V_GIF',
      'Virtual GIF (with V_GIF_ENABLE): the guest’s STGI sets it, CLGI clears it; 0 holds the guest’s virtual interrupts and NMIs',
    ),
    bit(
      11,
      'V_NMI',
      'A virtual NMI is pending (V_NMI_PENDING, with V_NMI_ENABLE): taken through the guest’s IDT vector 2 when V_NMI_MASK is clear; delivery clears V_NMI and sets V_NMI_MASK',
    ),
    bit(
      12,
      'V_NMI_MASK',
      'Virtual NMIs are blocked (V_NMI_BLOCKING): set when a virtual NMI is delivered, cleared by the guest’s IRET; a #VMEXIT during the delivery leaves it clear (the NMI is in EXITINTINFO)',
    ),
    {
      bits: [19, 16],
      name: 'V_INTR_PRIO',
      meaning: 'Priority of the V_IRQ interrupt, compared with V_TPR: taken only when above it',
    },
    bit(20, 'V_IGN_TPR', 'Ignore V_TPR: V_IRQ is taken whatever its priority'),
    bit(
      24,
      'V_INTR_MASKING',
      'Virtual interrupt masking: the guest’s RFLAGS.IF masks only virtual interrupts and its CR8 is V_TPR; physical interrupts are masked by the host’s IF as it was at VMRUN',
    ),
    bit(
      25,
      'V_GIF_ENABLE',
      'Enable virtual GIF (vGIF): the guest’s STGI/CLGI, not intercepted, set and clear V_GIF instead of GIF',
    ),
    bit(
      26,
      'V_NMI_ENABLE',
      'Enable NMI virtualization (vNMI): V_NMI and V_NMI_MASK are used; VMRUN fails without the NMI intercept (lab assumption, docs/svm.md)',
    ),
    bit(30, 'X2APIC_MODE', 'AVIC in x2APIC mode'),
    bit(31, 'AVIC_ENABLE', 'Enable the advanced virtual interrupt controller (AVIC; not modelled)'),
  ],
};

const INT_STATE_LAYOUT: VmcbLayout = {
  section: `${APM} "Interrupt Shadows" (VMCB int_state)`,
  reservedOthers: true,
  entries: [
    bit(
      0,
      'INTERRUPT_SHADOW',
      'The guest is in an interrupt shadow (after STI or MOV SS): written at #VMEXIT, and VMRUN starts the guest in the shadow for one instruction',
    ),
    bit(
      1,
      'GUEST_INTERRUPT_MASK',
      'The guest’s interrupt mask (RFLAGS.IF), for SEV-ES guests whose RFLAGS is hidden',
    ),
  ],
};

const INT_VECTOR_LAYOUT: VmcbLayout = {
  section: `${APM} "Virtual Interrupt Control" (VMCB int_vector)`,
  reservedOthers: true,
  entries: [
    { bits: [7, 0], name: 'V_INTR_VECTOR', meaning: 'The vector V_IRQ delivers through the guest’s IDT' },
  ],
};

const TYPES: Record<number, string> = { 0: 'INTR', 2: 'NMI', 3: 'exception', 4: 'software interrupt' };

function eventLayout(section: string, what: string): VmcbLayout {
  return {
    section,
    reservedOthers: true,
    entries: [
      { bits: [7, 0], name: 'VECTOR', meaning: `The vector of the ${what} (ignored for an NMI: 2)` },
      {
        bits: [10, 8],
        name: 'TYPE',
        meaning: '0 INTR, 2 NMI, 3 exception, 4 software interrupt (1, 5, 6, 7 are reserved: VMRUN fails)',
        values: TYPES,
      },
      bit(11, 'EV', `The ${what} pushes an error code (the dword after this one)`),
      bit(31, 'V', `Valid: there is an ${what}`),
    ],
  };
}

const EVENT_INJ_LAYOUT = eventLayout(
  `${APM} "Event Injection" (VMCB EVENTINJ)`,
  'event VMRUN injects into the guest; #VMEXIT clears V',
);
const EXIT_INT_INFO_LAYOUT = eventLayout(
  `${APM} "Event Injection": EXITINTINFO ("Interrupted Event Delivery")`,
  'event whose delivery the #VMEXIT interrupted, for the hypervisor to re-inject',
);

/** "INTERCEPT_CPUID" → "CPUID" for bits 96–159 (words 3 and 4), from bits.ts. */
function interceptWord(word: number, section: string): VmcbLayout {
  const entries: VmcbBitEntry[] = [];
  for (const [name, n] of Object.entries(INTERCEPT)) {
    if (n >> 5 !== word || name === 'INTERCEPT_EXCEPTION_OFFSET') continue;
    const short = name.replace(/^INTERCEPT_/, '');
    const code = word === 3 ? 0x60 + (n & 31) : 0x80 + (n & 31);
    entries.push(
      bit(n & 31, short, `Intercept ${short}: #VMEXIT ${svmExitName(code)} (0x${code.toString(16)})`),
    );
  }
  return { section, reservedOthers: false, entries: entries.sort((a, b) => a.bits[0] - b.bits[0]) };
}

function crDrWord(reg: 'CR' | 'DR', base: number): VmcbLayout {
  const entries: VmcbBitEntry[] = [];
  for (let n = 0; n < 16; n++) {
    entries.push(
      bit(n, `${reg}${n}_READ`, `Intercept MOV from ${reg}${n}: #VMEXIT 0x${(base + n).toString(16)}`),
    );
    entries.push(
      bit(
        16 + n,
        `${reg}${n}_WRITE`,
        `Intercept MOV to ${reg}${n}: #VMEXIT 0x${(base + 16 + n).toString(16)}`,
      ),
    );
  }
  return {
    section: `${APM} "Intercept Operation": "CR and DR Read and Write Intercepts"`,
    reservedOthers: false,
    entries: entries.sort((a, b) => a.bits[0] - b.bits[0]),
  };
}

const EXCEPTION_NAMES = [
  'DE', 'DB', 'NMI', 'BP', 'OF', 'BR', 'UD', 'NM', 'DF', 'CSO', 'TS', 'NP', 'SS', 'GP', 'PF', '15',
  'MF', 'AC', 'MC', 'XM', 'VE', 'CP', '22', '23', '24', '25', '26', '27', 'HV', 'VC', 'SX', '31',
]; // prettier-ignore

const EXCEPTIONS_LAYOUT: VmcbLayout = {
  section: `${APM} "Intercept Operation": "Exception Intercepts"`,
  reservedOthers: false,
  entries: EXCEPTION_NAMES.map((n, v) =>
    bit(
      v,
      /^\d+$/.test(n) ? `VECTOR_${n}` : `#${n}`,
      `Intercept exception vector ${v}: #VMEXIT SVM_EXIT_EXCP_BASE + ${v} (0x${(0x40 + v).toString(16)})`,
    ),
  ),
};

const EFER_LAYOUT: VmcbLayout = {
  section: `${APM} "Extended Feature Enable Register (EFER)"; "Enabling SVM"`,
  reservedOthers: false,
  entries: [
    bit(0, 'SCE', 'System-call extensions (SYSCALL/SYSRET)'),
    bit(8, 'LME', 'Long mode enable'),
    bit(10, 'LMA', 'Long mode active'),
    bit(11, 'NXE', 'No-execute enable'),
    bit(
      12,
      'SVME',
      'Secure virtual machine enable: the SVM instructions may run; VMRUN requires it in the guest’s EFER',
    ),
  ],
};

const RFLAGS_LAYOUT: VmcbLayout = {
  section: `${APM} "RFLAGS Register"`,
  reservedOthers: false,
  entries: [
    bit(0, 'CF', 'Carry flag'),
    bit(1, 'FIXED', 'Reserved, always 1'),
    bit(6, 'ZF', 'Zero flag'),
    bit(7, 'SF', 'Sign flag'),
    bit(8, 'TF', 'Trap flag: single-step #DB after each instruction'),
    bit(9, 'IF', 'Interrupt flag: maskable interrupts enabled (with V_INTR_MASKING, virtual ones only)'),
    bit(11, 'OF', 'Overflow flag'),
    bit(16, 'RF', 'Resume flag'),
  ],
};

const CR0_LAYOUT: VmcbLayout = {
  section: `${APM} "CR0 Register"`,
  reservedOthers: false,
  entries: [
    bit(0, 'PE', 'Protection enable'),
    bit(1, 'MP', 'Monitor coprocessor'),
    bit(5, 'NE', 'Numeric error'),
    bit(16, 'WP', 'Write protect'),
    bit(29, 'NW', 'Not write-through (with CD = 0, VMRUN fails)'),
    bit(30, 'CD', 'Cache disable'),
    bit(31, 'PG', 'Paging'),
  ],
};

const CR4_LAYOUT: VmcbLayout = {
  section: `${APM} "CR4 Register"`,
  reservedOthers: false,
  entries: [
    bit(5, 'PAE', 'Physical-address extension (required with EFER.LME and CR0.PG)'),
    bit(6, 'MCE', 'Machine-check enable'),
    bit(7, 'PGE', 'Page-global enable'),
    bit(9, 'OSFXSR', 'FXSAVE/FXRSTOR support'),
    bit(10, 'OSXMMEXCPT', 'Unmasked SIMD exceptions'),
    bit(13, 'VMXE', 'Intel’s VMX enable: reserved on AMD (VMRUN fails)'),
  ],
};

const LAYOUTS: Record<string, VmcbLayout> = {
  intercept_cr: crDrWord('CR', 0x00),
  intercept_dr: crDrWord('DR', 0x20),
  intercept_exceptions: EXCEPTIONS_LAYOUT,
  intercept: interceptWord(3, `${APM} "Intercept Operation" (intercept vector 3)`),
  intercept_word4: interceptWord(4, `${APM} "Intercept Operation" (intercept vector 4)`),
  int_ctl: INT_CTL_LAYOUT,
  int_vector: INT_VECTOR_LAYOUT,
  int_state: INT_STATE_LAYOUT,
  event_inj: EVENT_INJ_LAYOUT,
  exit_int_info: EXIT_INT_INFO_LAYOUT,
  efer: EFER_LAYOUT,
  rflags: RFLAGS_LAYOUT,
  cr0: CR0_LAYOUT,
  cr4: CR4_LAYOUT,
};

/** The bit layout of a VMCB field, or undefined for a plain number. */
export function vmcbLayout(name: string): VmcbLayout | undefined {
  return LAYOUTS[name];
}

function bitsOf(v: number, hi: number, lo: number): number {
  // Above bit 31 a 64-bit value is split: the lab's layouts stay in bits 31:0.
  const lo32 = (v % 0x100000000) >>> 0;
  return hi - lo === 31 ? lo32 >>> lo : (lo32 >>> lo) & ((1 << (hi - lo + 1)) - 1);
}

/**
 * A field's bits: every entry of its layout (set or not), then set bits no entry defines.
 * Only bits 31:0 are decoded (the lab's layouts define none above).
 */
export function decodeVmcbField(name: string, value: number): VmcbBit[] {
  const layout = LAYOUTS[name];
  if (!layout) return [];
  let defined = 0;
  const out: VmcbBit[] = layout.entries.map((e) => {
    const [hi, lo] = e.bits;
    const v = bitsOf(value, hi, lo);
    for (let b = lo; b <= hi; b++) defined |= 1 << b;
    const named = e.values?.[v];
    return {
      name: e.name,
      bits: e.bits,
      value: v,
      set: v !== 0,
      text:
        hi === lo
          ? `${e.name} = ${v}`
          : `${e.name} = ${hi - lo >= 3 ? '0x' + v.toString(16) : v}${named ? ` (${named})` : ''}`,
      meaning: e.meaning,
      section: layout.section,
      reserved: false,
    };
  });
  const lo32 = (value % 0x100000000) >>> 0;
  for (let b = 0; b < 32; b++) {
    if (defined & (1 << b) || !(lo32 & (2 ** b))) continue;
    out.push({
      name: layout.reservedOthers ? `reserved ${b}` : `bit ${b}`,
      bits: [b, b],
      value: 1,
      set: true,
      text: layout.reservedOthers ? `Reserved bit ${b} is set` : `Bit ${b} is set`,
      meaning: layout.reservedOthers ? 'Reserved (must be zero)' : 'A bit the lab does not name',
      section: layout.section,
      reserved: true,
    });
  }
  return out.sort((a, b) => a.bits[1] - b.bits[1]);
}

/** An EVENTINJ / EXITINTINFO word in words: "NMI · vector 0x02", "not valid". */
export function svmEventSummary(w: number): string {
  const valid = (w & EVTINJ.SVM_EVTINJ_VALID) !== 0;
  if (!valid && w === 0) return 'not valid';
  const type = (w >>> 8) & 7;
  const what = `${TYPES[type] ?? `reserved type ${type}`} · vector 0x${(w & 0xff).toString(16).padStart(2, '0')}${w & EVTINJ.SVM_EVTINJ_VALID_ERR ? ' · error code' : ''}`;
  return valid ? what : `not valid (was ${what})`;
}

/** One line reading a field's value: the exit code's name, the event, the set bits. */
export function vmcbFieldSummary(name: string, value: number): string {
  if (name === 'exit_code') return `${svmExitName(value >>> 0).replace(/^SVM_EXIT_/, '')}`;
  if (name === 'event_inj' || name === 'exit_int_info') return svmEventSummary(value >>> 0);
  if (name === 'int_vector') return `vector 0x${(value & 0xff).toString(16).padStart(2, '0')}`;
  const layout = LAYOUTS[name];
  if (!layout) return '';
  const set = decodeVmcbField(name, value)
    .filter((b) => b.set && !(name === 'rflags' && b.name === 'FIXED'))
    .map((b) => (b.bits[0] === b.bits[1] ? b.name : `${b.name}=${b.value}`));
  return set.length === 0 ? 'none set' : set.join(' ');
}
