// Each decision path of the Xen model, with a guest written for it: injection of a vLAPIC
// interrupt and its EOI, the VINTR window for IF = 0 and for the TPR, HLT (block, wake, vCPU
// down), x2APIC self-IPIs and NMI IPIs, #GP for an MSR Xen does not emulate, the host's NMI
// after STGI, hypercalls, CPUID, and the stacks Xen accepts.
import { describe, expect, it } from 'vitest';
import { Assist, IntBlk, IntSrc } from '../../../src/core/hypervisors/xen/functions';
import { Hlt } from '../../../src/core/hypervisors/xen/exits';
import { INT_CTL } from '../../../src/core/svm/bits';
import { VMCB } from '../../../src/core/svm/vmcb';
import { EventKind, deliveries, openError, rows } from '../helpers';
import { exitCodes, guestLabel, guestQ, runXen, vmcb32, xenDecisions, xenDoc } from './xen-helpers';

const EOI = [
  '        push rax',
  '        push rcx',
  '        push rdx',
  '        xor eax, eax',
  '        xor edx, edx',
  '        mov ecx, 0x80b',
  '        wrmsr',
  '        pop rdx',
  '        pop rcx',
  '        pop rax',
];

function irqGuest(body: string[]): string[] {
  return [
    '        .intgate 0x30, irq',
    'start:',
    ...body,
    '        cli',
    '        hlt',
    'irq:    add qword [count], 1',
    ...EOI,
    '        iretq',
    'count:  .dq 0',
  ];
}

/** The VMRUN entries of a run that injected something: their EVENTINJ words. */
const injected = (s: ReturnType<typeof runXen>) =>
  rows(s)
    .filter((r) => r.kind === EventKind.VMENTRY && r.d0 & 0x80000000)
    .map((r) => r.d0 >>> 0);

describe('construct_vmcb', () => {
  it('intercepts INTR, NMI, HLT, CPUID, MSR and I/O, the SVM instructions; V_INTR_MASKING and V_NMI_ENABLE', () => {
    const s = runXen(['start: cli', '        hlt']);
    const at = xenDecisions(s).find((x) => x.fn === 'construct_vmcb')!.step;
    const g1 = vmcb32(s, VMCB.INTERCEPT, at);
    for (const bit of [0, 1, 18, 24, 27, 28]) expect((g1 >>> bit) & 1).toBe(1); // INTR NMI CPUID HLT IOIO MSR
    expect(g1 & (1 << 20)).toBe(0); // no IRET intercept until an NMI is injected
    expect(vmcb32(s, VMCB.INTERCEPT_WORD4, at) & 1).toBe(1); // VMRUN
    const intCtl = vmcb32(s, VMCB.INT_CTL, at);
    expect(intCtl & INT_CTL.V_INTR_MASKING_MASK).not.toBe(0);
    expect(intCtl & INT_CTL.V_NMI_ENABLE_MASK).not.toBe(0);
    expect(vmcb32(s, VMCB.ASID, at)).toBe(1);
  });

  it('vnmi off: no V_NMI_ENABLE', () => {
    const s = runXen(['start: cli', '        hlt'], [], { vnmi: false });
    expect(xenDecisions(s).find((x) => x.fn === 'construct_vmcb')!.d2 & INT_CTL.V_NMI_ENABLE_MASK).toBe(0);
  });
});

