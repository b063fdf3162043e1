// What the VMCS panel shows of a VmcsView: its fields in four groups (the important ones
// first), each with a one-line reading of its value, its bits decoded by the core's shared
// layouts, and what changed since the step before. Pure functions, no React.
import { EVENT_TYPE_NAMES, type VmcsFieldValue, type VmcsView } from '../../core/engine/view';
import {
  decodeField,
  entryBits,
  exitReasonByCode,
  fieldByEncoding,
  layoutOf,
  widthInBits,
  type DecodedBit,
  type FieldType,
  type VmcsField,
} from '../../core/vmx';

export const GROUPS: readonly { type: FieldType; title: string }[] = [
  { type: 'exit-info', title: 'VM-exit information' },
  { type: 'control', title: 'Controls' },
  { type: 'guest', title: 'Guest state' },
  { type: 'host', title: 'Host state' },
];

/** The fields a reader of an event's path looks at first, in that order. */
export const IMPORTANT_FIELDS: readonly string[] = [
  'VM_EXIT_REASON',
  'VM_EXIT_INTR_INFO',
  'IDT_VECTORING_INFO_FIELD',
  'VM_INSTRUCTION_ERROR',
  'VM_ENTRY_INTR_INFO_FIELD',
  'PIN_BASED_VM_EXEC_CONTROL',
  'CPU_BASED_VM_EXEC_CONTROL',
  'GUEST_INTERRUPTIBILITY_INFO',
  'GUEST_ACTIVITY_STATE',
  'GUEST_RIP',
  'GUEST_RFLAGS',
  'VMX_PREEMPTION_TIMER_VALUE',
  'HOST_RIP',
];
const RANK = new Map(IMPORTANT_FIELDS.map((n, i) => [n, i]));

export interface FieldRow {
  name: string;
  encoding: number;
  value: number;
  /** Undefined for an encoding the table does not know (shown by number). */
  field: VmcsField | undefined;
  important: boolean;
  /** Differs from the step before (or is new). */
  changed: boolean;
  prevValue: number | undefined;
}

export interface FieldGroup {
  type: FieldType;
  title: string;
  rows: FieldRow[];
  /** Rows left out because only the important fields are shown. */
  hidden: number;
}

/**
 * The VMCS of the step before with the same role and address, if it existed then (a vmcs12 is
 * at an address of L1's memory, which may equal one of L0's).
 */
export function previousVmcs(prev: VmcsView[] | undefined, vmcs: VmcsView): VmcsView | undefined {
  return prev?.find((p) => p.addr === vmcs.addr && p.role === vmcs.role);
}

/**
 * The rows of each group: important fields first (in IMPORTANT_FIELDS order), then the rest
 * by encoding. With `showAll` false, only important fields, fields that changed and `keep`s are kept.
 * `prev` undefined means there is no step before to compare with (nothing is "changed").
 */
export function fieldGroups(
  vmcs: VmcsView,
  prev: VmcsView | null | undefined,
  showAll: boolean,
  /** Fields kept even when not important (those the step's decision read). */
  keep: (encoding: number) => boolean = () => false,
): FieldGroup[] {
  const before = prev ? new Map(prev.fields.map((f) => [f.encoding, f.value])) : null;
  const rows = vmcs.fields.map((f: VmcsFieldValue): FieldRow => {
    const field = fieldByEncoding(f.encoding);
    const prevValue = before?.get(f.encoding);
    return {
      name: field?.name ?? f.name,
      encoding: f.encoding,
      value: f.value,
      field,
      important: RANK.has(field?.name ?? f.name),
      // A VMCS that did not exist at the step before is new as a whole.
      changed: prev === undefined ? false : prevValue !== f.value,
      prevValue,
    };
  });
  const order = (r: FieldRow) => RANK.get(r.name) ?? IMPORTANT_FIELDS.length;
  return GROUPS.map(({ type, title }) => {
    const all = rows
      .filter((r) => (r.field?.type ?? 'control') === type)
      .sort((a, b) => order(a) - order(b) || a.encoding - b.encoding);
    const shown = showAll ? all : all.filter((r) => r.important || r.changed || keep(r.encoding));
    return { type, title, rows: shown, hidden: all.length - shown.length };
  }).filter((g) => g.rows.length > 0 || g.hidden > 0);
}

/** The value in hex, padded to the field's width (16-bit: 4 digits, 32-bit: 8, else as needed). */
export function fieldHex(field: VmcsField | undefined, value: number): string {
  const width = field ? widthInBits(field.width) : 64;
  const digits = width === 16 ? 4 : width === 32 ? 8 : 1;
  return '0x' + value.toString(16).padStart(digits, '0');
}

