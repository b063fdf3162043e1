// KVM on SVM (kvm_amd at L0, hypervisors/kvm/svm*.ts): the vendor hooks x86.c calls, each decision
// path as arch/x86/kvm/svm/svm.c takes it — svm_hardware_enable and init_vmcb, NMIs through
// EVENTINJ with the IRET intercept and the single-step (svm_inject_nmi, iret_interception,
// svm_enable_nmi_window, db_interception) or through V_NMI (svm_set_vnmi_pending), the IRQ window
// through a dummy V_IRQ and the VINTR intercept (svm_set_vintr), the self-IPI immediate exit
// (svm_vcpu_run), HLT emulation and its wake-up.
import { describe, expect, it } from 'vitest';
import { EventKind, type EventSpec } from '../helpers';
import {
  Fn,
  GUEST,
  Inject,
  MSR,
  decisions,
  entries,
  exits,
  firstAfter,
  glabel,
  guestEvents,
  guestQ,
  kvmAt,
  wrmsr,
} from '../kvm/kvm-helpers';
import {
  EVTINJ,
  INT_CTL,
  INTERCEPT,
  KVM_SVM_HOST,
  SvmExit,
  VMCB,
  runKvmSvm,
  vmcb01,
} from './kvm-svm-helpers';
import { RESCHEDULE_VECTOR } from '../../../src/core/hypervisors/kvm/functions';
import { interceptMask, interceptOffset } from '../../../src/core/svm/bits';
import { MSR_EFER, MSR_VM_HSAVE_PA, EFER } from '../../../src/core/svm/bits';

const IRQ = 0x40;
const NMI_INJ = (EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_NMI) >>> 0;

/** A guest with an NMI handler (which records its nesting) and an IRQ handler that EOIs. */
function guest(body: string[]): string[] {
  return [
    '        .intgate 2, nmi',
    `        .intgate 0x${IRQ.toString(16)}, irq`,
    'start:',
    ...body,
    'done:   cli',
    '        hlt',
    '        jmp done',
    'nmi:    inc qword [depth]',
    '        cmp qword [depth], 1',
    '        je nmi_ok',
    '        inc qword [nested]',
    'nmi_ok: inc qword [nmis]',
    '        work 2000',
    '        dec qword [depth]',
    'nmi_iret: iretq',
    'irq:    inc qword [irqs]',
    ...wrmsr(MSR.EOI, 0),
    '        iretq',
    'nmis:   .dq 0',
    'irqs:   .dq 0',
    'depth:  .dq 0',
    'nested: .dq 0',
  ];
}

const at = (time: number, e: Omit<EventSpec, 'at' | 'target'>): EventSpec => ({
  at: { time },
  target: GUEST,
  ...e,
});

const twoNmis = [at(20_000, { nmi: true }), at(20_000, { nmi: true })];

function isIntercepted(s: ReturnType<typeof runKvmSvm>, n: number, bit: number): boolean {
  return (vmcb01(s, n, interceptOffset(bit)) & interceptMask(bit)) !== 0;
}

