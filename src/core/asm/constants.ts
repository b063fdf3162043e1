// Named numbers of VMX that programs may use in any expression, spelt as Linux spells them:
// VMCS field encodings (VM_EXIT_REASON = 0x4402, TSC_OFFSET_HIGH = 0x2011), control and
// state bits (PIN_BASED_NMI_EXITING = 0x8), exit reasons, VM-instruction errors,
// interruption types and activity states. Everything comes from src/core/vmx.

import {
  CPU_BASED,
  ENTRY_FAILURE_QUALIFICATIONS,
  EXIT_REASON_BITS,
  EXIT_REASONS,
  GUEST_ACTIVITY,
  GUEST_INTR_STATE,
  INTERRUPTION_TYPES,
  INTR_INFO,
  LAYOUTS,
  PIN_BASED,
  SECONDARY_EXEC,
  VECTORING_INFO,
  VM_ENTRY,
  VM_EXIT,
  VM_INSTRUCTION_ERRORS,
  VMCS_FIELDS,
  X86_EFLAGS,
  type VmxCode,
} from '../vmx';
import { SVM_CONSTANTS } from '../svm/constants';

/**
 * What a constant stands for: a field encoding (`field`), the encoding of the high half of a
 * 64-bit field (`field-high`), a bit mask (`bit`), or a number VMX reports or takes (`code`).
 */
export type AsmConstantKind = 'field' | 'field-high' | 'bit' | 'code';

export interface AsmConstant {
  readonly name: string;
  readonly value: number;
  readonly kind: AsmConstantKind;
  readonly description: string;
}

/** Describes a bit or subfield by its SDM name and the field it belongs to. */
const BIT_DESCRIPTIONS = new Map<string, string>();
for (const layout of LAYOUTS) {
  for (const e of layout.entries) {
    const text = `${e.name} (${layout.fields.join(', ')})`;
    if (e.linuxName !== null && !BIT_DESCRIPTIONS.has(e.linuxName)) BIT_DESCRIPTIONS.set(e.linuxName, text);
    if ('oldLinuxNames' in e) {
      for (const old of e.oldLinuxNames ?? []) {
        BIT_DESCRIPTIONS.set(old, `${text}; old Linux name of ${e.linuxName ?? e.name}`);
      }
    }
  }
}

function build(): AsmConstant[] {
  const out: AsmConstant[] = [];
  for (const f of VMCS_FIELDS) {
    out.push({ name: f.name, value: f.encoding, kind: 'field', description: f.description });
    if (f.width === 64) {
      out.push({
        name: `${f.name}_HIGH`,
        value: f.encoding + 1,
        kind: 'field-high',
        description: `Bits 63:32 of ${f.name}`,
      });
    }
  }
  const maskObjects: Readonly<Record<string, number>>[] = [
    PIN_BASED,
    CPU_BASED,
    SECONDARY_EXEC,
    VM_EXIT,
    VM_ENTRY,
    INTR_INFO,
    VECTORING_INFO,
    GUEST_INTR_STATE,
    EXIT_REASON_BITS,
    X86_EFLAGS,
  ];
  const bits = new Map<string, number>();
  for (const m of maskObjects) for (const [name, value] of Object.entries(m)) bits.set(name, value);
  // Bits that have a Linux name in a layout but no mask object (DR_TRAP0, DR6_BS, ...), and
  // the names older Linux headers used (CPU_BASED_VIRTUAL_INTR_PENDING, ...).
  for (const layout of LAYOUTS) {
    for (const e of layout.entries) {
      if (e.linuxName !== null && !bits.has(e.linuxName)) bits.set(e.linuxName, e.mask);
      if ('oldLinuxNames' in e) for (const old of e.oldLinuxNames ?? []) bits.set(old, e.mask);
    }
  }
  for (const [name, value] of bits) {
    out.push({ name, value, kind: 'bit', description: BIT_DESCRIPTIONS.get(name) ?? name });
  }
  const codes = (list: readonly VmxCode[], shift = 0) => {
    for (const c of list)
      out.push({ name: c.name, value: c.code << shift, kind: 'code', description: c.description });
  };
  codes(EXIT_REASONS);
  codes(VM_INSTRUCTION_ERRORS);
  // Linux's INTR_TYPE_* hold the type already in bits 10:8, ready to be or-ed into the
  // interruption information (INTR_TYPE_NMI_INTR = 0x200).
  codes(INTERRUPTION_TYPES, 8);
  codes(ENTRY_FAILURE_QUALIFICATIONS);
  const activity = ['Active', 'HLT', 'Shutdown', 'Wait-for-SIPI'];
  for (const [name, value] of Object.entries(GUEST_ACTIVITY)) {
    out.push({ name, value, kind: 'code', description: `Activity state ${activity[value]}` });
  }
  // AMD SVM: VMCB offsets, int_ctl/EVENTINJ bits, intercept masks, exit codes (svm/constants.ts).
  const taken = new Set(out.map((c) => c.name));
  for (const c of SVM_CONSTANTS) if (!taken.has(c.name)) out.push(c);
  return out;
}

/**
 * Every constant a program may use as a number, in table order: fields (with the `_HIGH`
 * encodings of 64-bit fields), bits, then exit reasons, VM-instruction errors,
 * interruption types, VM-entry failure qualifications and activity states. Names are
 * unique and case-sensitive; a label may not take one of them.
 */
export const VMX_CONSTANTS: readonly AsmConstant[] = build();

const BY_NAME = new Map(VMX_CONSTANTS.map((c) => [c.name, c]));

/** The constant with exactly this name, or undefined. */
export function vmxConstant(name: string): AsmConstant | undefined {
  return BY_NAME.get(name);
}