const PREFIXES = [
  'PIN_BASED_',
  'CPU_BASED_',
  'SECONDARY_EXEC_',
  'VM_EXIT_',
  'VM_ENTRY_',
  'GUEST_INTR_STATE_',
  'X86_EFLAGS_',
  'INTR_INFO_',
  'VECTORING_INFO_',
];

/** A bit's name without its field's prefix: CPU_BASED_HLT_EXITING → HLT_EXITING. */
export function shortBitName(bit: Pick<DecodedBit, 'linuxName' | 'name'>): string {
  const n = bit.linuxName;
  if (!n) return bit.name;
  const prefix = PREFIXES.find((p) => n.startsWith(p));
  return prefix ? n.slice(prefix.length) : n;
}

function vectorHex(v: number): string {
  return '0x' + v.toString(16).padStart(2, '0');
}

/** "NMI · vector 0x02" for an interruption-information value, marked when not valid. */
function interruptionSummary(value: number): string {
  const valid = (value & 0x80000000) !== 0;
  if (!valid && value === 0) return 'not valid';
  const type = EVENT_TYPE_NAMES[(value >>> 8) & 7] ?? `type ${(value >>> 8) & 7}`;
  const what = `${type} · vector ${vectorHex(value & 0xff)}${value & 0x800 ? ' · error code' : ''}`;
  return valid ? what : `not valid (was ${what})`;
}

/** One line that reads a field's value: the exit reason's name, the event, the set bits. */
export function fieldSummary(name: string, value: number): string {
  const layout = layoutOf(name);
  if (!layout) return '';
  if (layout.interruptionInfo) return interruptionSummary(value);
  if (name === 'VM_EXIT_REASON') {
    const basic = value & 0xffff;
    const code = exitReasonByCode(basic);
    const failed = value & 0x80000000 ? 'VM-entry failure: ' : '';
    return `${failed}${basic} ${code ? code.name.replace(/^EXIT_REASON_/, '') : '(unknown)'}`;
  }
  const bits = decodeField(name, value);
  if (name === 'GUEST_ACTIVITY_STATE' || name === 'VM_INSTRUCTION_ERROR') {
    return /\((.*)\)$/.exec(bits[0]?.text ?? '')?.[1] ?? String(value);
  }
  const set = bits
    .filter((b) => b.set && b.kind !== 'default1' && b.name !== 'Reserved (always 1)')
    .map((b) => {
      const [hi, lo] = b.bits;
      const short = shortBitName(b);
      return hi === lo ? short : `${short}=${String(b.value)}`;
    });
  return set.length === 0 ? 'none set' : set.join(' ');
}

export interface BitRow {
  bit: DecodedBit;
  /** "2" or "10:8". */
  position: string;
  /** SDM section and description, for the tooltip. */
  section: string;
  description: string;
  changed: boolean;
}

/**
 * The field's bits for the expanded row: every defined bit and subfield, reserved bits that
 * are set, and default-1 bits; each marked changed when it differs from `prevValue`.
 */
export function bitRows(name: string, value: number, prevValue: number | undefined): BitRow[] {
  const layout = layoutOf(name);
  if (!layout) return [];
  const before = prevValue === undefined ? null : decodeField(name, prevValue);
  const key = (b: DecodedBit) => `${b.bits[0]}:${b.bits[1]}`;
  const was = new Map((before ?? []).map((b) => [key(b), b.value]));
  const entries = new Map(layout.entries.map((e) => [entryBits(e).join(':'), e]));
  return decodeField(name, value).map((bit) => {
    const [hi, lo] = bit.bits;
    const entry = entries.get(`${hi}:${lo}`);
    return {
      bit,
      position: hi === lo ? String(lo) : `${hi}:${lo}`,
      section: entry?.section ?? layout.section,
      description: entry?.description ?? bit.text,
      changed: before !== null && (was.get(key(bit)) ?? 0) !== bit.value,
    };
  });
}

/** The tooltip of a field: what it is and where the SDM defines it. */
export function fieldTitle(row: FieldRow): string {
  if (!row.field) return `Encoding 0x${row.encoding.toString(16)}`;
  const f = row.field;
  return `${f.name} (encoding 0x${f.encoding.toString(16).padStart(4, '0')}, ${f.width === 'natural' ? 'natural width' : `${f.width}-bit`}): ${f.description}\n${f.section}`;
}
