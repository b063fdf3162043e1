// The control and debug registers of a level as the CPU panel shows them: the processor's for
// the running level; for a resting host the values its VM exit will load (from HOST_CR0/CR3/
// CR4, DR7 400H); for a resting guest what the next VM entry loads (GUEST_CR0/CR3/CR4,
// GUEST_DR7), fixed bits included. CR8
// is TPR[7:4] of the APIC the level sees.
import type { CpuState } from '../cpu/state';
import { DR6_INIT, DR7_INIT } from '../cpu/state';
import { guestCrsAfterEntry, hostCrsAfterExit } from '../vmx/cr-state';
import { F, type VmcsState, readField } from '../vmx/vmcs';

export interface SystemRegsView {
  cr0: number;
  cr3: number;
  cr4: number;
  cr8: number;
  /** DR7 and DR6 (low 32 bits; their high halves are always 0). */
  dr7: number;
  dr6: number;
}

export function systemRegs(
  cpu: CpuState,
  rest: { area: 'host' | 'guest'; vmcs: VmcsState } | null,
  running: boolean,
  tpr: number,
): SystemRegsView {
  const cr8 = (tpr >>> 4) & 0xf;
  // What the next VM exit or entry loads (vmx/cr-state.ts), with the fixed bits it keeps.
  if (rest?.area === 'host')
    return { ...hostCrsAfterExit(cpu.cr0, rest.vmcs), cr8, dr7: DR7_INIT, dr6: cpu.dr[12] >>> 0 };
  if (rest)
    return {
      ...guestCrsAfterEntry(cpu.cr0, rest.vmcs),
      cr8,
      dr7: readField(rest.vmcs, F.GUEST_DR7) >>> 0,
      dr6: cpu.dr[12] >>> 0,
    };
  if (!running) return { cr0: 0, cr3: 0, cr4: 0, cr8, dr7: DR7_INIT, dr6: DR6_INIT };
  return {
    cr0: cpu.cr0 >>> 0,
    cr3: cpu.cr3,
    cr4: cpu.cr4 >>> 0,
    cr8,
    dr7: cpu.dr[14] >>> 0,
    dr6: cpu.dr[12] >>> 0,
  };
}
