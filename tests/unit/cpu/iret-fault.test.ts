// "IRET/IRETD/IRETQ—Interrupt Return" in 64-bit mode: a return RIP that is not canonical is
// #GP(0) at the IRET, which does not complete — RSP, RFLAGS and RIP stay, and blocking by NMI
// is not ended (it ends only when an IRET completes, SDM "NMI Handling").
import { describe, expect, it } from 'vitest';
import {
  EventKind,
  EventType,
  type EventSpec,
  STOP,
  cpu,
  deliveries,
  label,
  memQ,
  run,
  stepsOf,
} from '../helpers';
import { exits, field, info, runVmx } from '../vmx-hw/vmx-helpers';
import { decisions, l1Program, q, runNested } from '../nested/nested-helpers';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';

const nmiAt = (time: number): EventSpec => ({ at: { time }, nmi: true });

/** An NMI handler that spoils its frame's RIP (bit 47 set: not canonical) once, then IRETQs;
 *  the #GP handler mends the NMI frame (at the RSP its own frame saved) and IRETQs. */
const program = [
  'start:',
  'main: work 1000',
  ...STOP,
  '.intgate 2, nmi',
  '.intgate 13, gp',
  'nmi:',
  '        inc qword [nmis]',
  '        cmp qword [spoiled], 0',
  '        jne ret_nmi',
  '        mov qword [spoiled], 1',
  '        mov rax, [rsp]',
  '        mov [saved_rip], rax',
  '        mov rax, 0x800000000000',
  '        mov [rsp], rax',
  'ret_nmi: iretq',
  'gp:',
  '        inc qword [gps]',
  '        mov rbx, [rsp + 32]',
  '        mov rax, [saved_rip]',
  '        mov [rbx], rax',
  '        add rsp, 8',
  '        iretq',
  'nmis: .dq 0',
  'gps: .dq 0',
  'spoiled: .dq 0',
  'saved_rip: .dq 0',
];

describe('IRETQ with a non-canonical return RIP', () => {
  it('raises #GP(0) at the IRETQ; NMIs stay blocked until an IRET completes', () => {
    const s = run(program, [nmiAt(10), nmiAt(30)]);
    const d = deliveries(s);
    const gp = d.find((x) => x.vector === 13)!;
    expect(gp).toBeDefined();
    expect(gp.type).toBe(EventType.HW_EXCEPTION);
    // Pushed RIP: the IRETQ itself (a fault), error code 0.
    expect(gp.rip).toBe(label(s, 'ret_nmi'));
    expect(s.view(gp.step).event!.data.errorCode).toBe(0);
    // At the fault: still blocked by NMI, and the second NMI pending behind it.
    expect(cpu(s, gp.step).interruptibility.nmi).toBe(true);
    // The second NMI is delivered only after an IRET completes (the #GP handler's, which
    // returns into the NMI handler's IRETQ; that one completes and ends blocking).
    const nmis = d.filter((x) => x.vector === 2);
    expect(nmis).toHaveLength(2);
    const irets = stepsOf(s, EventKind.IRET).map((e) => e.step);
    expect(irets.some((i) => i > gp.step && i < nmis[1].step)).toBe(true);
    expect(memQ(s, label(s, 'gps'))).toBe(1n);
    expect(memQ(s, label(s, 'nmis'))).toBe(2n);
    expect(s.sim.stateAt(s.totalSteps).cpu.maxNmiDepth).toBe(1);
  });
});

describe('a VM exit for the fault of an IRET (SDM "Architectural State before a VM Exit")', () => {
  // The guest's NMI handler (for an NMI the entry injects) spoils its return RIP and IRETQs; #GP
  // is intercepted. The exit reports bit 12 ("NMI unblocking due to IRET") when blocking was in
  // effect, and the blocking is cleared before the exit.
  const guest = {
    guestIdt: ['        .intgate 2, gnmi'],
    guest: ['        nop', '        vmcall'],
    extra: ['gnmi:   mov rax, 0x800000000000', '        mov [rsp], rax', 'giret:  iretq'],
  };

  it('virtual NMIs 1: virtual-NMI blocking is cleared, bit 12 set', () => {
    const s = runVmx({
      ...guest,
      setup: [
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
        'vmwrite EXCEPTION_BITMAP, 0x2000',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | 2',
      ],
    });
    expect(exits(s).map((e) => [e.reason, e.intrInfo, e.rip])).toEqual([
      [0, (info(EventType.HW_EXCEPTION, 13, true) | 0x1000) >>> 0, label(s, 'giret')],
    ]);
    expect(field(s, 'VM_EXIT_INTR_ERROR_CODE')).toBe(0);
    // Saved interruptibility: no virtual-NMI blocking (bit 3) after the exit cleared it.
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO') & 8).toBe(0);
  });

  it('NMI exiting 0: blocking by NMI is cleared, bit 12 set', () => {
    const s = runVmx({
      ...guest,
      setup: [
        'vmwrite EXCEPTION_BITMAP, 0x2000',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | 2',
      ],
    });
    expect(exits(s).map((e) => [e.reason, e.intrInfo])).toEqual([
      [0, (info(EventType.HW_EXCEPTION, 13, true) | 0x1000) >>> 0],
    ]);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO') & 8).toBe(0);
  });

  it('a fault on an IRET that was not in an NMI handler leaves bit 12 clear', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 0x40, gsw'],
      guest: ['        int 0x40', '        vmcall'],
      extra: ['gsw:    mov rax, 0x800000000000', '        mov [rsp], rax', '        iretq'],
      setup: ['vmwrite EXCEPTION_BITMAP, 0x2000'],
    });
    expect(exits(s).map((e) => [e.reason, e.intrInfo])).toEqual([
      [0, info(EventType.HW_EXCEPTION, 13, true)],
    ]);
  });
});

describe("KVM's vmx_recover_nmi_blocking for an exit on a faulting IRET", () => {
  it('L2 under KVM: L1 sees bit 12; KVM has re-set NMI blocking in vmcs02 first, so vmcs12 shows it', () => {
    // L1 injects an NMI into L2 with virtual NMIs; L2's NMI handler spoils its return RIP;
    // L1 intercepts #GP and stores what it reads.
    const s = runNested(
      l1Program({
        guestGates: ['        .intgate 2, l2_nmi'],
        setup: [
          '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
          '        vmwrite EXCEPTION_BITMAP, 0x2000',
          '        vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | 2',
        ],
        handler: [
          '        vmread rax, VM_EXIT_INTR_INFO',
          '        mov [exit_info], rax',
          '        vmread rax, GUEST_INTERRUPTIBILITY_INFO',
          '        mov [exit_intr_state], rax',
        ],
        l2: [
          '        nop',
          '        vmcall',
          'l2_nmi: mov rax, 0x800000000000',
          '        mov [rsp], rax',
          '        iretq',
        ],
        data: ['exit_info: .dq 0', 'exit_intr_state: .dq 0'],
      }),
    );
    const recover = decisions(s, Fn.vmx_recover_nmi_blocking);
    expect(recover).toHaveLength(1);
    expect(q(s, 'exit_reason')).toBe(0);
    expect(q(s, 'exit_info')).toBe((info(EventType.HW_EXCEPTION, 13, true) | 0x1000) >>> 0);
    // As KVM does (sync_vmcs02_to_vmcs12 reads vmcs02 after vmx_recover_nmi_blocking): bit 3.
    expect(q(s, 'exit_intr_state') & 8).toBe(8);
    expect(s.view(recover[0].step).explanation.text).toMatch(/NMI unblocking due to IRET/);
  });
});
