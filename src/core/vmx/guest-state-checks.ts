// The checks VM entry makes on the guest-state area before it loads it: SDM Vol. 3C "Checking
// and Loading Guest State" — "Checks on Guest Control Registers, Debug Registers, and MSRs"
// (the debug part), "Checks on Guest RIP, RFLAGS, and SSP", "Checks on Guest Non-Register
// State". A failure is a VM-entry failure with exit reason 0x80000021. KVM's nested entry uses
// the same function for vmcs12 (its nested_vmx_check_guest_state), with the capabilities it
// offers L1.
import { EventType } from '../engine/view';
import { DEBUGCTL_SUPPORTED, DR6 } from '../cpu/debug';
import { Activity, RFLAGS, Shadow } from '../cpu/state';
import { PIN_BASED, VM_ENTRY } from './bits';
import { DEFAULT_VMX_FEATURES, VMX_MSR, type VmxCaps, readVmxMsr, vmxCaps } from './capabilities';
import { MAXPHYADDR } from '../cpu/control-regs';
import { F, readField, type VmcsState } from './vmcs';

/** Interruptibility-state bits (SDM "Guest Non-Register State", table "Format of Interruptibility State"). */
export const INTR_STATE = { STI: 1, MOV_SS: 2, SMI: 4, NMI: 8, ENCLAVE: 0x10 } as const;

/** A failed check: the reason in words and the VM-entry failure's exit qualification. */
export interface GuestStateFailure {
  reason: string;
  /**
   * SDM "Exit Qualification for VM-Entry Failure": 0 for most checks, 3 for an NMI injected
   * into STI blocking on a processor that refuses it, 4 for the VMCS link pointer.
   */
  qualification: number;
  /** The encodings of the fields the failed check read (causes/why.ts notes them as the
   *  failure's deciding reads). */
  fields: number[];
}

/** Canonical for 48-bit linear addresses: bits 63:47 all equal (values here are below 2^53). */
function canonical(v: number): boolean {
  return v < 2 ** 47;
}

/** Bits 63:n of a field held as a JS number (exact below 2^53) are all 0. */
function clearAbove(v: number, n: number): boolean {
  return Math.floor(v / 2 ** n) === 0;
}

/** Activity states the processor supports: bit n for state n (IA32_VMX_MISC bits 8:6 for 1–3). */
export function supportedActivityStates(caps: VmxCaps): number {
  const misc = readVmxMsr(caps, VMX_MSR.MISC)![0];
  return 1 | ((misc >>> 5) & 0xe);
}

const DEFAULT_CAPS = vmxCaps(DEFAULT_VMX_FEATURES);

/** Pending-debug-exceptions bits 11:4, 13, 15 (bits 63:17 are checked apart). */
const PENDING_DBG_RESERVED_LOW = 0xaff0;

/**
 * The checks on the guest state the lab's VMCS can express, in the SDM's order: the first that
 * fails, or null. `caps` are the processor's (for L1 under KVM, what KVM offers it).
 */
