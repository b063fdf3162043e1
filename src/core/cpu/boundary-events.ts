// The events an instruction boundary can bring, named once for the bare-metal checks
// (cpu/boundary.ts) and the VMX non-root ones (vmx/non-root.ts): each decides which event
// comes first without changing anything, then acts on it.
import { type CpuState, Shadow } from './state';

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
} as const;

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
