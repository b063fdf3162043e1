// VM exits: saving guest state and exit information into the VMCS, then loading host state.
// SDM Vol. 3C chapter "VM Exits": "Recording VM-Exit Information and Updating VM-Entry
// Control Fields", "Saving Guest State", "Loading Host State".
import { EventKind } from '../engine/view';
import type { Hart } from '../cpu/hart';
import { switchLane } from '../cpu/hart';
import { Activity, RFLAGS, RSP, Shadow, regNumber, setRegNumber, swapBook } from '../cpu/state';
import { PIN_BASED, VM_EXIT } from './bits';
import { F, readField, writeField } from './vmcs';
import { currentVmcs, timerRemaining } from './state';
import { loadHostCrs, saveGuestCrs } from './cr-state';
import { saveGuestDebugState } from './debug-state';

export const ExitReason = {
  EXCEPTION_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  TRIPLE_FAULT: 2,
  INTERRUPT_WINDOW: 7,
  NMI_WINDOW: 8,
  CPUID: 10,
  HLT: 12,
  INVD: 13,
  INVLPG: 14,
  RDPMC: 15,
  RDTSC: 16,
  VMCALL: 18,
  VMCLEAR: 19,
  VMLAUNCH: 20,
  VMPTRLD: 21,
  VMREAD: 23,
  VMRESUME: 24,
  VMWRITE: 25,
  VMXOFF: 26,
  VMXON: 27,
  CR_ACCESS: 28,
  IO_INSTRUCTION: 30,
  MSR_READ: 31,
  MSR_WRITE: 32,
  DR_ACCESS: 29,
  INVALID_GUEST_STATE: 33,
  MWAIT: 36,
  MTF: 37,
  MONITOR: 39,
  PAUSE: 40,
  PREEMPTION_TIMER: 52,
  WBINVD: 54,
  RDRAND: 57,
} as const;

/** Exit-reason bit 31: the VM entry failed (SDM "Basic VM-Exit Information"). */
export const EXIT_REASON_FAILED_VMENTRY = 0x80000000;

export interface ExitInfo {
  reason: number;
  qualification?: number;
  intrInfo?: number;
  intrError?: number;
  vectoringInfo?: number;
  vectoringError?: number;
  instructionLen?: number;
  /** VMX_INSTRUCTION_INFO, for the exits whose instruction the SDM describes there. */
  instructionInfo?: number;
}

/** The guest's interruptibility state as a VM exit saves it (SDM "Saving Non-Register State"). */
export function guestInterruptibility(h: Hart, virtualNmis: boolean, nmiExiting: boolean): number {
  const c = h.cpu;
  // Bit 3 is virtual-NMI blocking with "virtual NMIs". Without them it is blocking by NMI;
  // with NMI exiting that blocking lasts only while the processor stays in non-root operation
  // (facts §3.3), so the exit that ends it saves 0. Lab assumption (docs/model.md): it is the
  // reading under which KVM's soft-vNMI path, whose vmx_nmi_blocked also checks bit 3, works
  // on processors without virtual NMIs, as it did.
  const nmi = virtualNmis ? c.vnmiBlocked : c.nmiBlocked && !nmiExiting;
  return (c.shadow & (Shadow.STI | Shadow.MOVSS)) | (nmi ? 8 : 0);
}

/**
 * Perform a VM exit. `h.cpu.rip` must already be the guest RIP the exit saves (the
 * instruction for instruction exits and faults, the next instruction for traps, the
 * interrupted one for events). Fills `h.out` with the VMEXIT record.
 */
