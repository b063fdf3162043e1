// The VMX instructions in root operation and their outcomes (SDM Vol. 3C "VMX Instruction
// Reference": "Conventions" — VMsucceed, VMfailInvalid (CF=1), VMfailValid (ZF=1, error number
// in VM_INSTRUCTION_ERROR); "VM-Instruction Error Numbers"), #UD outside VMX operation, and the
// VMX capability MSRs (SDM appendix "VMX Capability Reporting Facility").
import { describe, expect, it } from 'vitest';
import { EventKind, RF, STOP, cpu, deliveries, label, reg, run, stepsOf } from '../helpers';
import { entries, exits, field, runVmx, stepAt } from './vmx-helpers';

const CF_ZF = RF.CF | RF.ZF;
/** CF and ZF after the instruction retired at label `name`. */
const flagsAt = (s: ReturnType<typeof runVmx>, name: string, nth = 0) =>
  cpu(s, stepAt(s, name, nth)).rflags & CF_ZF;

/** A program without the skeleton: its own VMXON and regions. */
function bare(body: string[], extra: string[] = []): string[] {
  return [
    '        .idt host_idt',
    '        .intgate 6, ud_handler',
    'start:',
    ...body,
    ...STOP,
    'ud_handler:',
    ...STOP,
    ...extra,
    'vmxon_ptr: .dq vmxon_region',
    'vmcs_ptr:  .dq vmcs',
    'bad_ptr:   .dq vmcs+8',
    'rev2_ptr:  .dq vmcs_rev2',
    'vmxon_rev2_ptr: .dq vmxon_rev2',
    '        .align 4096',
    'vmxon_region: .dd 1',
    '        .align 4096',
    'vmcs:   .dd 1',
    '        .align 4096',
    'vmcs_rev2: .dd 2',
    '        .align 4096',
    'vmxon_rev2: .dd 2',
    '        .align 4096',
  ];
}

describe('VMXON', () => {
  it('with a region that is not 4-KByte aligned: VMfailInvalid (CF=1), still outside VMX operation', () => {
    const s = run(bare(['bad: vmxon [bad_ptr]', 'after: vmptrld [vmcs_ptr]']));
    expect(cpu(s, stepAt(s, 'bad')).rflags & CF_ZF).toBe(RF.CF);
    expect(s.view(stepAt(s, 'bad')).vmx.on).toBe(false);
    // the next VMX instruction is #UD: VMXON did not enter VMX operation
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[6, label(s, 'after')]]);
  });

  it('with a region whose revision identifier is not IA32_VMX_BASIC[30:0]: VMfailInvalid', () => {
    const s = run(bare(['bad: vmxon [vmxon_rev2_ptr]']));
    expect(cpu(s, stepAt(s, 'bad')).rflags & CF_ZF).toBe(RF.CF);
    expect(s.view(s.totalSteps).vmx.on).toBe(false);
  });

  it('succeeds with an aligned region holding revision 1 (CF=ZF=0) and enters VMX root operation', () => {
    const s = run(bare(['        cmp rax, rax ; ZF=1 before', 'ok: vmxon [vmxon_ptr]']));
    expect(cpu(s, stepAt(s, 'ok')).rflags & CF_ZF).toBe(0);
    expect(s.view(s.totalSteps).vmx.on).toBe(true);
    expect(s.view(s.totalSteps).levels[0].cpu.mode).toBe('root');
  });

  it('in VMX root operation: VMfailInvalid without a current VMCS, VMfailValid(15) with one', () => {
    const s = run(
      bare([
        '        vmxon [vmxon_ptr]',
        'again1: vmxon [vmxon_ptr]',
        '        vmptrld [vmcs_ptr]',
        'again2: vmxon [vmxon_ptr]',
        '        vmread rbx, VM_INSTRUCTION_ERROR',
      ]),
    );
    expect(flagsAt(s, 'again1')).toBe(RF.CF);
    expect(flagsAt(s, 'again2')).toBe(RF.ZF);
    expect(reg(s, 'rbx')).toBe(15n);
  });
});