describe('svm_intr_assist with a vLAPIC interrupt', () => {
  it('vlapic_set_irq and the kick (INTR exit), svm_inject_extint, the guest EOIs through the x2APIC MSR', () => {
    const s = runXen(
      irqGuest(['        sti', '        work 5000', '        assert [count] == 1, "one IRQ"']),
      [{ at: { time: 1000 }, target: 1, irq: 0x30 }],
    );
    expect(exitCodes(s)).toEqual([0x60, 0x7c, 0x78]);
    const assist = xenDecisions(s).find((x) => x.fn === 'svm_intr_assist' && x.d1 & Assist.EXTINT)!;
    expect(assist.d2 & 0xff).toBe(0x30);
    expect(assist.d2 >>> 16).toBe(IntSrc.lapic);
    expect(injected(s)).toEqual([0x80000030]);
    // IRR → ISR at the injection, ISR cleared by the EOI (svm_do_msr_access → vlapic)
    const isr = (n: number) => Array.from(s.sim.stateAt(n).xen!.vlapic.isr).some((w) => w !== 0);
    expect(isr(assist.step)).toBe(true);
    const eoi = xenDecisions(s).find((x) => x.fn === 'svm_do_msr_access')!;
    expect(eoi.d1).toBe(0x80b);
    expect(isr(eoi.step)).toBe(false);
    expect(s.assertions.map((a) => a.passed)).toEqual([true]);
  });

  it('IF = 0: hvm_intblk_rflags_ie, a VINTR window (V_IRQ, V_INTR_PRIO 3, TPR honoured), taken after STI', () => {
    const s = runXen(
      irqGuest([
        '        work 3000',
        'enable: sti',
        '        nop',
        '        work 2000',
        '        assert [count] == 1, "IRQ"',
      ]),
      [{ at: { time: 1000 }, target: 1, irq: 0x30 }],
    );
    const win = xenDecisions(s).find((x) => x.fn === 'svm_intr_assist' && x.d1 === Assist.WINDOW_VINTR)!;
    expect((win.d2 >>> 8) & 0xff).toBe(IntBlk.rflags_ie);
    const intCtl = vmcb32(s, VMCB.INT_CTL, win.step);
    expect((intCtl >>> 16) & 0xf).toBe(3);
    expect(intCtl & INT_CTL.V_IGN_TPR_MASK).toBe(0);
    expect(exitCodes(s)).toEqual([0x60, 0x64, 0x7c, 0x78]);
    // the VINTR exit comes after STI and its shadow (the NOP)
    const vintr = rows(s).find((r) => r.kind === EventKind.VMEXIT && r.d0 === 0x64)!;
    expect(vintr.rip).toBe(guestLabel(s, 'enable') + 2);
    expect(injected(s)).toEqual([0x80000030]);
  });

  it('TPR: hvm_intblk_tpr; V_TPR follows the vLAPIC TPR, so the V_IRQ window holds until the TPR drops', () => {
    const s = runXen(
      irqGuest([
        '        mov ecx, 0x808',
        '        mov eax, 0x40',
        '        xor edx, edx',
        '        wrmsr',
        '        sti',
        '        work 5000',
        '        assert [count] == 0, "held by the TPR"',
        '        xor eax, eax',
        '        wrmsr',
        '        nop',
        '        assert [count] == 1, "taken once the TPR dropped"',
      ]),
      [{ at: { time: 1000 }, target: 1, irq: 0x30 }],
    );
    const win = xenDecisions(s).find((x) => x.fn === 'svm_intr_assist' && x.d1 === Assist.WINDOW_VINTR)!;
    expect((win.d2 >>> 8) & 0xff).toBe(IntBlk.tpr);
    expect(vmcb32(s, VMCB.INT_CTL, win.step) & INT_CTL.V_TPR_MASK).toBe(4);
    // no VINTR exit while the TPR holds the interrupt: the exits before the TPR drops are the
    // TPR write and the kick (the stale window fires once, after the injection, as in Xen)
    expect(exitCodes(s).slice(0, 3)).toEqual([0x7c, 0x60, 0x7c]);
    expect(s.assertions.map((a) => a.passed)).toEqual([true, true]);
  });

  it('a fixed self-IPI through the ICR (x2APIC MSR 0x830) is injected at the next VMRUN', () => {
    const s = runXen(
      irqGuest([
        '        sti',
        '        mov ecx, 0x830',
        '        mov eax, 0x40030',
        '        xor edx, edx',
        '        wrmsr',
        '        nop',
        '        assert [count] == 1, "self-IPI"',
      ]),
    );
    const w = xenDecisions(s).find((x) => x.fn === 'svm_do_msr_access' && x.d1 === 0x830)!;
    expect(w.d2 >>> 8).toBe(0x31);
    expect(injected(s)).toEqual([0x80000030]);
    expect(s.assertions.map((a) => a.passed)).toEqual([true]);
  });
});

describe('NMIs', () => {
  it('an NMI IPI to itself sets nmi_pending; injected through EVENTINJ with the IRET intercept (vnmi off)', () => {
    const s = runXen(
      [
        '        .intgate 2, nmi',
        'start:  mov ecx, 0x830',
        '        mov eax, 0x40400',
        '        xor edx, edx',
        '        wrmsr',
        '        nop',
        '        assert [count] == 1, "NMI"',
        '        cli',
        '        hlt',
        'nmi:    add qword [count], 1',
        '        iretq',
        'count:  .dq 0',
      ],
      [],
      { vnmi: false },
    );
    expect(xenDecisions(s).find((x) => x.fn === 'svm_do_msr_access')!.d2 & 4).toBe(4);
    expect(injected(s)).toEqual([0x80000202]);
    expect(exitCodes(s)).toEqual([0x7c, 0x74, 0x78]);
    expect(s.assertions.map((a) => a.passed)).toEqual([true]);
  });

  it("a physical NMI while the guest runs: #VMEXIT(NMI), not consumed; the host's do_nmi after STGI", () => {
    const s = runXen(
      ['start:  work 3000', '        cli', '        hlt'],
      [{ at: { time: 1000 }, nmi: true }],
    );
    expect(exitCodes(s)[0]).toBe(0x61);
    const dec = xenDecisions(s);
    const nmi = dec.findIndex((x) => x.fn === 'do_nmi');
    expect(nmi).toBeGreaterThan(0);
    expect(dec[nmi + 1]).toMatchObject({ fn: 'svm_vmexit_handler', d1: 0x61 });
    expect(s.sim.stateAt(s.totalSteps).cpu.nmiPending).toBe(false);
  });
});

