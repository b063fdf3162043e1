// The events an instruction boundary can bring, named once for the bare-metal checks
// (cpu/boundary.ts) and the VMX non-root ones (vmx/non-root.ts): each decides which event
// comes first without changing anything, then acts on it.
import { Activity, type CpuState, Shadow } from './state';

export const Boundary = {
  NONE: 0,
  PENDING_EXIT: 1,
  MTF_EXIT: 2,
  DEBUG_TRAP: 3,
  TIMER_EXIT: 4,
  NMI_WINDOW_EXIT: 5,
  NMI_EXIT: 6,
  NMI_DELIVERY: 7,
  INTR_WINDOW_EXIT: 8,
  EXTINT_EXIT: 9,
  EXTINT_DELIVERY: 10,
  /** MWAIT with ECX[0] = 1 ends its wait for an interrupt that IF = 0 holds back. */
  MWAIT_WAKE: 11,
} as const;

/**
 * "MWAIT": with ECX[0] = 1, an interrupt ends the wait even when RFLAGS.IF = 0; it is not
 * delivered, execution goes on after MWAIT. Ends the wait and fills the step record (WAKE).
 */
export function mwaitWake(
  cpu: CpuState,
  out: { kind: number; rip: number; d0: number; d1: number; d2: number },
): void {
  cpu.activity = Activity.ACTIVE;
  cpu.mwaitBreak = false;
  out.kind = 8; // EventKind.WAKE
  out.rip = cpu.rip;
  out.d0 = 0;
  out.d1 = 0;
  out.d2 = 0;
}

/**
 * A debug trap is due: single-step (TF was set when the last instruction began) or breakpoints
 * a VM entry made pending (cpu.dbPending), and no MOV-SS
 * shadow holds it — after MOV SS the processor "inhibits interrupts, debug exceptions, and
 * single-step trap exceptions ... until the instruction boundary following the next
 * instruction" (SDM "Masking Exceptions and Interrupts When Switching Stacks").
 */
export function singleStepDue(cpu: CpuState): boolean {
  return (cpu.dbTrapPending || cpu.dbPending !== 0) && !(cpu.shadow & Shadow.MOVSS);
}