describe('svm_hardware_enable and init_vmcb', () => {
  const s = runKvmSvm(guest(['        sti', '        work 1000']));
  const create = decisions(s, Fn.svm_vcpu_create)[0];

  it('enable SVM (EFER.SVME, VM_HSAVE_PA), then set up vmcb01 in KVM’s memory', () => {
    const [enable] = decisions(s, Fn.svm_hardware_enable);
    expect(enable.step).toBe(1);
    expect(enable.d1).toBe(KVM_SVM_HOST.HSAVE);
    const st = s.sim.stateAt(enable.step);
    expect(st.svm.efer & EFER.SVME).toBe(EFER.SVME);
    expect(st.svm.hsavePa).toBe(KVM_SVM_HOST.HSAVE);
    expect(create.d1).toBe(KVM_SVM_HOST.VMCB01);
    expect([MSR_EFER, MSR_VM_HSAVE_PA].every((m) => m > 0)).toBe(true);
  });

  it('intercept what init_vmcb intercepts, and V_INTR_MASKING with vGIF and vNMI', () => {
    for (const bit of [
      INTERCEPT.INTERCEPT_INTR,
      INTERCEPT.INTERCEPT_NMI,
      INTERCEPT.INTERCEPT_SMI,
      INTERCEPT.INTERCEPT_INIT,
      INTERCEPT.INTERCEPT_CPUID,
      INTERCEPT.INTERCEPT_HLT,
      INTERCEPT.INTERCEPT_IOIO_PROT,
      INTERCEPT.INTERCEPT_MSR_PROT,
      INTERCEPT.INTERCEPT_SHUTDOWN,
      INTERCEPT.INTERCEPT_VMRUN,
      INTERCEPT.INTERCEPT_VMMCALL,
    ])
      expect(isIntercepted(s, create.step, bit), `bit ${bit}`).toBe(true);
    // vGIF: STGI/CLGI run in the guest; no IRET intercept with vNMI; no VINTR until a window.
    for (const bit of [INTERCEPT.INTERCEPT_STGI, INTERCEPT.INTERCEPT_IRET, INTERCEPT.INTERCEPT_VINTR])
      expect(isIntercepted(s, create.step, bit), `bit ${bit}`).toBe(false);
    const intCtl = vmcb01(s, create.step, VMCB.INT_CTL);
    expect(intCtl & INT_CTL.V_INTR_MASKING_MASK).toBeTruthy();
    expect(intCtl & INT_CTL.V_GIF_ENABLE_MASK).toBeTruthy();
    expect(intCtl & INT_CTL.V_NMI_ENABLE_MASK).toBeTruthy();
    // The exception intercepts: #DB, #UD, #AC, #MC.
    expect(vmcb01(s, create.step, VMCB.INTERCEPT_EXCEPTIONS)).toBe(
      (1 << 1) | (1 << 6) | (1 << 17) | (1 << 18),
    );
  });

  it('make every x2APIC MSR exit through the MSR permission map', () => {
    const bytes = s.sim.stateAt(create.step).mems[0].bytes;
    for (const msr of [MSR.TPR, MSR.EOI, MSR.ICR])
      for (const write of [0, 1]) {
        const bit = msr * 2 + write;
        expect((bytes[KVM_SVM_HOST.MSRPM + (bit >> 3)] >> (bit & 7)) & 1).toBe(1);
      }
  });

  it('run the guest with VMRUN of vmcb01: the first entry is at the guest’s entry point', () => {
    const [first] = entries(s);
    expect(first.d2).toBe(glabel(s, 'start'));
    expect(s.sim.stateAt(first.step).svm.vmcb).toBe(KVM_SVM_HOST.VMCB01);
  });

  it('without kvm_amd.vnmi leave V_NMI_ENABLE clear', () => {
    const t = runKvmSvm(guest(['        work 10']), { vnmi: false });
    const c = decisions(t, Fn.svm_vcpu_create)[0];
    expect(vmcb01(t, c.step, VMCB.INT_CTL) & INT_CTL.V_NMI_ENABLE_MASK).toBe(0);
  });
});

describe('NMIs with vNMI: svm_set_vnmi_pending and EVENTINJ', () => {
  const s = runKvmSvm(guest(['        sti', '        work 200000']), { events: twoNmis });

  it('process_nmi parks one NMI in V_NMI_PENDING and KVM injects the other through EVENTINJ', () => {
    const p = decisions(s, Fn.process_nmi);
    expect(p[0].d1 & 0x100).toBe(0x100);
    expect(p[0].d1 & 0xff).toBe(1);
    const inj = decisions(s, Fn.kvm_check_and_inject_events).find((d) => d.d1 & Inject.NMI)!;
    expect(vmcb01(s, inj.step, VMCB.INT_CTL) & INT_CTL.V_NMI_PENDING_MASK).toBeTruthy();
    expect(firstAfter(entries(s), inj.step)!.d0).toBe(NMI_INJ);
  });

  it('the processor delivers the parked NMI after the first handler’s IRET: no IRET exit, no nesting', () => {
    expect(exits(s).filter((e) => e.d0 === SvmExit.IRET)).toEqual([]);
    expect(guestQ(s, glabel(s, 'nmis'))).toBe(2n);
    expect(guestQ(s, glabel(s, 'nested'))).toBe(0n);
    const iret = guestEvents(s, EventKind.IRET).find((r) => r.rip === glabel(s, 'nmi_iret'))!;
    const next = firstAfter(guestEvents(s, EventKind.DELIVER), iret.step)!;
    expect(next.step).toBe(iret.step + 1);
    expect(next.d0 & 0xff).toBe(2);
  });
});

