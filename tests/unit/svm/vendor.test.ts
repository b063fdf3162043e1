// The processor's vendor follows the scenario's arch: an AMD processor ("svm") has SVM and no
// VMX (VMX instructions #UD, CR4.VMXE reserved); an Intel one ("vmx") has no SVM (the SVM
// instructions #UD, EFER.SVME reserved, no VM_HSAVE_PA).
import { describe, expect, it } from 'vitest';
import { deliveries, label, open, openError, scenarioDoc } from '../helpers';

function run(arch: 'vmx' | 'svm', lines: string[]) {
  return open(
    scenarioDoc(
      [
        '        .intgate 6, ud',
        '        .intgate 13, gp',
        ...lines,
        '        hlt',
        'ud:    cli',
        '        hlt',
        'gp:    cli',
        '        hlt',
        'rgn:   .dq 0x3000',
      ],
      [],
      { arch },
    ),
  );
}

describe('vendor', () => {
  it.each([
    ['svm', 'vmxon [rgn]', 6],
    ['svm', 'vmcall', 6],
    ['vmx', 'vmrun', 6],
    ['vmx', 'stgi', 6],
    ['vmx', 'vmmcall', 6],
  ] as const)('on %s, %s raises vector %i', (arch, ins, vector) => {
    const s = run(arch, [`start: ${ins}`]);
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[vector, label(s, 'start')]]);
  });

  it('on vmx, setting EFER.SVME and writing VM_HSAVE_PA are #GP', () => {
    for (const body of [
      ['        mov ecx, MSR_EFER', '        rdmsr', '        or eax, EFER_SVME', 'start: wrmsr'],
      ['        mov ecx, MSR_VM_HSAVE_PA', '        xor eax, eax', '        xor edx, edx', 'start: wrmsr'],
    ]) {
      const s = run('vmx', body);
      expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[13, label(s, 'start')]]);
    }
  });

  it('on svm, CR4.VMXE is clear at start and reserved', () => {
    const s = run('svm', [
      '        mov rax, cr4',
      '        mov r8, rax',
      '        or rax, 0x2000',
      'start: mov cr4, rax',
    ]);
    expect(Number(s.sim.stateAt(0).cpu.cr4) & 0x2000).toBe(0);
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[13, label(s, 'start')]]);
  });
});

describe('KVM levels', () => {
  it('are refused on arch svm until KVM on SVM exists, at the KVM level', () => {
    const e = openError({
      version: 1,
      name: 'x',
      title: 't',
      description: '',
      arch: 'svm',
      levels: [{ kind: 'kvm' }, { kind: 'program', program: 'hlt' }],
    });
    expect(e.where).toBe('levels[0]');
    expect(e.message).toMatch(/KVM on AMD SVM is not modelled yet/);
  });
});
