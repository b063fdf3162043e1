// The bytes of the system structures the assembler writes into the image: 64-bit IDT gate
// descriptors and the IDTR pseudo-descriptor that LIDT loads.

import { IDT_LIMIT, type IdtGate } from './ir';
import { littleEndian } from './values';

/** Code segment selector of the gates: GDT entry 1, RPL 0 (the usual 64-bit kernel CS). */
export const GATE_SELECTOR = 0x0008;
/** Type byte of a gate: P=1, DPL=0, type 0xE (64-bit interrupt gate) or 0xF (trap gate). */
export const GATE_TYPE = { interrupt: 0x8e, trap: 0x8f } as const;
/** Bytes of a 64-bit gate descriptor. */
export const GATE_SIZE = 16;

/**
 * The 16 bytes of a 64-bit IDT gate descriptor (SDM Vol. 3A "64-Bit IDT Gate Descriptors"):
 * offset 15:0, selector, IST (0), type byte, offset 31:16, offset 63:32, reserved (0).
 */
export function gateDescriptor(kind: IdtGate['kind'], target: bigint | number): number[] {
  const offset = littleEndian(BigInt(target), 8);
  return [
    ...offset.slice(0, 2),
    ...littleEndian(BigInt(GATE_SELECTOR), 2),
    0,
    GATE_TYPE[kind],
    ...offset.slice(2, 8),
    0,
    0,
    0,
    0,
  ];
}

/** The 10 bytes of an IDTR pseudo-descriptor for a full table at `base`: limit u16, base u64. */
export function idtrPseudoDescriptor(base: bigint | number): number[] {
  return [...littleEndian(BigInt(IDT_LIMIT), 2), ...littleEndian(BigInt(base), 8)];
}