describe('HLT', () => {
  it('sti; hlt blocks the vCPU; an IRQ wakes it (vcpu_unblock) and is injected after the HLT', () => {
    const s = runXen(irqGuest(['        sti', 'halt:   hlt', '        assert [count] == 1, "woken"']), [
      { at: { time: 5000 }, target: 1, irq: 0x30 },
    ]);
    const dec = xenDecisions(s);
    expect(dec.find((x) => x.fn === 'svm_vmexit_do_hlt')!.d1).toBe(Hlt.BLOCKED);
    const wake = dec.find((x) => x.fn === 'vcpu_unblock')!;
    expect(wake).toMatchObject({ d1: IntSrc.lapic, d2: 0x30 });
    const raise = rows(s).find((r) => r.kind === EventKind.RAISE)!;
    expect(raise.d2 & 1).toBe(1); // raised while the vCPU was blocked, no kick
    expect(raise.d2 & 2).toBe(0);
    const entry = rows(s).find((r) => r.kind === EventKind.VMENTRY && r.d0 === 0x80000030)!;
    expect(entry.step).toBeGreaterThan(wake.step);
    expect(s.assertions.map((a) => a.passed)).toEqual([true]);
  });

  it('sti; hlt with an IRQ raised in the STI shadow: the HLT exits first, the vCPU does not block', () => {
    const s = runXen(irqGuest(['        sti', 'halt:   hlt', '        assert [count] == 1, "taken"']), [
      { at: { level: 1, label: 'halt' }, target: 1, irq: 0x30 },
    ]);
    expect(exitCodes(s)[0]).toBe(0x78);
    const dec = xenDecisions(s);
    expect(dec.find((x) => x.fn === 'svm_vmexit_do_hlt')!.d1).toBe(Hlt.EVENT_PENDING);
    expect(dec.some((x) => x.fn === 'vcpu_unblock')).toBe(false);
    expect(injected(s)).toEqual([0x80000030]);
    expect(s.assertions.map((a) => a.passed)).toEqual([true]);
  });

  it('HLT with IF = 0: hvm_vcpu_down; a later IRQ wakes nothing and the run ends halted', () => {
    const s = runXen(irqGuest([]), [{ at: { time: 5000 }, target: 1, irq: 0x30 }]);
    expect(xenDecisions(s).find((x) => x.fn === 'svm_vmexit_do_hlt')!.d1).toBe(Hlt.DOWN);
    expect(deliveries(s)).toHaveLength(0);
    expect(injected(s)).toEqual([]);
    expect(s.sim.endReason).toBe('halted');
  });
});

describe('other exits', () => {
  it('WRMSR to an MSR Xen does not emulate: #GP(0) injected (EVENTINJ 0x80000b0d), RIP still at the WRMSR', () => {
    const s = runXen([
      '        .intgate 13, gp',
      'start:  mov ecx, 0x1234',
      'bad:    wrmsr',
      'gp:     pop rax',
      '        assert rax == 0, "error code 0"',
      '        pop rax',
      '        mov [saved], rax',
      '        cli',
      '        hlt',
      'saved:  .dq 0',
    ]);
    expect(injected(s)).toEqual([0x80000b0d]);
    expect(guestQ(s, guestLabel(s, 'saved'))).toBe(BigInt(guestLabel(s, 'bad')));
    expect(s.assertions.map((a) => a.passed)).toEqual([true]);
  });

  it('VMMCALL: no hypercalls in the model, RAX = -ENOSYS; CPUID hides SVM from the guest', () => {
    const s = runXen([
      'start:  vmmcall',
      '        assert rax == -38, "-ENOSYS"',
      '        mov eax, 0x80000001',
      '        cpuid',
      '        and ecx, 4',
      '        assert rcx == 0, "no SVM in the guest"',
      '        cli',
      '        hlt',
    ]);
    expect(exitCodes(s)).toEqual([0x81, 0x72, 0x78]);
    expect(s.assertions.map((a) => a.passed)).toEqual([true, true]);
  });
});

describe('the stacks Xen runs in', () => {
  it('Xen needs arch "svm"', () => {
    const e = openError({ ...xenDoc(['start: hlt']), arch: 'vmx' });
    expect(e.where).toBe('levels[0]');
    expect(e.message).toMatch(/Xen model drives AMD SVM/);
  });

  it('Xen above L0 needs nested SVM: refused', () => {
    const doc = xenDoc(['start: hlt']);
    doc.levels = [
      { kind: 'program', program: ['start: vmrun', '        hlt'] },
      { kind: 'xen' },
      { kind: 'program', program: ['start: hlt'] },
    ];
    const e = openError(doc);
    expect(e.where).toBe('levels[1]');
    expect(e.message).toMatch(/nested SVM/);
  });

  it('Xen needs one guest program above it', () => {
    const doc = xenDoc([]);
    doc.levels = [{ kind: 'xen' }];
    expect(openError(doc).message).toMatch(/one guest/);
  });
});