export function vmExit(h: Hart, info: ExitInfo): void {
  const vmx = h.vmx;
  const vmcs = currentVmcs(vmx)!;
  const cpu = h.cpu;
  const pin = readField(vmcs, F.PIN_BASED_VM_EXEC_CONTROL);
  const virtualNmis = (pin & PIN_BASED.PIN_BASED_VIRTUAL_NMIS) !== 0;
  const guestRip = cpu.rip;
  const guestLane = h.level;
  const failedEntry = (info.reason & EXIT_REASON_FAILED_VMENTRY) !== 0;

  if (!failedEntry) {
    // "Saving Guest State": RIP, RSP, RFLAGS, SS, IDTR, interruptibility, activity, timer.
    writeField(vmcs, F.GUEST_RIP, guestRip);
    writeField(vmcs, F.GUEST_RSP, regNumber(cpu, RSP));
    writeField(vmcs, F.GUEST_RFLAGS, cpu.rflags);
    writeField(vmcs, F.GUEST_SS_SELECTOR, cpu.ss);
    writeField(vmcs, F.GUEST_IDTR_BASE, cpu.idtr);
    writeField(
      vmcs,
      F.GUEST_INTERRUPTIBILITY_INFO,
      guestInterruptibility(h, virtualNmis, (pin & PIN_BASED.PIN_BASED_NMI_EXITING) !== 0),
    );
    // A wait in MWAIT is saved as active, with GUEST_RIP after the MWAIT: the VMCS activity
    // state never reflects MWAIT's inactive state (SDM "Guest Non-Register State").
    writeField(
      vmcs,
      F.GUEST_ACTIVITY_STATE,
      cpu.inMwait && cpu.activity === Activity.HLT ? Activity.ACTIVE : cpu.activity,
    );
    saveGuestCrs(h, vmcs);
    if (readField(vmcs, F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_SAVE_VMX_PREEMPTION_TIMER) {
      writeField(
        vmcs,
        F.VMX_PREEMPTION_TIMER_VALUE,
        timerRemaining(h.vmx, h.tsc, h.caps.features.preemptionTimerRate),
      );
    }
  }
  // "Recording VM-Exit Information".
  writeField(vmcs, F.VM_EXIT_REASON, info.reason >>> 0);
  writeField(vmcs, F.EXIT_QUALIFICATION, info.qualification ?? 0);
  if (!failedEntry) {
    writeField(vmcs, F.VM_EXIT_INTR_INFO, info.intrInfo ?? 0);
    writeField(vmcs, F.VM_EXIT_INTR_ERROR_CODE, info.intrError ?? 0);
    writeField(vmcs, F.IDT_VECTORING_INFO_FIELD, info.vectoringInfo ?? 0);
    writeField(vmcs, F.IDT_VECTORING_ERROR_CODE, info.vectoringError ?? 0);
    writeField(vmcs, F.VM_EXIT_INSTRUCTION_LEN, info.instructionLen ?? 0);
    writeField(vmcs, F.VMX_INSTRUCTION_INFO, info.instructionInfo ?? 0);
    // "... and Updating VM-Entry Control Fields": the valid bit of the VM-entry
    // interruption-information field is cleared on a VM exit.
    writeField(vmcs, F.VM_ENTRY_INTR_INFO_FIELD, readField(vmcs, F.VM_ENTRY_INTR_INFO_FIELD) & ~0x80000000);
  }
  // "VM-Entry Failures During or After Loading Guest State": a failed entry records only the
  // exit reason (bit 31 set) and the exit qualification; every other VM-exit information field
  // keeps its value, the injection's valid bit stays set (a host that repairs the guest state
  // and retries gets its event delivered), no guest state is saved and the VMCS is not marked
  // launched (enterGuest fails before it would be). KVM's prepare_vmcs12 does the same for L1.

  // "Loading Host State": RIP, RSP, SS and IDTR from the host-state area; RFLAGS is 0x2.
  const nmiExiting = (pin & PIN_BASED.PIN_BASED_NMI_EXITING) !== 0;
  const exitForNmi = info.reason === ExitReason.EXCEPTION_NMI && ((info.intrInfo ?? 0) & 0x7ff) === 0x202;
  cpu.rip = readField(vmcs, F.HOST_RIP);
  setRegNumber(cpu, RSP, readField(vmcs, F.HOST_RSP));
  cpu.ss = readField(vmcs, F.HOST_SS_SELECTOR) || cpu.ss;
  cpu.idtr = readField(vmcs, F.HOST_IDTR_BASE);
  loadHostCrs(h, vmcs);
  cpu.rflags = RFLAGS.FIXED;
  cpu.shadow = 0;
  cpu.activity = Activity.ACTIVE;
  // Pending debug exceptions (a trap an MTF exit won over is saved with all its bits, facts
  // §3.6), DR7/IA32_DEBUGCTL with "save debug controls", then the host's DR7 and DEBUGCTL.
  saveGuestDebugState(cpu, vmcs, !failedEntry);
  // Blocking by NMI after the exit (SDM "Updating Non-Register State"): a VM exit caused by an
  // NMI blocks NMIs once it completes ("Architectural State before a VM Exit"); other exits do
  // not change blocking by NMI. With NMI exiting = 0 the processor's one blocking state goes
  // with it from guest to host (and an IRET on either side ends it). With NMI exiting = 1 the
  // guest's blocking lasted only "as long as the logical processor is in VMX non-root
  // operation" ("Interruptibility State" under VM entry), and with virtual NMIs NMIs were not
  // blocked in non-root operation at all: the host is not blocked after such an exit.
  cpu.nmiBlocked = exitForNmi || (!nmiExiting && cpu.nmiBlocked);
  cpu.vnmiBlocked = false;
  vmx.nonRoot = false;
  vmx.mtfPending = false;
  vmx.timerDeadline = -1;
  vmx.pendingExit = null;
  vmx.workRip = cpu.workRemaining > 0 ? guestRip : -1;
  swapBook(cpu, h.books[guestLane], h.books[vmx.rootLane]);
  switchLane(h, vmx.rootLane);

  h.out.kind = EventKind.VMEXIT;
  h.out.rip = guestRip;
  h.out.d0 = info.reason >>> 0;
  h.out.d1 = (info.intrInfo ?? 0) >>> 0;
  h.out.d2 = (info.vectoringInfo ?? 0) >>> 0;
}
