// KVM's use of VMCS shadowing for L1 (arch/x86/kvm/vmx/nested.c, vmcs_shadow_fields.h): with
// enable_shadow_vmcs, vmcs01 gets the "VMCS shadowing" control, a shadow VMCS and VMREAD/
// VMWRITE bitmaps that let L1's accesses to the most used fields run in hardware on the
// shadow VMCS instead of exiting. KVM copies vmcs12 into the shadow before L1 runs
// (copy_vmcs12_to_shadow) and back before it uses vmcs12 (copy_shadow_to_vmcs12).
import { CPU_BASED, SECONDARY_EXEC } from '../../vmx/bits';
import { fieldByName } from '../../vmx/fields';
import { F, readField, writeField } from '../../vmx/vmcs';
import { KVM_HOST, type KvmContext } from './context';
import { currentVmcs12 } from './nested-state';
import { rd, wr } from './vmx';

/**
 * The fields KVM shadows (vmcs_shadow_fields.h, Linux 6.16) that the lab's VMCS table has.
 * Fields KVM changes when it emulates a VMX instruction (VM_INSTRUCTION_ERROR) are not among
 * them, so L1 reads those with a VMREAD that exits.
 */
const SHADOW_READ_ONLY = [
  'VM_EXIT_REASON',
  'VM_EXIT_INTR_INFO',
  'VM_EXIT_INSTRUCTION_LEN',
  'IDT_VECTORING_INFO_FIELD',
  'IDT_VECTORING_ERROR_CODE',
  'VM_EXIT_INTR_ERROR_CODE',
  'EXIT_QUALIFICATION',
  'GUEST_LINEAR_ADDRESS',
  'GUEST_PHYSICAL_ADDRESS',
];
const SHADOW_READ_WRITE = [
  'GUEST_INTR_STATUS',
  'GUEST_PML_INDEX',
  'HOST_FS_SELECTOR',
  'HOST_GS_SELECTOR',
  'CPU_BASED_VM_EXEC_CONTROL',
  'PIN_BASED_VM_EXEC_CONTROL',
  'EXCEPTION_BITMAP',
  'VM_ENTRY_EXCEPTION_ERROR_CODE',
  'VM_ENTRY_INTR_INFO_FIELD',
  'VM_ENTRY_INSTRUCTION_LEN',
  'TPR_THRESHOLD',
  'GUEST_INTERRUPTIBILITY_INFO',
  'VMX_PREEMPTION_TIMER_VALUE',
  'GUEST_RIP',
  'GUEST_RSP',
  'GUEST_CR0',
  'GUEST_CR3',
  'GUEST_CR4',
  'GUEST_RFLAGS',
  'CR0_GUEST_HOST_MASK',
  'CR0_READ_SHADOW',
  'CR4_READ_SHADOW',
  'HOST_FS_BASE',
  'HOST_GS_BASE',
];

function encodings(names: string[]): number[] {
  return names.map((n) => fieldByName(n)?.encoding ?? -1).filter((e) => e >= 0);
}

export const SHADOW_RO = encodings(SHADOW_READ_ONLY);
export const SHADOW_RW = encodings(SHADOW_READ_WRITE);

/** enable_shadow_vmcs, and the (virtual) processor offers VMCS shadowing. */
export function shadowVmcsEnabled(c: KvmContext): boolean {
  return c.shadowVmcs && (c.port.caps.proc2Allowed & SECONDARY_EXEC.SECONDARY_EXEC_SHADOW_VMCS) !== 0;
}

/**
 * init_vmcs_shadow_fields and alloc_shadow_vmcs (at L1's VMXON): the VMREAD and VMWRITE
 * bitmaps, all ones but the shadowed fields (read: read-only and read-write ones; write: the
 * read-write ones), and the shadow VMCS (revision with the shadow-VMCS indicator).
 */
