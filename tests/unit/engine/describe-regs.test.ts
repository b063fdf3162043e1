// The control registers a level's view shows: the processor's for the running level, the
// VMCS guest-state area for a resting guest (engine/describe-regs.ts).
import { describe, expect, it } from 'vitest';
import { runVmx, stepAt } from '../vmx-hw/vmx-helpers';

describe('control registers in the views', () => {
  it('after the exit the host shows its own CR3 and the resting guest its GUEST_CR3', () => {
    const s = runVmx({ guest: ['mov rax, 0x2000', 'mov cr3, rax', 'vmcall'] });
    const v = s.view(s.totalSteps);
    expect(v.levels[0].cpu.system?.cr3).toBe(0);
    expect(v.levels[1].cpu.system?.cr3).toBe(0x2000);
    // GUEST_CR4 was left 0: VM entry keeps the VMX-fixed VMXE bit at 1 (docs/model.md).
    expect(v.levels[1].cpu.system?.cr4).toBe(0x2000);
  });

  it('while the guest runs, the resting host shows the CR0 its VM exit will load (HOST_CR0 0 keeps ET and the VMX-fixed PE, NE, PG)', () => {
    const s = runVmx({ guest: ['nop', 'vmcall'] });
    const v = s.view(stepAt(s, 'launch'));
    expect(v.levels[0].cpu.system?.cr0).toBe(0x80000031);
    expect(v.levels[1].cpu.system?.cr0).toBe(0x80000031);
  });
});
