// What the VMCB panel shows of a VmcbView: its fields in three groups (exit information, the
// rest of the control area, the save area), important ones first, each with the core's
// one-line reading; its bits decoded by the core's shared layouts (svm/vmcb-layout.ts) with
// the APM's meaning; and what changed in this step. Pure functions, no React.
import type { VmcbFieldView, VmcbView } from '../../core/engine/view';
import { vmcbField, type VmcbField } from '../../core/svm/vmcb';
import { decodeVmcbField, vmcbLayout, type VmcbBit } from '../../core/svm/vmcb-layout';

export type VmcbGroupId = 'exit' | 'control' | 'save';

const EXIT_FIELDS = new Set([
  'exit_code',
  'exit_code_hi',
  'exit_info_1',
  'exit_info_2',
  'exit_int_info',
  'exit_int_info_err',
  'next_rip',
  'insn_len',
]);

export const VMCB_GROUPS: readonly { id: VmcbGroupId; title: string }[] = [
  { id: 'exit', title: 'Exit information' },
  { id: 'control', title: 'Control area' },
  { id: 'save', title: 'Save area (guest state)' },
];

/** The fields a reader of an event's path looks at first, in that order. */
export const IMPORTANT_VMCB_FIELDS: readonly string[] = [
  'exit_code',
  'exit_info_1',
  'exit_info_2',
  'exit_int_info',
  'next_rip',
  'event_inj',
  'int_ctl',
  'int_vector',
  'int_state',
  'intercept',
  'intercept_word4',
  'intercept_exceptions',
  'asid',
  'rip',
  'rsp',
  'rax',
  'rflags',
  'efer',
  'cr0',
  'cr3',
  'cr4',
  'idtr.base',
];
const RANK = new Map(IMPORTANT_VMCB_FIELDS.map((n, i) => [n, i]));

/** Fields shown bit by bit without a click (the ones vNMI, V_IRQ and vGIF live in). */
export const OPEN_BY_DEFAULT: ReadonlySet<string> = new Set(['int_ctl']);

export interface VmcbRow {
  field: VmcbFieldView;
  /** The table's entry (offset, width, description). */
  meta: VmcbField | undefined;
  important: boolean;
  changed: boolean;
}

export interface VmcbGroup {
  id: VmcbGroupId;
  title: string;
  rows: VmcbRow[];
  hidden: number;
}

function groupOf(f: VmcbFieldView): VmcbGroupId {
  if (EXIT_FIELDS.has(f.name)) return 'exit';
  return f.area === 'control' ? 'control' : 'save';
}

function metaOf(name: string): VmcbField | undefined {
  try {
    return vmcbField(name);
  } catch {
    return undefined;
  }
}

/** Whether a field changed in this step (the core marks it with its earlier value). */
export function fieldChanged(v: VmcbView, f: VmcbFieldView): boolean {
  return v.compared && f.prevHex !== undefined;
}

/**
 * The rows of each group: important fields first (IMPORTANT_VMCB_FIELDS order), then by offset.
 * With `showAll` false, only important fields, changed ones and non-zero control words are kept.
 */
export function vmcbGroups(v: VmcbView, showAll: boolean): VmcbGroup[] {
  const rows = v.fields.map((f): VmcbRow => ({
    field: f,
    meta: metaOf(f.name),
    important: RANK.has(f.name),
    changed: fieldChanged(v, f),
  }));
  const order = (r: VmcbRow) => RANK.get(r.field.name) ?? IMPORTANT_VMCB_FIELDS.length;
  return VMCB_GROUPS.map(({ id, title }) => {
    const all = rows
      .filter((r) => groupOf(r.field) === id)
      .sort((a, b) => order(a) - order(b) || a.field.offset - b.field.offset);
    const shown = showAll ? all : all.filter((r) => r.important || r.changed);
    return { id, title, rows: shown, hidden: all.length - shown.length };
  });
}

/** How many fields changed in this step. */
export function vmcbChangedCount(v: VmcbView): number {
  return v.fields.filter((f) => fieldChanged(v, f)).length;
}

export interface VmcbBitRow {
  bit: VmcbBit;
  /** "12" or "10:8". */
  position: string;
  /** What the row reads after the name: "1 · Virtual NMIs are blocked", "2 (NMI)". */
  text: string;
  changed: boolean;
}

/** The first clause of the APM meaning, for the row (the whole of it is in the tooltip). */
function shortMeaning(meaning: string): string {
  return meaning.split(/[:;]/)[0].trim();
}

/** A field's bits, each marked changed when it differs from `prevValue`. */
export function vmcbBitRows(name: string, value: number, prevValue: number | undefined): VmcbBitRow[] {
  const before = prevValue === undefined ? null : decodeVmcbField(name, prevValue);
  const key = (b: VmcbBit) => `${b.bits[0]}:${b.bits[1]}`;
  const was = new Map((before ?? []).map((b) => [key(b), b.value]));
  return decodeVmcbField(name, value).map((bit) => {
    const [hi, lo] = bit.bits;
    const valueText = hi === lo ? String(bit.value) : (/= (.*)$/.exec(bit.text)?.[1] ?? String(bit.value));
    return {
      bit,
      position: hi === lo ? String(lo) : `${hi}:${lo}`,
      text: bit.reserved ? bit.text : `${valueText} · ${shortMeaning(bit.meaning)}`,
      changed: before !== null && (was.get(key(bit)) ?? 0) !== bit.value,
    };
  });
}

/** Whether a field has a bit layout to expand. */
export function hasBits(name: string): boolean {
  return vmcbLayout(name) !== undefined;
}

/** A field's tooltip: what it is, where it is, where the APM defines it. */
export function vmcbFieldTitle(row: VmcbRow): string {
  const f = row.field;
  const where = `VMCB offset 0x${f.offset.toString(16).padStart(3, '0')}, ${f.size} byte${f.size > 1 ? 's' : ''}, ${f.area} area`;
  const section = vmcbLayout(f.name)?.section ?? 'AMD64 APM Vol. 2 appendix B "Layout of VMCB"';
  const live = f.live ? "\nShown: the processor's copy, which it writes back to memory at #VMEXIT" : '';
  return `${f.name} (${where}): ${row.meta?.description ?? ''}${live}\n${section}`;
}

/** "vmcb01 · L0's VMCB for L1". */
export function vmcbRelation(v: VmcbView): string {
  return `L${v.owner}'s VMCB for L${v.runs}`;
}

/** A stable key for a VMCB across steps. */
export function vmcbKey(v: VmcbView): string {
  return `${v.role}-${v.owner}-${v.addr.toString(16)}`;
}

/** Where a field of a merged VMCB (KVM's vmcb02) came from, as the VMCS panel tags it. */
export interface VmcbOrigin {
  /** "12" (vmcb12, L1's), "01" (vmcb01, L0's for L1), "01+12" (both), "L0" (KVM's own). */
  tag: string;
  kind: 'upper' | 'own' | 'merged' | 'self';
}

/** The tag of a vmcb02 provenance text (hypervisors/kvm/nested-svm-run.ts enter_svm_guest_mode). */
export function vmcbOrigin(from: string): VmcbOrigin {
  if (/^vmcb01 [|+] vmcb12|from vmcb12; .* from vmcb01|vmcb01’s map \| L1’s/.test(from))
    return { tag: '01+12', kind: 'merged' };
  if (/^vmcb12/.test(from)) return { tag: '12', kind: 'upper' };
  if (/^vmcb01/.test(from)) return { tag: '01', kind: 'own' };
  return { tag: 'L0', kind: 'self' };
}
