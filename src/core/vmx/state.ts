// The processor's VMX state: whether it is in VMX operation, root or non-root, its current
// VMCS, the VMCSs it has seen, and the timers and pending exits that follow a VM entry.
import { type VmcsState, cloneVmcs } from './vmcs';

export const NO_VMCS = -1;

export interface VmxState {
  /** In VMX operation (between VMXON and VMXOFF). */
  on: boolean;
  vmxonRegion: number;
  /** The current-VMCS pointer, or NO_VMCS. */
  current: number;
  /** VMCSs by region address. */
  vmcs: Record<number, VmcsState>;
  /** In VMX non-root operation. */
  nonRoot: boolean;
  /** Lane (execution level) of the software in root operation that entered the guest. */
  rootLane: number;
  /** An MTF VM exit is pending (SDM "Monitor Trap Flag"). */
  mtfPending: boolean;
  /** TSC time at which the VMX-preemption timer reaches zero; -1 when inactive. */
  timerDeadline: number;
  /** TSC time of the VM entry that loaded the timer, and the value it loaded. */
  timerStart: number;
  timerValue: number;
  /**
   * The VM-execution controls in force in non-root operation, read from the VMCS at VM entry
   * (software cannot change them while the guest runs: VMWRITE in non-root operation exits).
   */
  pin: number;
  proc: number;
  /** Secondary processor-based controls (0 unless "activate secondary controls"). */
  proc2: number;
  exitControls: number;
  exceptionBitmap: number;
  /** A VM exit decided during VM entry (a fault delivering the injected event), taken next. */
  pendingExit: PendingExit | null;
  /** Guest RIP of the `work` the last VM exit interrupted (its remaining cycles stay with the
   *  guest), or -1. */
  workRip: number;
}

export interface PendingExit {
  reason: number;
  intrInfo: number;
  intrError: number;
  vectoringInfo: number;
  vectoringError: number;
  instructionLen: number;
}

export function createVmx(): VmxState {
  return {
    on: false,
    vmxonRegion: NO_VMCS,
    current: NO_VMCS,
    vmcs: {},
    nonRoot: false,
    rootLane: 0,
    mtfPending: false,
    timerDeadline: -1,
    timerStart: 0,
    timerValue: 0,
    pin: 0,
    proc: 0,
    proc2: 0,
    exitControls: 0,
    exceptionBitmap: 0,
    pendingExit: null,
    workRip: -1,
  };
}

export function cloneVmx(v: VmxState): VmxState {
  const vmcs: Record<number, VmcsState> = {};
  for (const k of Object.keys(v.vmcs)) vmcs[Number(k)] = cloneVmcs(v.vmcs[Number(k)]);
  return { ...v, vmcs, pendingExit: v.pendingExit ? { ...v.pendingExit } : null };
}

export function currentVmcs(v: VmxState): VmcsState | null {
  return v.current === NO_VMCS ? null : (v.vmcs[v.current] ?? null);
}

/**
 * Remaining VMX-preemption-timer value at `tsc`: the timer counts down by one each time TSC
 * bit X changes, X = IA32_VMX_MISC[4:0] (SDM "VMX-Preemption Timer").
 */
export function timerRemaining(v: VmxState, tsc: number, rate: number): number {
  const ticks = Math.floor(tsc / 2 ** rate) - Math.floor(v.timerStart / 2 ** rate);
  return Math.max(0, v.timerValue - ticks);
}
