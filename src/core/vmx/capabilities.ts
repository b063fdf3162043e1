// What this processor supports, as the VMX capability MSRs report it (SDM appendix "VMX
// Capability Reporting Facility"). The lab reports the TRUE controls (IA32_VMX_BASIC bit 55),
// so the default-1 bits of the old MSRs may be 0, as on current processors.
import { CPU_BASED, PIN_BASED, SECONDARY_EXEC, VM_ENTRY, VM_EXIT } from './bits';
import { VMX_CR0_FIXED0, VMX_CR0_FIXED1, VMX_CR4_FIXED0, VMX_CR4_FIXED1 } from '../cpu/control-regs';

export interface VmxFeatures {
  /** The "virtual NMIs" pin-based control is supported. */
  virtualNmis: boolean;
  /** The VMX-preemption timer is supported. */
  preemptionTimer: boolean;
  /** IA32_VMX_MISC[4:0]: the timer counts down each time TSC bit X changes. */
  preemptionTimerRate: number;
  /** The "VMCS shadowing" secondary control (IA32_VMX_PROCBASED_CTLS2 bit 46). */
  vmcsShadowing?: boolean;
  /** IA32_VMX_MISC[29]: VMWRITE may write the VM-exit information fields. */
  vmwriteAnyField?: boolean;
  /**
   * IA32_VMX_MISC bits 8:6 as bits 2:0: the inactive activity states supported (1 HLT, 2
   * shutdown, 4 wait-for-SIPI). Default HLT and shutdown.
   */
  activityStates?: number;
  /**
   * Implementation-specific (SDM "VM-Entry Failures During or After Loading Guest State",
   * exit qualification 3): VM entry fails when it injects an NMI into blocking by STI. Default
   * false: the entry delivers the NMI (docs/model.md).
   */
  stiBlocksNmiInjection?: boolean;
  /** RTM (CPUID.07H:EBX[11]); the lab has no transactional memory, so false. */
  rtm?: boolean;
}

/** IA32_VMX_MISC activity-state bits 8:6, as VmxFeatures.activityStates holds them. */
export const ACTIVITY_MISC = { HLT: 1, SHUTDOWN: 2, WAIT_SIPI: 4 } as const;

export const DEFAULT_VMX_FEATURES: VmxFeatures = {
  virtualNmis: true,
  preemptionTimer: true,
  preemptionTimerRate: 5,
  vmcsShadowing: true,
  vmwriteAnyField: true,
  activityStates: ACTIVITY_MISC.HLT | ACTIVITY_MISC.SHUTDOWN,
};

export const VMX_REVISION = 1;

/** The dword at the start of a VMXON region or VMCS (SDM "Format of the VMCS Region"): bits
 *  30:0 the revision identifier, bit 31 the shadow-VMCS indicator. */
export function readRevision(bytes: Uint8Array, addr: number): number {
  return (bytes[addr] | (bytes[addr + 1] << 8) | (bytes[addr + 2] << 16) | (bytes[addr + 3] << 24)) >>> 0;
}

/** Software writes IA32_VMX_BASIC's revision identifier before VMXON or VMPTRLD; a shadow
 *  VMCS also sets bit 31. */
export function writeRevision(bytes: Uint8Array, addr: number, shadow = false): void {
  const v = (VMX_REVISION | (shadow ? 0x80000000 : 0)) >>> 0;
  for (let i = 0; i < 4; i++) bytes[addr + i] = (v >>> (8 * i)) & 0xff;
}

export const VMX_MSR = {
  BASIC: 0x480,
  PINBASED_CTLS: 0x481,
  PROCBASED_CTLS: 0x482,
  EXIT_CTLS: 0x483,
  ENTRY_CTLS: 0x484,
  MISC: 0x485,
  CR0_FIXED0: 0x486,
  CR0_FIXED1: 0x487,
  CR4_FIXED0: 0x488,
  CR4_FIXED1: 0x489,
  PROCBASED_CTLS2: 0x48b,
  TRUE_PINBASED_CTLS: 0x48d,
  TRUE_PROCBASED_CTLS: 0x48e,
  TRUE_EXIT_CTLS: 0x48f,
  TRUE_ENTRY_CTLS: 0x490,
} as const;

export interface VmxCaps {
  /** Bits that may be 1 in each control (allowed-1 settings). */
  pinAllowed: number;
  procAllowed: number;
  proc2Allowed: number;
  exitAllowed: number;
  entryAllowed: number;
  features: VmxFeatures;
}

