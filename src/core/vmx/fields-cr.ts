// Encodings of the VMCS fields the control-register, I/O and RDRAND exits and the CR0/CR3/CR4
// loads and saves use (the field table is in fields-*.ts).
import { fieldByName } from './fields';

function enc(name: string): number {
  return fieldByName(name)!.encoding;
}

/** Field encodings by name. */
export const CRF = {
  CR0_GUEST_HOST_MASK: enc('CR0_GUEST_HOST_MASK'),
  CR4_GUEST_HOST_MASK: enc('CR4_GUEST_HOST_MASK'),
  CR0_READ_SHADOW: enc('CR0_READ_SHADOW'),
  CR4_READ_SHADOW: enc('CR4_READ_SHADOW'),
  CR3_TARGET_COUNT: enc('CR3_TARGET_COUNT'),
  CR3_TARGET_VALUE0: enc('CR3_TARGET_VALUE0'),
  IO_BITMAP_A: enc('IO_BITMAP_A'),
  IO_BITMAP_B: enc('IO_BITMAP_B'),
  GUEST_CR0: enc('GUEST_CR0'),
  GUEST_CR3: enc('GUEST_CR3'),
  GUEST_CR4: enc('GUEST_CR4'),
  HOST_CR0: enc('HOST_CR0'),
  HOST_CR3: enc('HOST_CR3'),
  HOST_CR4: enc('HOST_CR4'),
} as const;
