// The debug state VM entry loads and VM exit saves and restores: DR7 and IA32_DEBUGCTL with
// the "load debug controls" / "save debug controls" controls, and the pending debug
// exceptions. SDM Vol. 3C "Loading Guest Control Registers, Debug Registers, and MSRs",
// "Delivery of Pending Debug Exceptions after VM Entry", "Saving Control Registers, Debug
// Registers, and MSRs", "Saving Non-Register State", "Loading Host Control Registers, Debug
// Registers, MSRs".
import { EventType } from '../engine/view';
import { DR6, loadDr7, pendingDebugBits } from '../cpu/debug';
import type { CpuState } from '../cpu/state';
import { Activity, DR7_INIT, Shadow } from '../cpu/state';
import { VM_ENTRY, VM_EXIT } from './bits';
import { F, readField, writeField, type VmcsState } from './vmcs';

/**
 * "Loading Guest Control Registers, Debug Registers, and MSRs": with "load debug controls" DR7
 * comes from GUEST_DR7 (bits 12, 15:14 read as 0, bit 10 as 1) and IA32_DEBUGCTL from
 * GUEST_IA32_DEBUGCTL; without it both keep the values the host had.
 */
export function loadGuestDebugControls(cpu: CpuState, vmcs: VmcsState): void {
  if (!(readField(vmcs, F.VM_ENTRY_CONTROLS) & VM_ENTRY.VM_ENTRY_LOAD_DEBUG_CONTROLS)) return;
  loadDr7(cpu, ((readField(vmcs, F.GUEST_DR7) & ~0xd000) | 0x400) >>> 0);
  cpu.debugctl = readField(vmcs, F.GUEST_IA32_DEBUGCTL) >>> 0;
}

/**
 * "Delivery of Pending Debug Exceptions after VM Entry", called after any injection: which
 * debug exceptions of GUEST_PENDING_DBG_EXCEPTIONS are pending for the guest. None when the
 * entry is vectoring with an external interrupt, NMI, hardware exception or privileged
 * software exception; none when it injects a software interrupt or exception without blocking
 * by MOV SS; none when it is not vectoring into shutdown (or wait-for-SIPI). Otherwise they
 * are valid if BS (bit 14) or "enabled breakpoint" (bit 12) is 1, and a #DB trap is pending
 * with the priority of "traps on the previous instruction": held by blocking by MOV SS for a
 * non-vectoring entry. For a software interrupt or exception injected with MOV-SS blocking the
 * #DB comes after the injected event's delivery, at the handler's first instruction: for INT3
 * and INTO the SDM's rule, for other vectors (the SDM: "may be lost or ... delivered") the
 * lab's choice.
 */
export function loadPendingDebugExceptions(cpu: CpuState, vmcs: VmcsState): void {
  cpu.dbTrapPending = false;
  cpu.dbPending = 0;
  const pending = readField(vmcs, F.GUEST_PENDING_DBG_EXCEPTIONS);
  const info = readField(vmcs, F.VM_ENTRY_INTR_INFO_FIELD);
  const type = (info >>> 8) & 7;
  const vectoring = (info & 0x80000000) !== 0 && type !== 7;
  const movss = (readField(vmcs, F.GUEST_INTERRUPTIBILITY_INFO) & Shadow.MOVSS) !== 0;
  if (vectoring) {
    const software = type === EventType.SW_INT || type === EventType.SW_EXCEPTION;
    if (!software || !movss) return;
  } else {
    const activity = readField(vmcs, F.GUEST_ACTIVITY_STATE);
    if (activity === Activity.SHUTDOWN || activity === 3) return;
  }
  if (!(pending & (DR6.BS | DR6.ENABLED_BP))) return;
  cpu.dbTrapPending = (pending & DR6.BS) !== 0;
  cpu.dbPending = pending & (DR6.B0_B3 | DR6.ENABLED_BP);
}

/**
 * At a VM exit: "Saving Non-Register State" — the pending debug exceptions still pending (a
 * single-step or breakpoint trap that an MTF exit, or an exit in a MOV-SS shadow, came
 * before), all their bits, else 0 — and "Saving Control Registers, Debug Registers, and
 * MSRs": DR7 and IA32_DEBUGCTL with "save debug controls". Then "Loading Host Control
 * Registers, Debug Registers, MSRs": DR7 is 400H and IA32_DEBUGCTL 0, and nothing is pending.
 */
export function saveGuestDebugState(cpu: CpuState, vmcs: VmcsState, saveGuest: boolean): void {
  if (saveGuest) {
    writeField(vmcs, F.GUEST_PENDING_DBG_EXCEPTIONS, pendingDebugBits(cpu));
    if (readField(vmcs, F.VM_EXIT_CONTROLS) & VM_EXIT.VM_EXIT_SAVE_DEBUG_CONTROLS) {
      writeField(vmcs, F.GUEST_DR7, cpu.dr[14]);
      writeField(vmcs, F.GUEST_IA32_DEBUGCTL, cpu.debugctl);
    }
  }
  loadDr7(cpu, DR7_INIT);
  cpu.debugctl = 0;
  cpu.dbTrapPending = false;
  cpu.dbPending = 0;
}