describe('NMIs without vNMI: svm_inject_nmi, the IRET intercept and the single-step', () => {
  const s = runKvmSvm(guest(['        sti', '        work 200000']), { events: twoNmis, vnmi: false });
  const codes = exits(s).map((e) => e.d0);

  it('svm_inject_nmi masks NMIs in software and sets the IRET intercept', () => {
    const inj = decisions(s, Fn.kvm_check_and_inject_events).find((d) => d.d1 & Inject.NMI)!;
    expect(inj.d1 & Inject.NMI_WINDOW).toBeTruthy(); // the second NMI waits for the IRET intercept
    expect(kvmAt(s, inj.step).svm.nmiMasked).toBe(true);
    expect(isIntercepted(s, inj.step, INTERCEPT.INTERCEPT_IRET)).toBe(true);
    expect(firstAfter(entries(s), inj.step)!.d0).toBe(NMI_INJ);
  });

  it('iret_interception records the IRET’s RIP without skipping it; the NMI window single-steps it', () => {
    const iretExit = exits(s).find((e) => e.d0 === SvmExit.IRET)!;
    expect(iretExit.rip).toBe(glabel(s, 'nmi_iret'));
    const [handler] = decisions(s, Fn.iret_interception);
    expect(handler.d1).toBe(glabel(s, 'nmi_iret'));
    const k = kvmAt(s, handler.step);
    expect(k.svm.awaitingIretCompletion).toBe(true);
    expect(isIntercepted(s, handler.step, INTERCEPT.INTERCEPT_IRET)).toBe(false);
    const window = firstAfter(decisions(s, Fn.kvm_check_and_inject_events), handler.step)!;
    expect(window.d1 & Inject.NMI_WINDOW).toBeTruthy();
    expect(kvmAt(s, window.step).svm.nmiWindow).toBe('singlestep');
    expect(vmcb01(s, window.step, VMCB.RFLAGS) & 0x10100).toBe(0x10100); // TF | RF
    // The guest re-executes the IRET, then the #DB intercept (0x41) ends the window.
    const entry = firstAfter(entries(s), window.step)!;
    expect(entry.d2).toBe(glabel(s, 'nmi_iret'));
    const db = firstAfter(exits(s), entry.step)!;
    expect(db.d0).toBe(SvmExit.EXCP_BASE + 1);
  });

  it('svm_complete_interrupts unmasks NMIs once RIP moved; db_interception drops the single-step', () => {
    const db = exits(s).find((e) => e.d0 === SvmExit.EXCP_BASE + 1)!;
    const done = firstAfter(decisions(s, Fn.svm_complete_interrupts), db.step)!;
    expect(done.d2).toBe(1);
    expect(kvmAt(s, done.step).svm.nmiMasked).toBe(false);
    const dbi = firstAfter(decisions(s, Fn.db_interception), db.step)!;
    expect(dbi.d1).toBe(1);
    expect(vmcb01(s, dbi.step, VMCB.RFLAGS) & 0x10100).toBe(0);
    const second = firstAfter(decisions(s, Fn.kvm_check_and_inject_events), dbi.step)!;
    expect(second.d1 & Inject.NMI).toBeTruthy();
  });

  it('both NMIs are handled, never nested; the run has IRET and #DB exits the vNMI run lacks', () => {
    expect(guestQ(s, glabel(s, 'nmis'))).toBe(2n);
    expect(guestQ(s, glabel(s, 'nested'))).toBe(0n);
    expect(codes).toContain(SvmExit.IRET);
    expect(codes).toContain(SvmExit.EXCP_BASE + 1);
  });
});

