// The vCPU's x2APIC as KVM emulates it (arch/x86/kvm/lapic.c): the guest's RDMSR/WRMSR of
// x2APIC registers exit (no MSR bitmaps, no APIC virtualization), KVM applies them to its
// APIC state and skips the instruction; an MSR it does not emulate gets #GP(0) injected.
import { describe, expect, it } from 'vitest';
import { vectorsOf } from '../../../src/core/cpu/apic';
import { ExitReason } from '../../../src/core/vmx/vm-exit';
import {
  F,
  Fn,
  MSR,
  NMI_INFO,
  decisions,
  entries,
  exits,
  firstAfter,
  glabel,
  guestQ,
  injections,
  kvmAt,
  rdmsrTo,
  runKvm,
  vmcsAt,
  wrmsr,
} from './kvm-helpers';

const GP_INFO = 0x80000b0d;

const s = runKvm([
  '        .intgate 2, nmi',
  '        .intgate 13, gp',
  '        .intgate 0x50, irq50',
  '        .intgate 0x60, irq60',
  'start:',
  // TPR, and the PPR it makes.
  ...wrmsr(MSR.TPR, 0x30),
  ...rdmsrTo(MSR.TPR, 'tpr_read'),
  ...rdmsrTo(MSR.PPR, 'ppr_read'),
  ...wrmsr(MSR.TPR, 0),
  // SELF IPI with IF=0: the vector waits in the IRR, readable through the IRR MSRs.
  'selfipi:',
  ...wrmsr(MSR.SELF_IPI, 0x50),
  ...rdmsrTo(MSR.IRR0 + 2, 'irr_read'),
  '        sti',
  '        nop', // the STI shadow; the interrupt-window exit comes after it
  'after50:',
  // ICR, fixed delivery: shorthand "self", then destination 0 (this vCPU), then another one.
  ...wrmsr(MSR.ICR, 0x40060),
  ...wrmsr(MSR.ICR, 0x60, 0),
  ...wrmsr(MSR.ICR, 0x60, 5),
  // ICR, NMI delivery to self.
  ...wrmsr(MSR.ICR, 0x40400),
  // MSRs KVM does not emulate: #GP(0), the handler skips the 2-byte instruction.
  'badwr:',
  ...wrmsr(0x1234, 1),
  '        mov ecx, 0x1235',
  'badrd:  rdmsr',
  'done:   cli',
  '        hlt',
  '        jmp done',
  'irq50:',
  ...rdmsrTo(MSR.ISR0 + 2, 'isr_in'),
  ...rdmsrTo(MSR.PPR, 'ppr_in'),
  ...wrmsr(MSR.EOI, 0),
  ...rdmsrTo(MSR.ISR0 + 2, 'isr_after'),
  '        iretq',
  'irq60:  inc qword [irq60s]',
  ...wrmsr(MSR.EOI, 0),
  '        iretq',
  'nmi:    inc qword [nmis]',
  '        iretq',
  'gp:     inc qword [gps]',
  '        mov rax, [rsp]',
  '        mov [gp_err], rax',
  '        add rsp, 8',
  '        mov rax, [rsp]',
  '        mov [gp_rip], rax',
  '        add qword [rsp], 2',
  '        iretq',
  'tpr_read:  .dq 0',
  'ppr_read:  .dq 0',
  'irr_read:  .dq 0',
  'isr_in:    .dq 0',
  'ppr_in:    .dq 0',
  'isr_after: .dq 0',
  'irq60s:    .dq 0',
  'nmis:      .dq 0',
  'gps:       .dq 0',
  'gp_err:    .dq -1',
  'gp_rip:    .dq 0',
]);
const q = (name: string) => guestQ(s, glabel(s, name));
const writes = decisions(s, Fn.x2apic_msr_write);
const reads = decisions(s, Fn.x2apic_msr_read);

