// Bit-by-bit layouts of the VMCS fields that have one, and decodeField, which turns a field's
// value into named bits and subfields for display.

import {
  CPU_BASED_LAYOUT,
  PIN_BASED_LAYOUT,
  SECONDARY_EXEC_LAYOUT,
  VM_ENTRY_LAYOUT,
  VM_EXIT_LAYOUT,
} from './bits-controls';
import {
  ACTIVITY_LAYOUT,
  ENTRY_INTR_INFO_LAYOUT,
  EXCEPTION_BITMAP_LAYOUT,
  EXIT_INTR_INFO_LAYOUT,
  EXIT_REASON_LAYOUT,
  GUEST_INTR_STATUS_LAYOUT,
  IDT_VECTORING_LAYOUT,
  INTERRUPTIBILITY_LAYOUT,
  PENDING_DBG_LAYOUT,
  RFLAGS_LAYOUT,
  VM_INSTRUCTION_ERROR_LAYOUT,
} from './bits-state';
import { widthInBits } from './encoding';
import { exceptionLabel } from './exceptions';
import { fieldByName, unknownFieldMessage } from './fields';
import type { FieldLayout, LayoutEntry } from './layout';

export type { BitDef, FieldLayout, LayoutEntry, SubfieldDef } from './layout';
export { CPU_BASED, PIN_BASED, SECONDARY_EXEC, VM_ENTRY, VM_EXIT } from './bits-controls';
export {
  EXIT_REASON_BITS,
  GUEST_ACTIVITY,
  GUEST_INTR_STATE,
  INTR_INFO,
  VECTORING_INFO,
  X86_EFLAGS,
} from './bits-state';

export const LAYOUTS: readonly FieldLayout[] = [
  PIN_BASED_LAYOUT,
  CPU_BASED_LAYOUT,
  SECONDARY_EXEC_LAYOUT,
  VM_EXIT_LAYOUT,
  VM_ENTRY_LAYOUT,
  EXCEPTION_BITMAP_LAYOUT,
  ENTRY_INTR_INFO_LAYOUT,
  EXIT_INTR_INFO_LAYOUT,
  IDT_VECTORING_LAYOUT,
  EXIT_REASON_LAYOUT,
  VM_INSTRUCTION_ERROR_LAYOUT,
  INTERRUPTIBILITY_LAYOUT,
  ACTIVITY_LAYOUT,
  PENDING_DBG_LAYOUT,
  GUEST_INTR_STATUS_LAYOUT,
  RFLAGS_LAYOUT,
];

const BY_FIELD = new Map(LAYOUTS.flatMap((l) => l.fields.map((f) => [f, l] as const)));

/** The bit layout of a field, or undefined for fields that are a plain number or address. */
export function layoutOf(fieldName: string): FieldLayout | undefined {
  return BY_FIELD.get(fieldName);
}

/** The bits hi..lo of an entry. */
export function entryBits(e: LayoutEntry): readonly [number, number] {
  return 'bit' in e ? [e.bit, e.bit] : e.bits;
}

/** One named bit or subfield of a decoded value. */
export interface DecodedBit {
  name: string;
  linuxName: string | null;
  /** Position, hi..lo (equal for a single bit). */
  bits: readonly [number, number];
  /** The subfield's value; a bigint only for a whole 64-bit field beyond 2^53. */
  value: number | bigint;
  set: boolean;
  /** The line to show, e.g. "Interruption type = 2 (NMI)". */
  text: string;
  /** 'reserved': a set bit the layout does not define; 'default1': a reserved bit that must be 1. */
  kind: 'defined' | 'reserved' | 'default1';
}

const EXCEPTION_TYPES = new Set([3, 5, 6]); // hardware, privileged software, software exception

function plain(n: bigint): number | bigint {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

function hex(n: number | bigint): string {
  return '0x' + n.toString(16).toUpperCase();
}

function valueText(e: LayoutEntry, v: number, type: number | undefined): string {
  if ('bit' in e) return String(v);
  if (e.values) return `${v} (${e.values[v] ?? 'undefined value'})`;
  if (e.name === 'Vector' && type !== undefined && EXCEPTION_TYPES.has(type)) {
    return `${v} (${exceptionLabel(v) ?? 'not an exception vector'})`;
  }
  return v < 10 ? String(v) : `${v} (${hex(v)})`;
}

/**
 * Decodes a value of the field `name` for display: every bit and subfield the layout
 * defines, in bit order, plus reserved bits that are set and default-1 bits. A field without
 * a layout decodes to one entry holding the whole value. The value is truncated to the
 * field's width, as VMWRITE does. Throws for an unknown field name.
 */
export function decodeField(name: string, value: number | bigint): DecodedBit[] {
  const field = fieldByName(name);
  if (!field) throw new Error(unknownFieldMessage(name));
  const width = widthInBits(field.width);
  const v = BigInt.asUintN(width, BigInt(value));
  const layout = layoutOf(name);
  if (!layout) {
    const whole = plain(v);
    return [
      {
        name: field.name,
        linuxName: field.name,
        bits: [width - 1, 0],
        value: whole,
        set: v !== 0n,
        text: `${field.name} = ${hex(whole)}`,
        kind: 'defined',
      },
    ];
  }

  const get = (hi: number, lo: number) => Number((v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));
  const typeEntry = layout.interruptionInfo
    ? layout.entries.find((e) => e.name === 'Interruption type')
    : undefined;
  const type = typeEntry ? get(...entryBits(typeEntry)) : undefined;

  const out: DecodedBit[] = [];
  let defined = 0n;
  for (const e of layout.entries) {
    const [hi, lo] = entryBits(e);
    defined |= BigInt(e.mask);
    const x = get(hi, lo);
    out.push({
      name: e.name,
      linuxName: e.linuxName,
      bits: [hi, lo],
      value: x,
      set: x !== 0,
      text: `${e.name} = ${valueText(e, x, type)}`,
      kind: 'defined',
    });
  }
  for (let bit = 0; bit < width; bit++) {
    if ((defined >> BigInt(bit)) & 1n) continue;
    const x = get(bit, bit);
    const defaultOne = bit < 32 && ((layout.defaultOne >>> bit) & 1) === 1;
    if (defaultOne) {
      const note = x ? 'default-1 bit' : 'default-1 bit: must be 1 unless the TRUE capability MSRs allow 0';
      out.push(reservedBit(bit, x, `Reserved bit ${bit} = ${x} (${note})`, 'default1'));
    } else if (x) {
      out.push(reservedBit(bit, x, `Reserved bit ${bit} = 1 (reserved, should be 0)`, 'reserved'));
    }
  }
  return out.sort((a, b) => a.bits[1] - b.bits[1]);
}

function reservedBit(bit: number, x: number, text: string, kind: 'reserved' | 'default1'): DecodedBit {
  return {
    name: `Reserved bit ${bit}`,
    linuxName: null,
    bits: [bit, bit],
    value: x,
    set: x !== 0,
    text,
    kind,
  };
}
