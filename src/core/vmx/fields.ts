// The VMCS field table shared by the core (VM entry and exit, VMREAD/VMWRITE by field name in
// the lab's assembly language) and the UI, with lookups by name and by encoding.

import { type VmcsField, decodeEncoding } from './encoding';
import { CONTROL_FIELDS } from './fields-control';
import { EXIT_INFO_FIELDS } from './fields-exit-info';
import { GUEST_FIELDS } from './fields-guest';
import { HOST_FIELDS } from './fields-host';

export {
  type EncodingParts,
  type FieldType,
  type FieldWidth,
  type VmcsField,
  decodeEncoding,
  encodeField,
  widthInBits,
} from './encoding';

/** Every VMCS field the lab models, ordered by type, then by encoding within each width. */
export const VMCS_FIELDS: readonly VmcsField[] = [
  ...CONTROL_FIELDS,
  ...EXIT_INFO_FIELDS,
  ...GUEST_FIELDS,
  ...HOST_FIELDS,
];

const BY_NAME = new Map(VMCS_FIELDS.map((f) => [f.name, f]));
const BY_ENCODING = new Map(VMCS_FIELDS.map((f) => [f.encoding, f]));

/** The field with exactly this name (case-sensitive, Linux spelling). */
export function fieldByName(name: string): VmcsField | undefined {
  return BY_NAME.get(name);
}

/** The field whose full encoding is `enc` (a high-half encoding is not a field of its own). */
export function fieldByEncoding(enc: number): VmcsField | undefined {
  return BY_ENCODING.get(enc);
}

/** A field as VMREAD/VMWRITE address it: the whole field, or bits 63:32 of a 64-bit one. */
export interface FieldAccess {
  field: VmcsField;
  high: boolean;
}

/**
 * Resolves a VMREAD/VMWRITE operand given by name: a field name, or a 64-bit field's name
 * with `_HIGH` (Linux's spelling of the access-type-1 encodings, e.g. TSC_OFFSET_HIGH).
 */
export function resolveFieldName(name: string): FieldAccess | undefined {
  const field = BY_NAME.get(name);
  if (field) return { field, high: false };
  if (!name.endsWith('_HIGH')) return undefined;
  const full = BY_NAME.get(name.slice(0, -'_HIGH'.length));
  return full && full.width === 64 ? { field: full, high: true } : undefined;
}

/**
 * Resolves a VMREAD/VMWRITE operand given by encoding; undefined when the encoding is
 * malformed or names a component the lab does not model (VM-instruction error 12,
 * "VMREAD/VMWRITE from/to unsupported VMCS component").
 */
export function resolveFieldEncoding(enc: number): FieldAccess | undefined {
  const parts = decodeEncoding(enc);
  if (!parts) return undefined;
  const field = BY_ENCODING.get(parts.access === 'high' ? enc - 1 : enc);
  return field ? { field, high: parts.access === 'high' } : undefined;
}

/**
 * Other spellings of the event-related fields (kvm-unit-tests x86/vmx.h enum Encoding, and
 * names read off the SDM), so that a program written in those words gets a useful hint.
 */
const ALIASES: Record<string, string> = {
  PIN_CONTROLS: 'PIN_BASED_VM_EXEC_CONTROL',
  CPU_EXEC_CTRL0: 'CPU_BASED_VM_EXEC_CONTROL',
  CPU_EXEC_CTRL1: 'SECONDARY_VM_EXEC_CONTROL',
  EXC_BITMAP: 'EXCEPTION_BITMAP',
  EXI_CONTROLS: 'VM_EXIT_CONTROLS',
  ENT_CONTROLS: 'VM_ENTRY_CONTROLS',
  ENT_INTR_INFO: 'VM_ENTRY_INTR_INFO_FIELD',
  ENT_INTR_ERROR: 'VM_ENTRY_EXCEPTION_ERROR_CODE',
  ENT_INST_LEN: 'VM_ENTRY_INSTRUCTION_LEN',
  VMX_INST_ERROR: 'VM_INSTRUCTION_ERROR',
  EXI_REASON: 'VM_EXIT_REASON',
  EXI_INTR_INFO: 'VM_EXIT_INTR_INFO',
  EXI_INTR_ERROR: 'VM_EXIT_INTR_ERROR_CODE',
  IDT_VECT_INFO: 'IDT_VECTORING_INFO_FIELD',
  IDT_VECT_ERROR: 'IDT_VECTORING_ERROR_CODE',
  EXI_INST_LEN: 'VM_EXIT_INSTRUCTION_LEN',
  EXI_INST_INFO: 'VMX_INSTRUCTION_INFO',
  EXI_QUALIFICATION: 'EXIT_QUALIFICATION',
  GUEST_INTR_STATE: 'GUEST_INTERRUPTIBILITY_INFO',
  GUEST_ACTV_STATE: 'GUEST_ACTIVITY_STATE',
  GUEST_PENDING_DEBUG: 'GUEST_PENDING_DBG_EXCEPTIONS',
  PREEMPT_TIMER_VALUE: 'VMX_PREEMPTION_TIMER_VALUE',
  VMCS_LINK_PTR: 'VMCS_LINK_POINTER',
  GUEST_EFER: 'GUEST_IA32_EFER',
  HOST_EFER: 'HOST_IA32_EFER',
  VM_ENTRY_INTERRUPTION_INFO: 'VM_ENTRY_INTR_INFO_FIELD',
  VM_EXIT_INTERRUPTION_INFO: 'VM_EXIT_INTR_INFO',
  IDT_VECTORING_INFO: 'IDT_VECTORING_INFO_FIELD',
  VM_EXIT_QUALIFICATION: 'EXIT_QUALIFICATION',
  GUEST_INTERRUPTIBILITY_STATE: 'GUEST_INTERRUPTIBILITY_INFO',
};

/** Edit distance (insertions, deletions, substitutions). */
function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * Field names close to an unknown `name`, best first, for "did you mean ...?": another
 * spelling of it (ALIASES), the same name in another case, names that contain it or are
 * one edit away, then names within a few edits.
 */
export function suggestField(name: string, limit = 3): string[] {
  const query = name.trim().toUpperCase();
  if (query === '') return [];
  const scored: [string, number][] = [];
  const alias = ALIASES[query];
  if (alias) scored.push([alias, -1]);
  const budget = Math.max(2, Math.floor(query.length / 4));
  for (const f of VMCS_FIELDS) {
    // A name that contains the query (a shortened name) ranks like a one-letter typo.
    const contains = query.length >= 3 && f.name.includes(query);
    const d = f.name === query ? 0 : contains ? 1 : levenshtein(query, f.name);
    if (d <= budget) scored.push([f.name, d]);
  }
  scored.sort((a, b) => a[1] - b[1] || a[0].length - b[0].length || (a[0] < b[0] ? -1 : 1));
  return [...new Set(scored.map(([n]) => n))].slice(0, limit);
}

/** The error message for an unknown field name, with suggestions when there are some. */
export function unknownFieldMessage(name: string): string {
  const hints = suggestField(name);
  const hint = hints.length === 0 ? '' : ` (did you mean ${hints.join(' or ')}?)`;
  return `unknown VMCS field '${name}'${hint}`;
}