describe('VMCLEAR and VMPTRLD', () => {
  function errorAfter(body: string[]) {
    const s = run(
      bare([
        '        vmxon [vmxon_ptr]',
        '        vmptrld [vmcs_ptr]',
        '        mov rbx, 0',
        ...body,
        '        vmread rbx, VM_INSTRUCTION_ERROR',
      ]),
    );
    return { s, flags: flagsAt(s, 'bad'), error: reg(s, 'rbx') };
  }

  it.each([
    ['VMCLEAR of an unaligned address', 2, 'bad: vmclear [bad_ptr]'],
    ['VMCLEAR of the VMXON region', 3, 'bad: vmclear [vmxon_ptr]'],
    ['VMPTRLD of an unaligned address', 9, 'bad: vmptrld [bad_ptr]'],
    ['VMPTRLD of the VMXON region', 10, 'bad: vmptrld [vmxon_ptr]'],
    ['VMPTRLD of a region with the wrong revision', 11, 'bad: vmptrld [rev2_ptr]'],
  ])('%s: VMfailValid, VM_INSTRUCTION_ERROR %i', (_, error, line) => {
    const { s, flags, error: e } = errorAfter([line]);
    expect(flags).toBe(RF.ZF);
    expect(e).toBe(BigInt(error));
    // the current VMCS stays current: VMREAD succeeded
    expect(s.view(s.totalSteps).vmx.vmcs.find((v) => v.current)?.addr).toBe(label(s, 'vmcs'));
  });

  it('without a current VMCS the same errors are VMfailInvalid', () => {
    const s = run(bare(['        vmxon [vmxon_ptr]', 'bad: vmclear [bad_ptr]', 'bad2: vmptrld [vmxon_ptr]']));
    expect(flagsAt(s, 'bad')).toBe(RF.CF);
    expect(flagsAt(s, 'bad2')).toBe(RF.CF);
  });

  it('VMCLEAR of the current VMCS makes it not current: VMREAD then fails with VMfailInvalid', () => {
    const s = run(
      bare([
        '        vmxon [vmxon_ptr]',
        '        vmptrld [vmcs_ptr]',
        'clr:    vmclear [vmcs_ptr]',
        'rd:     vmread rax, GUEST_RIP',
      ]),
    );
    expect(flagsAt(s, 'clr')).toBe(0);
    expect(flagsAt(s, 'rd')).toBe(RF.CF);
    expect(s.view(s.totalSteps).vmx.vmcs[0]).toMatchObject({ current: false, launched: false });
  });
});

describe('VMREAD and VMWRITE', () => {
  it('without a current VMCS: VMfailInvalid, and VMREAD leaves its destination alone', () => {
    const s = run(
      bare([
        '        vmxon [vmxon_ptr]',
        '        mov rbx, 77',
        'rd:     vmread rbx, GUEST_RIP',
        'wr:     vmwrite GUEST_RIP, 5',
      ]),
    );
    expect(flagsAt(s, 'rd')).toBe(RF.CF);
    expect(flagsAt(s, 'wr')).toBe(RF.CF);
    expect(reg(s, 'rbx')).toBe(77n);
  });

  it.each([
    ['VMREAD', 'bad: vmread rbx, rdx'],
    ['VMWRITE', 'bad: vmwrite rdx, rax'],
  ])('%s of an unsupported field encoding: VMfailValid(12)', (_, line) => {
    const s = run(
      bare([
        '        vmxon [vmxon_ptr]',
        '        vmptrld [vmcs_ptr]',
        '        mov rdx, 0x7ffe ; no such field',
        line,
        '        vmread r8, VM_INSTRUCTION_ERROR',
      ]),
    );
    expect(flagsAt(s, 'bad')).toBe(RF.ZF);
    expect(reg(s, 'r8')).toBe(12n);
  });

  const roWrite = bare([
    '        vmxon [vmxon_ptr]',
    '        vmptrld [vmcs_ptr]',
    'wr:     vmwrite VM_EXIT_REASON, 5',
    '        vmread r8, VM_INSTRUCTION_ERROR',
    'rd:     vmread r9, VM_EXIT_REASON',
  ]);

  it('VMWRITE to a read-only VM-exit information field without IA32_VMX_MISC[29]: VMfailValid(13), the field unchanged', () => {
    const s = run(roWrite, [], {}, { features: { vmx: { vmwriteAnyField: false } } });
    expect(flagsAt(s, 'wr')).toBe(RF.ZF);
    expect(reg(s, 'r8')).toBe(13n);
    expect(flagsAt(s, 'rd')).toBe(0);
    expect(reg(s, 'r9')).toBe(0n);
  });

  it('VMWRITE to a read-only field with IA32_VMX_MISC[29] ("VMWRITE to any supported field"): VMsucceed', () => {
    const s = run(roWrite);
    expect(flagsAt(s, 'wr')).toBe(0);
    expect(reg(s, 'r9')).toBe(5n);
  });

  it('VMWRITE masks to the field width; VMREAD of a _HIGH encoding reads bits 63:32', () => {
    const s = run(
      bare([
        '        vmxon [vmxon_ptr]',
        '        vmptrld [vmcs_ptr]',
        '        mov rax, 0x123456789',
        '        vmwrite GUEST_CS_SELECTOR, rax',
        '        vmread rbx, GUEST_CS_SELECTOR',
        '        vmwrite TSC_OFFSET, rax',
        '        vmread rcx, TSC_OFFSET_HIGH',
      ]),
    );
    expect(reg(s, 'rbx')).toBe(0x6789n);
    expect(reg(s, 'rcx')).toBe(1n);
  });
});

