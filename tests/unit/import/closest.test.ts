// "Explain this exit": an imported exit matched to the built-ins whose runs take its reason.
import { describe, expect, it } from 'vitest';
import { builtinExitIndex, closestBuiltins, vmxEquivalent } from '../../../src/core/import/closest';
import { readExitReason } from '../../../src/core/import/exit-names';
import { runCli } from '../../../src/cli/main';

describe('vmxEquivalent', () => {
  it('keeps a VMX basic reason, maps SVM exits to the VMX reason KVM handles alike', () => {
    expect(vmxEquivalent(readExitReason('INTERRUPT_WINDOW'))).toBe(7);
    expect(vmxEquivalent(readExitReason('interrupt'))).toBe(1);
    expect(vmxEquivalent(readExitReason('vintr'))).toBe(7);
    expect(vmxEquivalent(readExitReason('iret'))).toBe(8);
    expect(vmxEquivalent(readExitReason('GP excp'))).toBe(0);
    expect(vmxEquivalent(readExitReason('write_cr3'))).toBe(28);
    expect(vmxEquivalent(readExitReason('msr'), { info1: '0x0000000000000001' })).toBe(32);
    expect(vmxEquivalent(readExitReason('msr'), { info1: '0x0000000000000000' })).toBe(31);
    expect(vmxEquivalent(readExitReason('SOMETHING_NEW'))).toBeNull();
  });
});

describe('closestBuiltins', () => {
  const index = builtinExitIndex();
  it('is computed from the built-ins runs: soft-vnmi exits for external interrupts and the interrupt window', () => {
    const soft = index.find((b) => b.name === 'soft-vnmi')!;
    expect(soft.exits[1]).toBe(2);
    expect(soft.exits[7]).toBe(1);
  });

  it('ranks the scenario about the exit first (largest share of its exits)', () => {
    expect(closestBuiltins(7, index)[0].name).toBe('kut-intr-window');
    expect(closestBuiltins(8, index)[0].name).toBe('kut-nmi-window');
    expect(closestBuiltins(52, index).map((b) => b.name)).toContain('kut-preemption-timer');
    expect(closestBuiltins(0xffff, index)).toEqual([]);
  });

  it('the import summary names them for each exit reason', () => {
    const r = runCli(['--import', 'tests/fixtures/kvm-vmx.trace-cmd.txt']);
    expect(r.stdout).toContain('explain an exit with a built-in (npm run sim -- NAME):');
    expect(r.stdout).toMatch(/ {2}INTERRUPT_WINDOW \(7\) +kut-intr-window/);
  });
});