describe('x2APIC registers through MSR exits', () => {
  it('runs to its end; every x2APIC access was a WRMSR (32) or RDMSR (31) exit', () => {
    expect(s.runError()).toBeNull();
    expect(s.sim.endReason).toBe('halted');
    const reasons = new Set(exits(s).map((e) => e.d0));
    expect(reasons.has(ExitReason.MSR_WRITE)).toBe(true);
    expect(reasons.has(ExitReason.MSR_READ)).toBe(true);
  });

  it('TPR: the write sets the vCPU APIC TPR, and reads of TPR and PPR return it', () => {
    const w = writes[0];
    expect(w).toMatchObject({ d1: MSR.TPR, d2: 0x30 });
    expect(kvmAt(s, w.step).lapic.tpr).toBe(0x30);
    expect(q('tpr_read')).toBe(0x30n);
    expect(q('ppr_read')).toBe(0x30n);
    expect(reads.slice(0, 2).map((r) => [r.d1, r.d2])).toEqual([
      [MSR.TPR, 0x30],
      [MSR.PPR, 0x30],
    ]);
  });

  it('the instruction is skipped: GUEST_RIP advances by VM_EXIT_INSTRUCTION_LEN (2)', () => {
    const w = writes[0];
    const exit = exits(s)
      .filter((e) => e.step < w.step)
      .pop()!;
    expect(vmcsAt(s, exit.step, F.VM_EXIT_INSTRUCTION_LEN)).toBe(2);
    expect(vmcsAt(s, w.step, F.GUEST_RIP)).toBe(vmcsAt(s, exit.step, F.GUEST_RIP) + 2);
  });

  it('SELF IPI: the vector goes to the IRR (IF=0: it waits), RDMSR of IRR word 2 shows bit 16', () => {
    const w = writes.find((x) => x.d1 === MSR.SELF_IPI)!;
    expect(w.d2).toBe(0x50);
    expect(vectorsOf(kvmAt(s, w.step).lapic.irr)).toEqual([0x50]);
    expect(kvmAt(s, w.step).reqEvent).toBe(true);
    expect(q('irr_read')).toBe(1n << 16n);
  });

  it('inside the handler ISR word 2 has bit 16 and PPR is 0x50; EOI clears it', () => {
    expect(injections(s, 0x80000050)).toHaveLength(1);
    expect(q('isr_in')).toBe(1n << 16n);
    expect(q('ppr_in')).toBe(0x50n);
    expect(q('isr_after')).toBe(0n);
    const eoi = writes.find((x) => x.d1 === MSR.EOI)!;
    expect(vectorsOf(kvmAt(s, eoi.step - 1).lapic.isr)).toEqual([0x50]);
    expect(vectorsOf(kvmAt(s, eoi.step).lapic.isr)).toEqual([]);
  });

  it('ICR fixed self-IPIs (shorthand self, destination 0) are delivered; another destination is not', () => {
    const icr = writes.filter((x) => x.d1 === MSR.ICR);
    expect(icr.map((x) => x.d2)).toEqual([0x40060, 0x60, 0x60, 0x40400]);
    expect(vectorsOf(kvmAt(s, icr[0].step).lapic.irr)).toEqual([0x60]);
    expect(vectorsOf(kvmAt(s, icr[1].step).lapic.irr)).toEqual([0x60]);
    expect(vectorsOf(kvmAt(s, icr[2].step).lapic.irr)).toEqual([]);
    expect(injections(s, 0x80000060)).toHaveLength(2);
    expect(q('irq60s')).toBe(2n);
  });

  it('ICR with NMI delivery to self: kvm_inject_nmi, then process_nmi and an NMI injection', () => {
    const icr = writes.filter((x) => x.d1 === MSR.ICR)[3];
    expect(kvmAt(s, icr.step)).toMatchObject({ nmiQueued: 1, reqNmi: true });
    const pn = firstAfter(decisions(s, Fn.process_nmi), icr.step)!;
    expect(pn.d1).toBe(1);
    expect(injections(s, NMI_INFO)).toHaveLength(1);
    expect(q('nmis')).toBe(1n);
  });

  it('an MSR KVM does not emulate gets #GP(0) injected, at the instruction (not skipped)', () => {
    const gp = decisions(s, Fn.inject_gp);
    expect(gp.map((d) => d.d1)).toEqual([0x1234, 0x1235]);
    const entries = injections(s, GP_INFO);
    expect(entries).toHaveLength(2);
    for (const e of entries) expect(e.d2).toBe(glabel(s, 'gp'));
    expect(vmcsAt(s, gp[1].step, F.VM_ENTRY_EXCEPTION_ERROR_CODE)).toBe(0);
    expect(q('gps')).toBe(2n);
    expect(q('gp_err')).toBe(0n);
    // The return RIP the #GP pushed is the RDMSR itself.
    expect(q('gp_rip')).toBe(BigInt(glabel(s, 'badrd')));
  });

  // kvm_queue_exception → vcpu->arch.exception.pending: kvm_check_and_inject_events injects a
  // pending exception first and lets the NMI wait (can_inject = false → -EBUSY, an immediate
  // exit). Once a deviation (the #GP went straight into VM_ENTRY_INTR_INFO_FIELD).
  it('a #GP KVM queued goes in before an NMI raised before the next entry', () => {
    const program = [
      '        .intgate 2, nmi',
      '        .intgate 13, gp',
      'start:  sti',
      '        mov ecx, 0x1234',
      '        wrmsr',
      'done:   cli',
      '        hlt',
      '        jmp done',
      'nmi:    iretq',
      'gp:     add rsp, 8',
      '        add qword [rsp], 2',
      '        iretq',
    ];
    const probe = runKvm(program);
    const gp = decisions(probe, Fn.inject_gp)[0];
    const t = runKvm(program, { events: [{ at: { time: gp.time - 50 }, target: 1, nmi: true }] });
    const queued = decisions(t, Fn.inject_gp)[0];
    expect(firstAfter(entries(t), queued.step)!.d0).toBe(GP_INFO);
  });
});