describe('the IRQ window: svm_set_vintr and interrupt_window_interception', () => {
  const s = runKvmSvm(
    guest(['        cli', '        work 50000', '        sti', '        nop', 'opened: work 50000']),
    {
      events: [at(20_000, { irq: IRQ })],
    },
  );

  it('an IRQ for a guest with IF = 0 arms a dummy V_IRQ (vector 0, priority 0xF) and the VINTR intercept', () => {
    const win = decisions(s, Fn.kvm_check_and_inject_events).find((d) => d.d1 & Inject.IRQ_WINDOW)!;
    expect(win.d1 & Inject.IRQ).toBe(0);
    const intCtl = vmcb01(s, win.step, VMCB.INT_CTL);
    expect(intCtl & INT_CTL.V_IRQ_MASK).toBeTruthy();
    expect((intCtl & INT_CTL.V_INTR_PRIO_MASK) >>> 16).toBe(0xf);
    expect(vmcb01(s, win.step, VMCB.INT_VECTOR)).toBe(0);
    expect(isIntercepted(s, win.step, INTERCEPT.INTERCEPT_VINTR)).toBe(true);
  });

  it('the guest’s STI opens it: exit 0x64 after the STI, V_IRQ cleared, the IRQ goes in through EVENTINJ', () => {
    const vintr = exits(s).find((e) => e.d0 === SvmExit.VINTR)!;
    // After the STI's shadow (the NOP): the first boundary where the guest could take it.
    expect(vintr.rip).toBe(glabel(s, 'opened'));
    const h = firstAfter(decisions(s, Fn.interrupt_window_interception), vintr.step)!;
    expect(vmcb01(s, h.step, VMCB.INT_CTL) & INT_CTL.V_IRQ_MASK).toBe(0);
    expect(isIntercepted(s, h.step, INTERCEPT.INTERCEPT_VINTR)).toBe(false);
    const inj = firstAfter(decisions(s, Fn.kvm_check_and_inject_events), h.step)!;
    expect(inj.d1 & Inject.IRQ).toBeTruthy();
    expect(firstAfter(entries(s), inj.step)!.d0).toBe((0x80000000 | IRQ) >>> 0);
    expect(guestQ(s, glabel(s, 'irqs'))).toBe(1n);
    // The dummy V_IRQ is never delivered by the processor: the IRQ came through EVENTINJ.
    expect(guestEvents(s, EventKind.DELIVER)).toEqual([]);
  });
});

describe('the immediate exit: svm_vcpu_run’s self-IPI', () => {
  // Without vNMI: an NMI and an IRQ at once. The NMI goes in; the IRQ cannot (-EBUSY: an event
  // is being injected), so KVM forces an immediate exit.
  const s = runKvmSvm(guest(['        sti', '        work 200000']), {
    events: [at(20_000, { nmi: true }), at(20_000, { irq: IRQ })],
    vnmi: false,
  });

  it('is a self-IPI with the reschedule vector: exit 0x60 right after EVENTINJ delivered the NMI', () => {
    const inj = decisions(s, Fn.kvm_check_and_inject_events).find((d) => d.d1 & Inject.NMI)!;
    expect(inj.d1 & Inject.IMMEDIATE_EXIT).toBeTruthy();
    const entry = firstAfter(entries(s), inj.step)!;
    expect(entry.d0).toBe(NMI_INJ);
    expect(
      s.sim.stateAt(entry.step).apic.irr[RESCHEDULE_VECTOR >> 5] & (1 << (RESCHEDULE_VECTOR & 31)),
    ).toBeTruthy();
    // No guest instruction between the entry and the exit: the exit is at the handler's entry.
    const exit = firstAfter(exits(s), entry.step)!;
    expect(exit.step).toBe(entry.step + 1);
    expect(exit.d0).toBe(SvmExit.INTR);
    expect(exit.rip).toBe(glabel(s, 'nmi'));
    const host = firstAfter(decisions(s, Fn.host_irq), exit.step)!;
    expect(host.d1).toBe(RESCHEDULE_VECTOR);
  });

  it('then the IRQ waits for the NMI handler’s IRET (IF = 0 in it) and is delivered after it', () => {
    expect(guestQ(s, glabel(s, 'nmis'))).toBe(1n);
    expect(guestQ(s, glabel(s, 'irqs'))).toBe(1n);
    const injected = entries(s)
      .map((e) => e.d0)
      .filter((d) => d & EVTINJ.SVM_EVTINJ_VALID);
    expect(injected).toEqual([NMI_INJ, (0x80000000 | IRQ) >>> 0]);
    const iret = guestEvents(s, EventKind.IRET).find((r) => r.rip === glabel(s, 'nmi_iret'))!;
    expect(entries(s).find((e) => e.d0 === (0x80000000 | IRQ) >>> 0)!.step).toBeGreaterThan(iret.step);
  });
});

