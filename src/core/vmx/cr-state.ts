// CR0, CR3 and CR4 across VM entries and VM exits (SDM Vol. 3C "Loading Guest Control
// Registers, Debug Registers, and MSRs", "Saving Control Registers, Debug Registers, and
// MSRs", "Loading Host Control Registers, Debug Registers, MSRs"), and the address-range
// monitoring both transitions clear.
import { CR0, CR4 } from '../cpu/state';
import type { Hart } from '../cpu/hart';
import { MAXPHYADDR, VMX_CR0_FIXED0, VMX_CR4_FIXED0 } from '../cpu/control-regs';
import { VM_EXIT } from './bits';
import { F, type VmcsState, readField, writeField } from './vmcs';

/** CR0 bits a VM entry or exit never modifies: ET, NW, CD and the reserved 15:6, 17, 28:19. */
const CR0_KEPT = (CR0.ET | CR0.NW | CR0.CD | 0xffc0 | (1 << 17) | 0x1ff80000) >>> 0;

/** CR3 as VM exit loads it: bits beyond the physical-address width cleared. */
function cr3Value(v: number): number {
  return v % 2 ** MAXPHYADDR;
}

/**
 * "Loading Guest State": CR0 from GUEST_CR0 but for the bits above; CR3 and CR4 from their
 * fields. The lab does not check GUEST_CR0/GUEST_CR4 against the VMX-fixed bits (programs
 * written before the lab had control registers leave these fields 0): it keeps the fixed bits
 * at 1 instead, as VM exit does for the host (docs/model.md "Choices the lab makes").
 */
export function loadGuestCrs(h: Hart, vmcs: VmcsState): void {
  setCrs(h, guestCrsAfterEntry(h.cpu.cr0, vmcs));
}

/** The CR0, CR3 and CR4 a VM entry loads from `vmcs` on a processor whose CR0 is `cr0`. */
export function guestCrsAfterEntry(cr0: number, vmcs: VmcsState): Crs {
  return crsFromFields(cr0, vmcs, F.GUEST_CR0, F.GUEST_CR3, F.GUEST_CR4, 0);
}

interface Crs {
  cr0: number;
  cr3: number;
  cr4: number;
}

/**
 * CR0, CR3 and CR4 from three VMCS fields as entry and exit load them: CR0's kept bits stay
 * the processor's, the bits fixed in VMX operation are 1, CR3 loses the bits beyond
 * MAXPHYADDR; `cr4Set` is ORed into CR4.
 */
function crsFromFields(
  cr0: number,
  vmcs: VmcsState,
  f0: number,
  f3: number,
  f4: number,
  cr4Set: number,
): Crs {
  const v0 = readField(vmcs, f0) >>> 0;
  return {
    cr0: ((cr0 & CR0_KEPT) | (v0 & ~CR0_KEPT) | VMX_CR0_FIXED0) >>> 0,
    cr3: cr3Value(readField(vmcs, f3)),
    cr4: ((readField(vmcs, f4) >>> 0) | VMX_CR4_FIXED0 | cr4Set) >>> 0,
  };
}

/** Load CRs into the processor; both transitions clear address-range monitoring. */
function setCrs(h: Hart, v: Crs): void {
  const c = h.cpu;
  c.cr0 = v.cr0;
  c.cr3 = v.cr3;
  c.cr4 = v.cr4;
  c.monitorArmed = false;
  c.mwaitBreak = false;
}

/** "Saving Control Registers...": CR0, CR3 and CR4 into the guest-state area. */
export function saveGuestCrs(h: Hart, vmcs: VmcsState): void {
  writeField(vmcs, F.GUEST_CR0, h.cpu.cr0);
  writeField(vmcs, F.GUEST_CR3, h.cpu.cr3);
  writeField(vmcs, F.GUEST_CR4, h.cpu.cr4);
}

/**
 * "Loading Host Control Registers": CR0, CR3 and CR4 from the host-state area except the CR0
 * bits above and the bits fixed in VMX operation (they stay 1); CR3 bits beyond MAXPHYADDR are
 * cleared; CR4.PAE is set with "host address-space size". "VM exits clear address-range
 * monitoring."
 */
export function loadHostCrs(h: Hart, vmcs: VmcsState): void {
  setCrs(h, hostCrsAfterExit(h.cpu.cr0, vmcs));
}

/** The CR0, CR3 and CR4 a VM exit loads from `vmcs` on a processor whose CR0 is `cr0`. */
export function hostCrsAfterExit(cr0: number, vmcs: VmcsState): Crs {
  const pae = readField(vmcs, F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_HOST_ADDR_SPACE_SIZE ? CR4.PAE : 0;
  return crsFromFields(cr0, vmcs, F.HOST_CR0, F.HOST_CR3, F.HOST_CR4, pae);
}