describe('VMLAUNCH and VMRESUME', () => {
  it('VMRESUME of a clear VMCS: VMfailValid(5); no VM entry', () => {
    const s = runVmx({ setup: ['bad: vmresume', '        vmread r8, VM_INSTRUCTION_ERROR'] });
    expect(flagsAt(s, 'bad')).toBe(RF.ZF);
    expect(reg(s, 'r8', stepAt(s, 'launch') - 1)).toBe(5n);
    expect(entries(s)).toHaveLength(1); // only the VMLAUNCH after it
  });

  it('VMLAUNCH of a launched VMCS: VMfailValid(4); VMRESUME of it enters', () => {
    const s = runVmx({
      host: [
        '        vmread rax, GUEST_RIP',
        '        add rax, 3',
        '        vmwrite GUEST_RIP, rax ; past the VMCALL',
        '        cmp qword [round], 1',
        '        je done',
        '        mov qword [round], 1',
        'bad:    vmlaunch',
        '        vmread r8, VM_INSTRUCTION_ERROR',
        'good:   vmresume',
        'done:',
      ],
      guest: ['vmcall', 'vmcall'],
      extra: ['round: .dq 0'],
    });
    expect(flagsAt(s, 'bad')).toBe(RF.ZF);
    expect(reg(s, 'r8')).toBe(4n);
    expect(entries(s).map((e) => [e.launch, e.rip])).toEqual([
      [true, label(s, 'launch')],
      [false, label(s, 'good')],
    ]);
    expect(exits(s).map((e) => e.rip)).toEqual([label(s, 'guest'), label(s, 'guest') + 3]);
  });

  it('in a MOV-SS shadow: VMfailValid(26), checked before "VMLAUNCH of a launched VMCS" (4)', () => {
    const s = runVmx({
      host: [
        '        mov rax, 0x10',
        '        mov ss, rax',
        'bad:    vmlaunch',
        '        vmread r8, VM_INSTRUCTION_ERROR',
      ],
    });
    expect(flagsAt(s, 'bad')).toBe(RF.ZF);
    expect(reg(s, 'r8')).toBe(26n);
    const clear = runVmx({
      setup: ['        mov rax, 0x10', '        mov ss, rax'],
      failed: ['vmread r8, VM_INSTRUCTION_ERROR'],
    });
    expect(entries(clear)).toHaveLength(0);
    expect(reg(clear, 'r8')).toBe(26n);
  });

  it('without a current VMCS: VMfailInvalid', () => {
    const s = runVmx({ setup: ['        vmclear [vmcs_ptr]'] });
    expect(flagsAt(s, 'launch')).toBe(RF.CF);
    expect(entries(s)).toHaveLength(0);
  });
});

describe('VMCALL and VMXOFF in VMX root operation', () => {
  it('VMCALL: VMfailValid(1) with a current VMCS, VMfailInvalid without', () => {
    const s = run(
      bare([
        '        vmxon [vmxon_ptr]',
        'c1:     vmcall',
        '        vmptrld [vmcs_ptr]',
        'c2:     vmcall',
        '        vmread r8, VM_INSTRUCTION_ERROR',
      ]),
    );
    expect(flagsAt(s, 'c1')).toBe(RF.CF);
    expect(flagsAt(s, 'c2')).toBe(RF.ZF);
    expect(reg(s, 'r8')).toBe(1n);
  });

  it('VMXOFF leaves VMX operation: the next VMX instruction is #UD', () => {
    const s = run(bare(['        vmxon [vmxon_ptr]', 'off: vmxoff', 'after: vmptrld [vmcs_ptr]']));
    expect(flagsAt(s, 'off')).toBe(0);
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[6, label(s, 'after')]]);
  });
});