export function guestStateFailure(vmcs: VmcsState, caps: VmxCaps = DEFAULT_CAPS): GuestStateFailure | null {
  const fail = (reason: string, fields: number[], qualification = 0): GuestStateFailure => ({
    reason,
    qualification,
    fields,
  });
  const CTL = F.VM_ENTRY_CONTROLS;
  const INFO = F.VM_ENTRY_INTR_INFO_FIELD;
  const INTR = F.GUEST_INTERRUPTIBILITY_INFO;
  const ACT = F.GUEST_ACTIVITY_STATE;
  const PEND = F.GUEST_PENDING_DBG_EXCEPTIONS;
  const entry = readField(vmcs, F.VM_ENTRY_CONTROLS);
  const rflags = readField(vmcs, F.GUEST_RFLAGS);
  const intr = readField(vmcs, F.GUEST_INTERRUPTIBILITY_INFO);
  const activity = readField(vmcs, F.GUEST_ACTIVITY_STATE);
  const pending = readField(vmcs, F.GUEST_PENDING_DBG_EXCEPTIONS);
  const debugctl = readField(vmcs, F.GUEST_IA32_DEBUGCTL);
  const info = readField(vmcs, F.VM_ENTRY_INTR_INFO_FIELD);
  const injecting = (info & 0x80000000) !== 0;
  const type = (info >>> 8) & 7;
  const vector = info & 0xff;
  const extInt = injecting && type === EventType.EXTINT;
  const nmi = injecting && type === EventType.NMI;
  const virtualNmis = (readField(vmcs, F.PIN_BASED_VM_EXEC_CONTROL) & PIN_BASED.PIN_BASED_VIRTUAL_NMIS) !== 0;

  // "Checks on Guest Control Registers, Debug Registers, and MSRs", with "load debug controls".
  if (entry & VM_ENTRY.VM_ENTRY_LOAD_DEBUG_CONTROLS) {
    if (!clearAbove(debugctl, 32) || debugctl & ~DEBUGCTL_SUPPORTED)
      return fail(
        `GUEST_IA32_DEBUGCTL: with "load debug controls" its reserved bits must be 0 (this processor has LBR and BTF only)`,
        [CTL, F.GUEST_IA32_DEBUGCTL],
      );
    if (!clearAbove(readField(vmcs, F.GUEST_DR7), 32))
      return fail('GUEST_DR7: with "load debug controls" bits 63:32 must be 0', [CTL, F.GUEST_DR7]);
  }

  // "Checks on Guest Control Registers, Debug Registers, and MSRs": bits of CR3 beyond the
  // processor's physical-address width (MAXPHYADDR 36) must be 0 (CR0/CR4 fixed bits: the lab
  // keeps them at 1 instead, docs/model.md); the IA32_SYSENTER_ESP and IA32_SYSENTER_EIP
  // fields must hold canonical addresses.
  if (readField(vmcs, F.GUEST_CR3) >= 2 ** MAXPHYADDR)
    return fail(`GUEST_CR3: bits 63:${MAXPHYADDR} (beyond the physical-address width) must be 0`, [
      F.GUEST_CR3,
    ]);
  // IA32_SYSENTER_ESP and IA32_SYSENTER_EIP must be canonical.
  if (!canonical(readField(vmcs, F.GUEST_SYSENTER_ESP)) || !canonical(readField(vmcs, F.GUEST_SYSENTER_EIP)))
    return fail('GUEST_SYSENTER_ESP and GUEST_SYSENTER_EIP must be canonical', [
      F.GUEST_SYSENTER_ESP,
      F.GUEST_SYSENTER_EIP,
    ]);

  // "Checks on Guest Descriptor-Table Registers": the GDTR and IDTR bases must be canonical and
  // bits 31:16 of their limits 0. (The segment-register checks before them are not modelled:
  // the lab has no segmentation, docs/model.md.)
  if (!canonical(readField(vmcs, F.GUEST_GDTR_BASE)) || !canonical(readField(vmcs, F.GUEST_IDTR_BASE)))
    return fail('GUEST_GDTR_BASE and GUEST_IDTR_BASE must be canonical', [
      F.GUEST_GDTR_BASE,
      F.GUEST_IDTR_BASE,
    ]);
  if (readField(vmcs, F.GUEST_GDTR_LIMIT) > 0xffff || readField(vmcs, F.GUEST_IDTR_LIMIT) > 0xffff)
    return fail('GUEST_GDTR_LIMIT and GUEST_IDTR_LIMIT: bits 31:16 must be 0', [
      F.GUEST_GDTR_LIMIT,
      F.GUEST_IDTR_LIMIT,
    ]);

  // "Checks on Guest RIP, RFLAGS, and SSP".
  if (!canonical(readField(vmcs, F.GUEST_RIP))) return fail('GUEST_RIP is not canonical', [F.GUEST_RIP]);
  if (!(rflags & RFLAGS.FIXED) || rflags & 0xffc08028 || !clearAbove(rflags, 32))
    return fail('GUEST_RFLAGS: bit 1 must be 1 and reserved bits 63:22, 15, 5, 3 must be 0', [
      F.GUEST_RFLAGS,
    ]);
  if (extInt && !(rflags & RFLAGS.IF))
    return fail('injecting an external interrupt needs GUEST_RFLAGS.IF = 1', [INFO, F.GUEST_RFLAGS]);

  // "Checks on Guest Non-Register State": activity state. (Activity vs SS.DPL is not
  // expressible: the lab's guests run at CPL 0. Wait-for-SIPI vs "entry to SMM": that control
  // is not offered.)
  if (activity > 3 || !((supportedActivityStates(caps) >>> activity) & 1))
    return fail(
      `GUEST_ACTIVITY_STATE ${activity} is not supported (IA32_VMX_MISC bits 8:6 list the inactive states this processor has)`,
      [ACT],
    );
  if (activity !== Activity.ACTIVE && intr & (INTR_STATE.STI | INTR_STATE.MOV_SS))
    return fail('blocking by STI or MOV SS needs GUEST_ACTIVITY_STATE = active', [ACT, INTR]);
  if (injecting && activity === Activity.HLT) {
    const allowed =
      type === EventType.EXTINT ||
      type === EventType.NMI ||
      (type === EventType.HW_EXCEPTION && (vector === 1 || vector === 18)) ||
      (type === 7 && vector === 0);
    if (!allowed)
      return fail(
        'in the HLT activity state only an external interrupt, NMI, #DB, #MC or pending MTF can be injected',
        [INFO, ACT],
      );
  }
  if (injecting && activity === Activity.SHUTDOWN) {
    const allowed = type === EventType.NMI || (type === EventType.HW_EXCEPTION && vector === 18);
    if (!allowed)
      return fail('in the shutdown activity state only an NMI or #MC can be injected', [INFO, ACT]);
  }
  if (injecting && activity === 3)
    return fail('in the wait-for-SIPI activity state nothing can be injected', [INFO, ACT]);

  // Interruptibility state.
  if (intr & 0xffffffe0) return fail('GUEST_INTERRUPTIBILITY_INFO: reserved bits 31:5 must be 0', [INTR]);
  if ((intr & 3) === 3)
    return fail('GUEST_INTERRUPTIBILITY_INFO: blocking by STI and by MOV SS cannot both be 1', [INTR]);
  if (intr & Shadow.STI && !(rflags & RFLAGS.IF))
    return fail('GUEST_INTERRUPTIBILITY_INFO: blocking by STI needs RFLAGS.IF = 1', [INTR, F.GUEST_RFLAGS]);
  if (extInt && intr & 3)
    return fail('injecting an external interrupt needs no blocking by STI or MOV SS', [INFO, INTR]);
  if (nmi && intr & Shadow.MOVSS) return fail('injecting an NMI needs no blocking by MOV SS', [INFO, INTR]);
  // The lab's processor is never in SMM.
  if (intr & INTR_STATE.SMI)
    return fail('GUEST_INTERRUPTIBILITY_INFO: blocking by SMI (bit 2) must be 0 outside SMM', [INTR]);
  if (nmi && virtualNmis && intr & INTR_STATE.NMI)
    return fail(
      'injecting an NMI with "virtual NMIs" = 1 needs virtual-NMI blocking (interruptibility bit 3) = 0',
      [INFO, F.PIN_BASED_VM_EXEC_CONTROL, INTR],
    );
  // Bit 4 (enclave interruption) needs SGX, which the lab's processor does not have.
  if (intr & INTR_STATE.ENCLAVE)
    return fail('GUEST_INTERRUPTIBILITY_INFO: enclave interruption (bit 4) needs SGX, not supported', [INTR]);
  // Implementation-specific (SDM "VM-Entry Failures During or After Loading Guest State",
  // exit qualification 3): a processor whose STI blocking also blocks NMIs may refuse to
  // inject an NMI into it. An option of the processor (stiBlocksNmiInjection).
  if (nmi && intr & INTR_STATE.STI && caps.features.stiBlocksNmiInjection)
    return fail(
      'injecting an NMI into blocking by STI (this processor refuses it: exit qualification 3)',
      [INFO, INTR],
      3,
    );

  // Pending debug exceptions.
  if (pending & PENDING_DBG_RESERVED_LOW || !clearAbove(pending, 17))
    return fail('GUEST_PENDING_DBG_EXCEPTIONS: reserved bits 63:17, 15, 13 and 11:4 must be 0', [PEND]);
  if (intr & (INTR_STATE.STI | INTR_STATE.MOV_SS) || activity === Activity.HLT) {
    // BS must say whether the guest is single-stepping: TF = 1 with BTF = 0 needs BS = 1;
    // TF = 0 or BTF = 1 needs BS = 0 (the debug-control field is read whatever the entry loads).
    const stepping = (rflags & RFLAGS.TF) !== 0 && !(debugctl & 2);
    const bs = (pending & DR6.BS) !== 0;
    if (stepping && !bs)
      return fail(
        'GUEST_PENDING_DBG_EXCEPTIONS: with blocking by STI or MOV SS or in HLT, BS must be 1 when RFLAGS.TF = 1 and IA32_DEBUGCTL.BTF = 0',
        [PEND, INTR, ACT, F.GUEST_RFLAGS, F.GUEST_IA32_DEBUGCTL],
      );
    if (!stepping && bs)
      return fail(
        'GUEST_PENDING_DBG_EXCEPTIONS: with blocking by STI or MOV SS or in HLT, BS must be 0 when RFLAGS.TF = 0 or IA32_DEBUGCTL.BTF = 1',
        [PEND, INTR, ACT, F.GUEST_RFLAGS, F.GUEST_IA32_DEBUGCTL],
      );
  }
  if (pending & DR6.RTM) {
    // RTM (bit 16): then bit 12 must be 1 and every other bit 0, the processor must have RTM,
    // and there is no blocking by MOV SS.
    if ((pending & 0x1ffff) !== (DR6.RTM | DR6.ENABLED_BP))
      return fail(
        'GUEST_PENDING_DBG_EXCEPTIONS: with RTM (bit 16), bit 12 must be 1 and bits 11:0, 15:13 0',
        [PEND],
      );
    if (!caps.features.rtm)
      return fail('GUEST_PENDING_DBG_EXCEPTIONS: RTM (bit 16) needs RTM, not supported', [PEND]);
    if (intr & INTR_STATE.MOV_SS)
      return fail('GUEST_PENDING_DBG_EXCEPTIONS: RTM (bit 16) needs no blocking by MOV SS', [PEND, INTR]);
  }
  return null;
}

/** The reason of the first failing check, or null (the explanation and KVM's log use it). */
export function checkGuestState(vmcs: VmcsState, caps?: VmxCaps): string | null {
  return guestStateFailure(vmcs, caps)?.reason ?? null;
}
