// The state VMRUN and #VMEXIT move between the processor and a save area in the VMCB layout:
// the guest's in the VMCB itself, the host's at VM_HSAVE_PA (the lab keeps the host save area in
// the same layout, docs/svm.md). AMD APM Vol. 2 "VMRUN Instruction" (saving host state, loading
// guest state) and "#VMEXIT" (saving guest state, reloading host state).
import type { CpuState } from '../cpu/state';
import type { Memory } from '../cpu/memory';
import { RFLAGS, RSP, regNumber, setRegNumber } from '../cpu/state';
import { VMCB } from './vmcb';
import { rd32, rd64, wr32, wr64 } from './vmcb-memory';

/** Save RIP (`rip`), RSP, RAX, RFLAGS, CR0/CR3/CR4, EFER, IDTR and SS into the area at `base`. */
export function saveStateArea(m: Memory, base: number, cpu: CpuState, efer: number, rip: number): void {
  wr64(m, base + VMCB.RIP, rip);
  wr64(m, base + VMCB.RSP, regNumber(cpu, RSP));
  // RAX moves as two halves: a 64-bit value above 2^53 (a hypervisor's -ENOSYS) stays exact.
  wr32(m, base + VMCB.RAX, cpu.regs[0]);
  wr32(m, base + VMCB.RAX + 4, cpu.regs[1]);
  wr64(m, base + VMCB.RFLAGS, cpu.rflags);
  wr64(m, base + VMCB.CR0, cpu.cr0);
  wr64(m, base + VMCB.CR3, cpu.cr3);
  wr64(m, base + VMCB.CR4, cpu.cr4);
  wr64(m, base + VMCB.EFER, efer);
  wr64(m, base + VMCB.IDTR_BASE, cpu.idtr);
  wr32(m, base + VMCB.SS_SELECTOR, cpu.ss & 0xffff);
}

/** Load the same state from the area at `base`; returns EFER (kept by the SVM state). */
export function loadStateArea(m: Memory, base: number, cpu: CpuState): number {
  cpu.rip = rd64(m, base + VMCB.RIP);
  setRegNumber(cpu, RSP, rd64(m, base + VMCB.RSP));
  cpu.regs[0] = rd32(m, base + VMCB.RAX);
  cpu.regs[1] = rd32(m, base + VMCB.RAX + 4);
  cpu.rflags = (rd32(m, base + VMCB.RFLAGS) | RFLAGS.FIXED) >>> 0;
  cpu.cr0 = rd32(m, base + VMCB.CR0);
  cpu.cr3 = rd64(m, base + VMCB.CR3);
  cpu.cr4 = rd32(m, base + VMCB.CR4);
  cpu.idtr = rd64(m, base + VMCB.IDTR_BASE);
  cpu.ss = rd32(m, base + VMCB.SS_SELECTOR) & 0xffff;
  return rd32(m, base + VMCB.EFER);
}