describe('VMX instructions outside VMX operation raise #UD', () => {
  it.each([
    'vmxoff',
    'vmclear [vmcs_ptr]',
    'vmptrld [vmcs_ptr]',
    'vmread rax, GUEST_RIP',
    'vmwrite GUEST_RIP, 0',
    'vmlaunch',
    'vmresume',
    'vmcall',
  ])('%s', (text) => {
    const s = run(bare([`insn: ${text}`]));
    const d = deliveries(s);
    expect(d.map((x) => ({ vector: x.vector, type: x.type, rip: x.rip, handler: x.handler }))).toEqual([
      { vector: 6, type: 3, rip: label(s, 'insn'), handler: label(s, 'ud_handler') },
    ]);
    expect(stepsOf(s, EventKind.INSTR).some((r) => r.rip === label(s, 'insn'))).toBe(false);
  });
});

describe('the VMX capability MSRs', () => {
  function rdmsr(index: number) {
    const s = run(bare([`        mov ecx, ${index}`, '        rdmsr']));
    return { lo: Number(reg(s, 'rax')), hi: Number(reg(s, 'rdx')) };
  }

  it('IA32_VMX_BASIC: revision 1, VMCS size 4096, write-back, TRUE controls (bit 55)', () => {
    const b = rdmsr(0x480);
    expect(b.lo).toBe(1);
    expect(b.hi & 0x1fff).toBe(4096);
    expect((b.hi >>> 18) & 0xf).toBe(6);
    expect((b.hi >>> 23) & 1).toBe(1);
    expect((b.hi >>> 24) & 1).toBe(0); // no relaxed error-code check (bit 56)
  });

  it('IA32_VMX_MISC: timer rate 5, HLT and shutdown activity states, injection with length 0', () => {
    const m = rdmsr(0x485);
    expect(m.lo & 0x1f).toBe(5);
    expect((m.lo >>> 6) & 7).toBe(0b011);
    expect((m.lo >>> 30) & 1).toBe(1);
  });

  it('TRUE pin-based controls: external-interrupt and NMI exiting, virtual NMIs, the timer; no posted interrupts', () => {
    const p = rdmsr(0x48d);
    expect(p.lo).toBe(0);
    expect(p.hi & 0x69).toBe(0x69);
    expect(p.hi & 0x80).toBe(0);
    expect(rdmsr(0x481).lo).toBe(0x16); // the default-1 bits of the old MSR
  });

  it('TRUE primary controls: the window, HLT, RDTSC, MTF and MSR-bitmap controls; no TPR shadow or tertiary controls', () => {
    const p = rdmsr(0x48e);
    for (const bit of [0x4, 0x8, 0x80, 0x1000, 0x400000, 0x8000000, 0x10000000, 0x80000000])
      expect((p.hi & bit) >>> 0).toBe(bit);
    expect(p.hi & 0x200000).toBe(0);
    expect(p.hi & 0x20000).toBe(0);
    expect(rdmsr(0x48b).hi).toBe(0x4840); // of the secondary controls: WBINVD exiting, RDRAND exiting, VMCS shadowing
  });

  it('exit controls offer acknowledge-interrupt-on-exit and save-preemption-timer; entry controls IA-32e mode', () => {
    const x = rdmsr(0x48f);
    expect(x.hi & 0x8000).toBe(0x8000);
    expect(x.hi & 0x400000).toBe(0x400000);
    expect(x.hi & 0x800000).toBe(0); // clear IA32_BNDCFGS: not offered
    expect(rdmsr(0x490).hi & 0x200).toBe(0x200);
  });

  it('reading the controls with RDMSR and writing them back lets VMLAUNCH pass the control checks', () => {
    const s = runVmx({
      setup: [
        '        mov ecx, 0x48d',
        '        rdmsr',
        '        and edx, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
        '        vmwrite PIN_BASED_VM_EXEC_CONTROL, rdx',
      ],
    });
    expect(field(s, 'PIN_BASED_VM_EXEC_CONTROL')).toBe(0x28);
    expect(exits(s).map((e) => e.reason)).toEqual([18]);
  });
});