export function vmxCaps(f: VmxFeatures): VmxCaps {
  let pin = PIN_BASED.PIN_BASED_EXT_INTR_MASK | PIN_BASED.PIN_BASED_NMI_EXITING | 0x16;
  if (f.virtualNmis) pin |= PIN_BASED.PIN_BASED_VIRTUAL_NMIS;
  if (f.preemptionTimer) pin |= PIN_BASED.PIN_BASED_VMX_PREEMPTION_TIMER;
  // Not modelled, so not offered: tertiary controls, the TPR shadow (no virtual-APIC page) and
  // every secondary control but VMCS shadowing, WBINVD exiting and RDRAND exiting (no EPT, no
  // APIC virtualization).
  let proc = 0xffffffff & ~CPU_BASED.CPU_BASED_ACTIVATE_TERTIARY_CONTROLS & ~CPU_BASED.CPU_BASED_TPR_SHADOW;
  if (!f.virtualNmis) proc &= ~CPU_BASED.CPU_BASED_NMI_WINDOW_EXITING;
  const proc2 =
    (f.vmcsShadowing ? SECONDARY_EXEC.SECONDARY_EXEC_SHADOW_VMCS : 0) |
    SECONDARY_EXEC.SECONDARY_EXEC_WBINVD_EXITING |
    SECONDARY_EXEC.SECONDARY_EXEC_RDRAND_EXITING;
  let exit = 0x00036dff | VM_EXIT.VM_EXIT_ACK_INTR_ON_EXIT | VM_EXIT.VM_EXIT_HOST_ADDR_SPACE_SIZE;
  if (f.preemptionTimer) exit |= VM_EXIT.VM_EXIT_SAVE_VMX_PREEMPTION_TIMER;
  const entry = 0x000011ff | VM_ENTRY.VM_ENTRY_IA32E_MODE;
  return {
    pinAllowed: pin >>> 0,
    procAllowed: proc >>> 0,
    proc2Allowed: proc2,
    exitAllowed: exit >>> 0,
    entryAllowed: entry >>> 0,
    features: f,
  };
}

/** RDMSR of a VMX capability MSR: [low, high] halves, or null when it is not one. */
export function readVmxMsr(c: VmxCaps, index: number): [number, number] | null {
  switch (index) {
    case VMX_MSR.BASIC:
      // Revision, VMCS size 4096 (bits 44:32), write-back memory type (bits 53:50 = 6),
      // TRUE controls (bit 55).
      return [VMX_REVISION, 0x1000 | (6 << 18) | (1 << 23)];
    case VMX_MSR.PINBASED_CTLS:
      return [0x16, c.pinAllowed];
    case VMX_MSR.TRUE_PINBASED_CTLS:
      return [0, c.pinAllowed];
    case VMX_MSR.PROCBASED_CTLS:
      return [0x0401e172, c.procAllowed];
    case VMX_MSR.TRUE_PROCBASED_CTLS:
      return [0, c.procAllowed];
    case VMX_MSR.PROCBASED_CTLS2:
      return [0, c.proc2Allowed];
    // "VMX-Fixed Bits in CR0" / "...in CR4": bits that must be 1 (FIXED0) and may be 1 (FIXED1)
    // in VMX operation (cpu/control-regs.ts).
    case VMX_MSR.CR0_FIXED0:
      return [VMX_CR0_FIXED0, 0];
    case VMX_MSR.CR0_FIXED1:
      return [VMX_CR0_FIXED1, 0];
    case VMX_MSR.CR4_FIXED0:
      return [VMX_CR4_FIXED0, 0];
    case VMX_MSR.CR4_FIXED1:
      return [VMX_CR4_FIXED1, 0];
    case VMX_MSR.EXIT_CTLS:
      return [0x00036dff, c.exitAllowed];
    case VMX_MSR.TRUE_EXIT_CTLS:
      return [0, c.exitAllowed];
    case VMX_MSR.ENTRY_CTLS:
      return [0x000011ff, c.entryAllowed];
    case VMX_MSR.TRUE_ENTRY_CTLS:
      return [0, c.entryAllowed];
    case VMX_MSR.MISC:
      // Timer rate (4:0), the activity states supported (bits 8:6: HLT, shutdown, wait-for-
      // SIPI), injection with instruction length 0 allowed (bit 30).
      // VMWRITE to any supported field, the VM-exit information fields included (bit 29).
      return [
        ((c.features.preemptionTimerRate & 0x1f) |
          (((c.features.activityStates ?? ACTIVITY_MISC.HLT | ACTIVITY_MISC.SHUTDOWN) & 7) << 6) |
          (c.features.vmwriteAnyField ? 1 << 29 : 0) |
          (1 << 30)) >>>
          0,
        0,
      ];
    default:
      return null;
  }
}
