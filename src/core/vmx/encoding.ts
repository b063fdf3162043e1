// The shape of a VMCS field and the meaning of the bits of its 32-bit encoding, the
// operand of VMREAD/VMWRITE (SDM Vol. 3C "Field Encoding in VMCS", appendix "Field
// Encoding in VMCS"; the shift constants match kvm-unit-tests x86/vmx.h TYPE_SHIFT 10 and
// WIDTH_SHIFT 13).

/** Width of a field: 16, 32 or 64 bits, or natural width (64 bits on a 64-bit processor). */
export type FieldWidth = 16 | 32 | 64 | 'natural';

/**
 * The four kinds of field (encoding bits 11:10): VM-execution/exit/entry controls, read-only
 * VM-exit information, guest state, host state.
 */
export type FieldType = 'control' | 'exit-info' | 'guest' | 'host';

export interface VmcsField {
  /** The name as Linux spells it in arch/x86/include/asm/vmx.h enum vmcs_field. */
  readonly name: string;
  /** The encoding of the full field (access type 0). */
  readonly encoding: number;
  readonly width: FieldWidth;
  readonly type: FieldType;
  /** VMWRITE fails with VM-instruction error 13 (exit-information fields). */
  readonly readOnly: boolean;
  readonly description: string;
  /** The SDM section that defines the field, by title. */
  readonly section: string;
}

/** The parts of a VMCS-field encoding. */
export interface EncodingParts {
  /** Bit 0: 'high' reads or writes bits 63:32 of a 64-bit field. */
  access: 'full' | 'high';
  /** Bits 9:1. */
  index: number;
  /** Bits 11:10. */
  type: FieldType;
  /** Bits 14:13. */
  width: FieldWidth;
}

const TYPES: readonly FieldType[] = ['control', 'exit-info', 'guest', 'host'];
const WIDTHS: readonly FieldWidth[] = [16, 64, 32, 'natural'];

/** Bit 12 and bits 31:15 of an encoding are reserved (SDM "Field Encoding in VMCS"). */
const RESERVED_BITS = 0xffff8000 | 0x1000;

/**
 * Splits an encoding into access type, index, type and width; undefined when it is not a
 * well-formed encoding: not a 32-bit integer, a reserved bit set, or high access to a field
 * that is not 64 bits wide (only 64-bit fields have a high half).
 */
export function decodeEncoding(enc: number): EncodingParts | undefined {
  if (!Number.isInteger(enc) || enc < 0 || enc > 0xffffffff) return undefined;
  if ((enc & RESERVED_BITS) !== 0) return undefined;
  const access = (enc & 1) === 1 ? 'high' : 'full';
  const width = WIDTHS[(enc >>> 13) & 3];
  if (access === 'high' && width !== 64) return undefined;
  return { access, index: (enc >>> 1) & 0x1ff, type: TYPES[(enc >>> 10) & 3], width };
}

/** The encoding with the given parts (the inverse of decodeEncoding). */
export function encodeField(parts: EncodingParts): number {
  return (
    (WIDTHS.indexOf(parts.width) << 13) |
    (TYPES.indexOf(parts.type) << 10) |
    ((parts.index & 0x1ff) << 1) |
    (parts.access === 'high' ? 1 : 0)
  );
}

/** Number of bits a field holds; natural width is 64 bits in the lab's 64-bit processor. */
export function widthInBits(width: FieldWidth): 16 | 32 | 64 {
  return width === 'natural' ? 64 : width;
}

/** One row of a field table: name, encoding, width, description, and the section when it differs. */
export type FieldRow = readonly [
  name: string,
  encoding: number,
  width: FieldWidth,
  description: string,
  section?: string,
];

/** Builds the fields of one type from table rows; read-only is exactly "type is exit-info". */
export function defineFields(type: FieldType, section: string, rows: readonly FieldRow[]): VmcsField[] {
  return rows.map(([name, encoding, width, description, own]) => ({
    name,
    encoding,
    width,
    type,
    readOnly: type === 'exit-info',
    description,
    section: own ?? section,
  }));
}

/** Cites a section of the SDM by title (numbers change between editions). */
export const sdm = (title: string): string => `SDM Vol. 3C "${title}"`;
