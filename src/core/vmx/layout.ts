// The shape of a bit-by-bit field layout, and helpers that build layouts from table rows.

/** A single bit of a field. */
export interface BitDef {
  readonly bit: number;
  readonly mask: number;
  /** The SDM's name of the bit. */
  readonly name: string;
  /** Linux's constant for it (asm/vmx.h, asm/processor-flags.h), or null when it has none. */
  readonly linuxName: string | null;
  readonly description: string;
  readonly section: string;
  /** Names the same bit had in older Linux headers. */
  readonly oldLinuxNames?: readonly string[];
}

/** A multi-bit subfield, bits hi..lo, with names for its values when they have some. */
export interface SubfieldDef {
  readonly bits: readonly [hi: number, lo: number];
  readonly mask: number;
  readonly name: string;
  readonly linuxName: string | null;
  readonly description: string;
  readonly section: string;
  readonly values?: Readonly<Record<number, string>>;
}

export type LayoutEntry = BitDef | SubfieldDef;

export interface FieldLayout {
  /** The VMCS fields laid out this way. */
  readonly fields: readonly string[];
  readonly entries: readonly LayoutEntry[];
  /**
   * Reserved bits that must be 1 when the TRUE capability MSRs are not used ("default1"
   * bits; Linux *_ALWAYSON_WITHOUT_TRUE_MSR). 0 for fields that have none.
   */
  readonly defaultOne: number;
  readonly section: string;
  /** The vector subfield names an exception when the type subfield says it is one. */
  readonly interruptionInfo?: boolean;
}

/** Row of a layout table: bit or [hi, lo], Linux name, SDM name, description, extras. */
export type LayoutRow = readonly [
  at: number | readonly [number, number],
  linuxName: string | null,
  name: string,
  description: string,
  extra?: { readonly values?: Readonly<Record<number, string>>; readonly old?: readonly string[] },
];

/** Bits hi..lo as a mask (bits up to 52, so plain numbers stay exact). */
export function rangeMask(hi: number, lo: number): number {
  return 2 ** (hi + 1) - 2 ** lo;
}

export function entries(section: string, rows: readonly LayoutRow[]): LayoutEntry[] {
  return rows.map(([at, linuxName, name, description, extra]) => {
    if (typeof at === 'number') {
      const bit: BitDef = { bit: at, mask: 2 ** at, name, linuxName, description, section };
      return extra?.old ? { ...bit, oldLinuxNames: extra.old } : bit;
    }
    const [hi, lo] = at;
    const sub: SubfieldDef = {
      bits: [hi, lo],
      mask: rangeMask(hi, lo),
      name,
      linuxName,
      description,
      section,
    };
    return extra?.values ? { ...sub, values: extra.values } : sub;
  });
}

/** Linux name → mask, typed from the rows so that a misspelt name does not compile. */
export function masks<const R extends readonly LayoutRow[]>(
  rows: R,
): { readonly [K in Exclude<R[number][1], null>]: number } {
  const out: Record<string, number> = {};
  for (const [at, linuxName] of rows) {
    if (linuxName === null) continue;
    out[linuxName] = typeof at === 'number' ? 2 ** at : rangeMask(at[0], at[1]);
  }
  return out as { [K in Exclude<R[number][1], null>]: number };
}