export function allocShadowVmcs(c: KvmContext): void {
  const mem = c.port.memory();
  mem.fill(0xff, KVM_HOST.VMREAD_BITMAP, KVM_HOST.VMREAD_BITMAP + 0x1000);
  mem.fill(0xff, KVM_HOST.VMWRITE_BITMAP, KVM_HOST.VMWRITE_BITMAP + 0x1000);
  const clear = (base: number, enc: number) => {
    for (const e of [enc, enc | 1]) {
      if (e & 1 && !(enc & 0x2000)) continue; // the _HIGH half exists for 64-bit fields only
      mem[base + (e >>> 3)] &= ~(1 << (e & 7));
    }
  };
  for (const e of [...SHADOW_RO, ...SHADOW_RW]) clear(KVM_HOST.VMREAD_BITMAP, e);
  for (const e of SHADOW_RW) clear(KVM_HOST.VMWRITE_BITMAP, e);
  c.port.writeRevision(KVM_HOST.SHADOW_VMCS, true);
  c.port.vmclear(KVM_HOST.SHADOW_VMCS);
}

/**
 * set_current_vmptr: vmcs01 gets VMCS shadowing with the link pointer at the shadow VMCS;
 * the shadow must be filled from the new vmcs12 before L1 runs.
 */
export function enableShadowing(c: KvmContext): void {
  wr(
    c,
    F.CPU_BASED_VM_EXEC_CONTROL,
    rd(c, F.CPU_BASED_VM_EXEC_CONTROL) | CPU_BASED.CPU_BASED_ACTIVATE_SECONDARY_CONTROLS,
  );
  wr(
    c,
    F.SECONDARY_VM_EXEC_CONTROL,
    rd(c, F.SECONDARY_VM_EXEC_CONTROL) | SECONDARY_EXEC.SECONDARY_EXEC_SHADOW_VMCS,
  );
  wr(c, F.VMCS_LINK_POINTER, KVM_HOST.SHADOW_VMCS);
  wr(c, F.VMREAD_BITMAP, KVM_HOST.VMREAD_BITMAP);
  wr(c, F.VMWRITE_BITMAP, KVM_HOST.VMWRITE_BITMAP);
  c.kvm.nested.needShadowSync = true;
}

/** nested_release_vmcs12: the shadow's fields back into vmcs12, shadowing off in vmcs01. */
export function releaseShadow(c: KvmContext): void {
  copyShadowToVmcs12(c);
  wr(
    c,
    F.SECONDARY_VM_EXEC_CONTROL,
    rd(c, F.SECONDARY_VM_EXEC_CONTROL) & ~SECONDARY_EXEC.SECONDARY_EXEC_SHADOW_VMCS,
  );
  wr(c, F.VMCS_LINK_POINTER, 0xffffffffffff);
}

/** Run `body` with the shadow VMCS loaded (vmcs_load(shadow_vmcs) ... vmcs_load(loaded_vmcs)). */
function withShadowLoaded(c: KvmContext, body: () => void): void {
  c.port.vmptrld(KVM_HOST.SHADOW_VMCS);
  const loaded = c.kvm.loadedVmcs;
  c.kvm.loadedVmcs = KVM_HOST.SHADOW_VMCS;
  body();
  c.kvm.loadedVmcs = loaded;
  c.port.vmptrld(loaded);
}

/** copy_shadow_to_vmcs12: what L1 wrote to the shadowed read-write fields, into vmcs12. */
export function copyShadowToVmcs12(c: KvmContext): void {
  const vmcs12 = currentVmcs12(c.kvm.nested);
  if (!vmcs12 || !shadowVmcsEnabled(c)) return;
  withShadowLoaded(c, () => {
    for (const e of SHADOW_RW) writeField(vmcs12, e, rd(c, e));
  });
}

/** copy_vmcs12_to_shadow (nested_sync_vmcs12_to_shadow): vmcs12's shadowed fields into the shadow. */
export function copyVmcs12ToShadow(c: KvmContext): void {
  const n = c.kvm.nested;
  const vmcs12 = currentVmcs12(n);
  n.needShadowSync = false;
  if (!vmcs12 || !shadowVmcsEnabled(c)) return;
  withShadowLoaded(c, () => {
    for (const e of [...SHADOW_RW, ...SHADOW_RO]) wr(c, e, readField(vmcs12, e));
  });
}

/**
 * handle_vmwrite of a shadowed read-only field (it exits: the VMWRITE bitmap keeps those):
 * KVM writes it into the shadow VMCS too, where L1's VMREADs find it.
 */
export function writeShadowReadOnly(c: KvmContext, enc: number, value: number): void {
  if (!shadowVmcsEnabled(c) || !SHADOW_RO.includes(enc)) return;
  withShadowLoaded(c, () => wr(c, enc, value));
}
