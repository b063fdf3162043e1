// CR0, CR3 and CR4 across KVM's emulated nested VM entry and exit (arch/x86/kvm/vmx/nested.c
// prepare_vmcs02, sync_vmcs02_to_vmcs12 with vmcs12_guest_cr0/cr4, load_vmcs12_host_state):
// vmcs02's masks own what L0 owns and what L1 owns; L2 reads vmcs12's read shadows in L1's
// bits; on the exit L1 gets L2's values back and its own from vmcs12's host fields.
import { CR0, CR4 } from '../../cpu/state';
import { VMX_CR0_FIXED0, VMX_CR4_FIXED0 } from '../../cpu/control-regs';
import { VM_EXIT } from '../../vmx/bits';
import { F, type VmcsState, readField, writeField } from '../../vmx/vmcs';
import type { KvmContext } from './context';
import {
  KVM_CR0_GUEST_OWNED,
  KVM_CR0_MASK,
  KVM_CR4_GUEST_OWNED,
  KVM_CR4_MASK,
  vmxSetCr0,
  vmxSetCr3,
  vmxSetCr4,
} from './cr';
import { rd, wr } from './vmx';

/** CR0 bits VM entry and exit never change: ET, NW, CD and the reserved ones. */
const CR0_KEPT = (CR0.ET | CR0.NW | CR0.CD | 0xffc0 | (1 << 17) | 0x1ff80000) >>> 0;

/**
 * The lab's processor keeps the VMX-fixed bits (and CR0's never-loaded bits) when it loads CR0
 * and CR4 instead of failing the entry; KVM's nested entry and exit do the same with vmcs12's
 * values, so that L1 and L2 see under KVM what they see on the processor (docs/kvm.md).
 */
function loadedCr0(current: number, value: number): number {
  return ((current & CR0_KEPT) | (value & ~CR0_KEPT) | VMX_CR0_FIXED0) >>> 0;
}

const low = (v: number) => v >>> 0;

/** prepare_vmcs02: CR masks (L0's | L1's), L2's CRs from vmcs12, the read shadows L2 sees. */
export function prepareVmcs02Crs(c: KvmContext, vmcs12: VmcsState): void {
  const mask0 = low(readField(vmcs12, F.CR0_GUEST_HOST_MASK));
  const mask4 = low(readField(vmcs12, F.CR4_GUEST_HOST_MASK));
  wr(c, F.CR0_GUEST_HOST_MASK, (KVM_CR0_MASK | mask0) >>> 0);
  wr(c, F.CR4_GUEST_HOST_MASK, (KVM_CR4_MASK | mask4) >>> 0);
  vmxSetCr0(c, loadedCr0(c.kvm.cr0, low(readField(vmcs12, F.GUEST_CR0))));
  vmxSetCr4(c, (low(readField(vmcs12, F.GUEST_CR4)) | VMX_CR4_FIXED0) >>> 0);
  vmxSetCr3(c, readField(vmcs12, F.GUEST_CR3));
  // nested_read_cr0/cr4: L1's bits from vmcs12's read shadow, the rest from vmcs12's guest CR.
  const read = (g: number, s: number, m: number) => ((g & ~m) | (s & m)) >>> 0;
  wr(c, F.CR0_READ_SHADOW, read(c.kvm.cr0, low(readField(vmcs12, F.CR0_READ_SHADOW)), mask0));
  wr(c, F.CR4_READ_SHADOW, read(c.kvm.cr4, low(readField(vmcs12, F.CR4_READ_SHADOW)), mask4));
}

/**
 * sync_vmcs02_to_vmcs12 (vmcs12_guest_cr0/cr4): bits L2 owned come from vmcs02's GUEST_CR,
 * bits L1 owns stay vmcs12's, bits L0 owned come from vmcs02's read shadow; CR3 is L2's.
 */
export function syncVmcs02CrsToVmcs12(c: KvmContext, vmcs12: VmcsState): void {
  const sync = (guestEnc: number, shadowEnc: number, maskEnc: number, l0Owned: number) => {
    const m12 = low(readField(vmcs12, maskEnc));
    const owned = l0Owned & ~m12;
    const v =
      (low(rd(c, guestEnc)) & owned) |
      (low(readField(vmcs12, guestEnc)) & m12) |
      (low(rd(c, shadowEnc)) & ~(m12 | owned));
    writeField(vmcs12, guestEnc, v >>> 0);
  };
  sync(F.GUEST_CR0, F.CR0_READ_SHADOW, F.CR0_GUEST_HOST_MASK, KVM_CR0_GUEST_OWNED);
  sync(F.GUEST_CR4, F.CR4_READ_SHADOW, F.CR4_GUEST_HOST_MASK, KVM_CR4_GUEST_OWNED);
  writeField(vmcs12, F.GUEST_CR3, c.kvm.cr3);
}

/** load_vmcs12_host_state: L1's CRs from vmcs12's host fields, vmcs01's masks back. */
export function loadVmcs12HostCrs(c: KvmContext, vmcs12: VmcsState): void {
  wr(c, F.CR0_GUEST_HOST_MASK, KVM_CR0_MASK);
  wr(c, F.CR4_GUEST_HOST_MASK, KVM_CR4_MASK);
  vmxSetCr0(c, loadedCr0(c.kvm.cr0, low(readField(vmcs12, F.HOST_CR0))));
  let cr4 = (low(readField(vmcs12, F.HOST_CR4)) | VMX_CR4_FIXED0) >>> 0;
  if (readField(vmcs12, F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_HOST_ADDR_SPACE_SIZE) cr4 |= CR4.PAE;
  vmxSetCr4(c, cr4 >>> 0);
  vmxSetCr3(c, readField(vmcs12, F.HOST_CR3) % 2 ** 36);
}