describe('HLT: kvm_emulate_halt and the wake-up', () => {
  const s = runKvmSvm(guest(['        sti', 'halt:   hlt', 'woken:  work 10']), {
    events: [at(50_000, { irq: IRQ })],
  });

  it('HLT exits (0x78) and KVM skips it with nRIP; the vCPU waits halted', () => {
    const hlt = exits(s).find((e) => e.d0 === SvmExit.HLT)!;
    expect(hlt.rip).toBe(glabel(s, 'halt'));
    const h = firstAfter(decisions(s, Fn.kvm_emulate_halt), hlt.step)!;
    const k = kvmAt(s, h.step);
    expect(k.halted).toBe(true);
    expect(vmcb01(s, h.step, VMCB.RIP)).toBe(glabel(s, 'woken'));
    // The STI shadow the HLT sat in ends with the skip (svm_set_interrupt_shadow(vcpu, 0)).
    expect(vmcb01(s, h.step, VMCB.INT_STATE) & 1).toBe(0);
  });

  it('the IRQ wakes it (kvm_vcpu_wake_up) and is delivered at the instruction after the HLT', () => {
    const wake = decisions(s, Fn.kvm_vcpu_wake_up)[0];
    expect(wake).toBeDefined();
    const inj = firstAfter(decisions(s, Fn.kvm_check_and_inject_events), wake.step)!;
    expect(inj.d1 & Inject.IRQ).toBeTruthy();
    expect(firstAfter(entries(s), inj.step)!.d0).toBe((0x80000000 | IRQ) >>> 0);
    expect(guestQ(s, glabel(s, 'irqs'))).toBe(1n);
    // The handler returns to the instruction after the HLT.
    const iret = guestEvents(s, EventKind.IRET)[0];
    expect(iret.d2).toBe(glabel(s, 'woken'));
  });
});

describe('other exits', () => {
  it('CPUID is answered by kvm_emulate_cpuid (AMD, with SVM for nested SVM), I/O reads all ones, VMMCALL returns 0', () => {
    const s = runKvmSvm(
      guest([
        '        mov eax, 0x80000001',
        '        cpuid',
        '        mov [ecx_out], rcx',
        '        in al, 0x60',
        '        mov [in_out], rax',
        '        mov eax, 5',
        '        vmmcall',
        '        mov [rax_out], rax',
        '        jmp done',
        'ecx_out: .dq 0',
        'in_out: .dq 0',
        'rax_out: .dq 1',
      ]),
    );
    expect(exits(s).map((e) => e.d0)).toEqual(
      expect.arrayContaining([SvmExit.CPUID, SvmExit.IOIO, SvmExit.VMMCALL, SvmExit.HLT]),
    );
    expect(guestQ(s, glabel(s, 'ecx_out')) & 4n).toBe(4n);
    expect(guestQ(s, glabel(s, 'in_out')) & 0xffn).toBe(0xffn);
    expect(guestQ(s, glabel(s, 'rax_out'))).toBe(0n);
    expect(decisions(s, Fn.io_interception)[0].d1).toBe(0x60);
  });

  it('VMLOAD of the guest is #UD (no nested SVM: its own EFER.SVME is clear)', () => {
    const s = runKvmSvm([
      '        .intgate 6, ud',
      'start:  vmload',
      '        hlt',
      'ud:     mov qword [uds], 1',
      '        hlt',
      'uds:    .dq 0',
    ]);
    expect(exits(s)[0].d0).toBe(SvmExit.VMLOAD);
    expect(decisions(s, Fn.ud_interception)).toHaveLength(1);
    expect(guestQ(s, glabel(s, 'uds'))).toBe(1n);
  });
});
