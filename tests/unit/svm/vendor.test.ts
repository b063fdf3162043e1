// The processor's vendor follows the scenario's arch: an AMD processor ("svm") has SVM and no
// VMX (VMX instructions #UD, CR4.VMXE reserved); an Intel one ("vmx") has no SVM (the SVM
// instructions #UD, EFER.SVME reserved, no VM_HSAVE_PA).
import { describe, expect, it } from 'vitest';
import { EventKind, deliveries, label, open, rows, scenarioDoc } from '../helpers';

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
  it('stack on arch svm: KVM at L1 runs its guest through the nested SVM of KVM at L0', () => {
    const s = open({
      version: 1,
      name: 'x',
      title: 't',
      description: '',
      arch: 'svm',
      levels: [
        { kind: 'kvm' },
        { kind: 'kvm' },
        { kind: 'program', program: ['        cpuid', '        hlt'] },
      ],
    });
    expect(s.runError()).toBeNull();
    // L1's KVM runs L2 with VMRUN, which exits to L0 (0x80); L2's CPUID exits to L0, which
    // reflects it to L1 (L1's vmcb intercepts CPUID), and L1 emulates it.
    const exits = rows(s)
      .filter((r) => r.kind === EventKind.VMEXIT)
      .map((r) => r.d0);
    expect(exits).toContain(0x80);
    expect(exits).toContain(0x72);
    const levels = s.sim.trace.level;
    const l1Decisions = rows(s).filter((r) => r.kind === EventKind.DECISION && levels[r.step - 1] === 1);
    expect(l1Decisions.length).toBeGreaterThan(3);
  });

  it('open a hypervisor program above KVM on SVM: its VMRUN exits to KVM, which emulates it (#UD while its EFER.SVME is clear)', () => {
    const s = open({
      version: 1,
      name: 'x',
      title: 't',
      description: '',
      arch: 'svm',
      levels: [
        { kind: 'kvm' },
        {
          kind: 'program',
          program: ['        .intgate 6, ud', 'start:  vmrun', '        hlt', 'ud:     hlt'],
        },
      ],
    });
    const vmexits = rows(s).filter((r) => r.kind === EventKind.VMEXIT);
    expect(vmexits[0].d0).toBe(0x80);
    // vmrun_interception → nested_svm_check_permissions: #UD queued, injected into L1 by the
    // next VMRUN's EVENTINJ (vector 6, type 3 exception).
    const entries = rows(s).filter((r) => r.kind === EventKind.VMENTRY);
    expect(entries[1].d0 >>> 0).toBe(0x80000306);
  });
});

describe('CPUID', () => {
  const regsAfter = (arch: 'vmx' | 'svm', leaf: number) => {
    const s = run(arch, [`        mov eax, ${leaf}`, '        xor ecx, ecx', '        cpuid']);
    const r = s.sim.stateAt(s.totalSteps).cpu.regs;
    return { eax: r[0], ebx: r[6], ecx: r[2], edx: r[4] };
  };

  it('on svm: AuthenticAMD, SVM in 8000_0001 ECX[2], no VMX, and leaf 8000_000A with NRIPS, VGIF and vNMI', () => {
    expect(regsAfter('svm', 0).ebx).toBe(0x68747541);
    expect(regsAfter('svm', 1).ecx & (1 << 5)).toBe(0);
    expect(regsAfter('svm', 0x80000001).ecx & 4).toBe(4);
    const a = regsAfter('svm', 0x8000000a);
    expect(a.eax).toBe(1);
    expect(a.edx >>> 0).toBe(((1 << 3) | (1 << 16) | (1 << 25)) >>> 0);
  });

  it('on vmx: GenuineIntel with VMX and no SVM', () => {
    expect(regsAfter('vmx', 0).ebx).toBe(0x756e6547);
    expect(regsAfter('vmx', 1).ecx & (1 << 5)).toBe(1 << 5);
    expect(regsAfter('vmx', 0x80000001).ecx & 4).toBe(0);
  });
});
