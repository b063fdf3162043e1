// The local APIC in x2APIC mode, reduced to what event delivery needs: IRR and ISR, the task
// and processor priorities, EOI and self-IPIs through the ICR. SDM Vol. 3A chapter
// "Advanced Programmable Interrupt Controller (APIC)".

export interface ApicState {
  /** Interrupt Request Register: 256 bits, one per vector. */
  irr: Uint32Array;
  /** In-Service Register: 256 bits. */
  isr: Uint32Array;
  tpr: number;
  /** Error Status Register (bit 5: "Send Illegal Vector"). */
  esr: number;
  /** The last value written to the ICR (read back by RDMSR). */
  icrLo: number;
  icrHi: number;
  id: number;
}

export function createApic(): ApicState {
  return { irr: new Uint32Array(8), isr: new Uint32Array(8), tpr: 0, esr: 0, icrLo: 0, icrHi: 0, id: 0 };
}

export function cloneApic(a: ApicState): ApicState {
  return { ...a, irr: a.irr.slice(), isr: a.isr.slice() };
}

function highest(bits: Uint32Array): number {
  for (let w = 7; w >= 0; w--) {
    const v = bits[w];
    if (v) return w * 32 + (31 - Math.clz32(v));
  }
  return -1;
}

export function vectorsOf(bits: Uint32Array): number[] {
  const out: number[] = [];
  for (let v = 0; v < 256; v++) if ((bits[v >>> 5] >>> (v & 31)) & 1) out.push(v);
  return out;
}

export function highestIrr(a: ApicState): number {
  return highest(a.irr);
}
export function highestIsr(a: ApicState): number {
  return highest(a.isr);
}

/**
 * PPR = TPR when TPR[7:4] ≥ ISRV[7:4], else ISRV[7:4] with the low nibble 0
 * (SDM "Processor Priority Register (PPR)").
 */
export function ppr(a: ApicState): number {
  const isrv = Math.max(highest(a.isr), 0);
  return (a.tpr & 0xf0) >= (isrv & 0xf0) ? a.tpr & 0xff : isrv & 0xf0;
}

/**
 * The vector the APIC would present to the processor now, or -1: the highest IRR vector whose
 * priority class is above the PPR's (SDM "Interrupt Acceptance for Fixed Interrupts").
 */
export function deliverableVector(a: ApicState): number {
  // Fast path for the common empty IRR.
  if ((a.irr[0] | a.irr[1] | a.irr[2] | a.irr[3] | a.irr[4] | a.irr[5] | a.irr[6] | a.irr[7]) === 0)
    return -1;
  const v = highest(a.irr);
  return (v & 0xf0) > (ppr(a) & 0xf0) ? v : -1;
}

/** The processor accepts the interrupt: its IRR bit moves to the ISR (the INTA cycle). */
export function acknowledge(a: ApicState, v: number): void {
  a.irr[v >>> 5] &= ~(1 << (v & 31));
  a.isr[v >>> 5] |= 1 << (v & 31);
}

/** A fixed interrupt arrives: set its IRR bit (illegal vectors 0–15 set ESR instead). */
export function requestInterrupt(a: ApicState, v: number): boolean {
  if (v < 16) {
    a.esr |= 1 << 6; // "Received Illegal Vector"
    return false;
  }
  a.irr[v >>> 5] |= 1 << (v & 31);
  return true;
}

/** EOI: clear the highest-priority ISR bit (SDM "End-Of-Interrupt (EOI)"). Returns it, or -1. */
export function eoi(a: ApicState): number {
  const v = highest(a.isr);
  if (v >= 0) a.isr[v >>> 5] &= ~(1 << (v & 31));
  return v;
}

/** x2APIC MSR addresses (SDM "x2APIC Register Address Space"). */
export const X2APIC = {
  ID: 0x802,
  VERSION: 0x803,
  TPR: 0x808,
  PPR: 0x80a,
  EOI: 0x80b,
  ISR0: 0x810,
  IRR0: 0x820,
  ESR: 0x828,
  ICR: 0x830,
  SELF_IPI: 0x83f,
} as const;

/** ICR delivery modes and shorthands (SDM "Interrupt Command Register (ICR)"). */
export const ICR = {
  MODE_FIXED: 0,
  MODE_NMI: 4,
  SHORTHAND_NONE: 0,
  SHORTHAND_SELF: 1,
  SHORTHAND_ALL_INCL_SELF: 2,
  SHORTHAND_ALL_EXCL_SELF: 3,
} as const;

export interface IcrDecoded {
  vector: number;
  mode: number;
  shorthand: number;
  destination: number;
  /** Whether this processor is a destination. */
  toSelf: boolean;
}

export function decodeIcr(a: ApicState, lo: number, hi: number): IcrDecoded {
  const shorthand = (lo >>> 18) & 3;
  const destination = hi >>> 0;
  const toSelf =
    shorthand === ICR.SHORTHAND_SELF ||
    shorthand === ICR.SHORTHAND_ALL_INCL_SELF ||
    (shorthand === ICR.SHORTHAND_NONE && (destination === a.id || destination === 0xffffffff));
  return { vector: lo & 0xff, mode: (lo >>> 8) & 7, shorthand, destination, toSelf };
}
