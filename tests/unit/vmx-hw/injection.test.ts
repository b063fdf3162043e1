// Event injection by VM entry: the event in VM_ENTRY_INTR_INFO_FIELD is delivered through the
// guest's IDT after guest state is loaded, as if it occurred at GUEST_RIP (SDM Vol. 3C "Event
// Injection"; facts §3.4): error codes, the return address of software events, NMI blocking
// and virtual-NMI blocking, type 7 (pending MTF), the activity state of a vectoring entry, and
// the valid bit cleared by the next VM exit.
import { describe, expect, it } from 'vitest';
import { EventKind, label, memQ, stepsOf } from '../helpers';
import { GUEST_STACK, entries, exits, field, info, runVmx } from './vmx-helpers';

/** The frame an injected event pushed on the guest stack (64-bit frame, no error code). */
function frame(s: ReturnType<typeof runVmx>, withErr = false) {
  const top = GUEST_STACK - (withErr ? 48 : 40);
  const q = (off: number) => Number(memQ(s, top + off));
  return withErr
    ? { err: q(0), rip: q(8), cs: q(16), rflags: q(24), rsp: q(32), ss: q(40) }
    : { rip: q(0), cs: q(8), rflags: q(16), rsp: q(24), ss: q(32) };
}

/** After each exit: GUEST_RIP += VM_EXIT_INSTRUCTION_LEN and VMRESUME, `rounds` times in all. */
const resumeAfterVmcall = (rounds: number) => [
  '        inc qword [round]',
  `        cmp qword [round], ${rounds}`,
  '        je done',
  '        vmread rax, GUEST_RIP',
  '        vmread rbx, VM_EXIT_INSTRUCTION_LEN',
  '        add rax, rbx',
  '        vmwrite GUEST_RIP, rax',
  '        vmresume',
  'done:',
];

describe('an injected external interrupt (type 0)', () => {
  const s = runVmx({
    guestIdt: ['        .intgate 0x30, h30'],
    setup: [
      'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF',
      'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000030',
    ],
    extra: ['h30:    vmcall'],
  });

  it('is delivered through the guest IDT in the VM entry: the guest starts at the handler', () => {
    expect(entries(s)).toEqual([
      {
        step: expect.any(Number),
        rip: label(s, 'launch'),
        injected: 0x80000030,
        launch: true,
        guestRip: label(s, 'h30'),
      },
    ]);
    expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[18, label(s, 'h30')]]);
    // no guest instruction ran before the handler's VMCALL
    expect(stepsOf(s, EventKind.INSTR).filter((r) => s.sim.trace.level[r.step - 1] === 1)).toEqual([]);
  });

  it('as if it occurred at GUEST_RIP: the frame holds the guest RIP, IF=1 and the guest RSP', () => {
    expect(frame(s)).toMatchObject({ rip: label(s, 'guest'), rflags: 0x202, rsp: GUEST_STACK });
    expect(field(s, 'GUEST_RSP')).toBe(GUEST_STACK - 40);
    expect(field(s, 'GUEST_RFLAGS')).toBe(0x2); // an interrupt gate cleared IF
  });

  it('bypasses the APIC (nothing in IRR or ISR) and clears the valid bit at the next exit', () => {
    const v = s.view(s.totalSteps).levels[0].apic;
    expect([v.irr, v.isr]).toEqual([[], []]);
    expect(field(s, 'VM_ENTRY_INTR_INFO_FIELD')).toBe(0x30);
  });
});

describe('an injected NMI (type 2)', () => {
  const program = (pin: string) =>
    runVmx({
      guestIdt: ['        .intgate 2, nmi_h'],
      setup: [`vmwrite PIN_BASED_VM_EXEC_CONTROL, ${pin}`, 'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000202'],
      host: [
        '        vmread rcx, GUEST_INTERRUPTIBILITY_INFO',
        '        mov [r12+intr], rcx',
        '        add r12, 8',
        ...resumeAfterVmcall(2),
      ],
      guest: ['        vmcall'],
      extra: ['nmi_h:  vmcall', '        iretq', 'round: .dq 0', 'intr: .dq 0, 0'],
    });

  it('with virtual NMIs: virtual-NMI blocking (bit 3) until the guest handler IRETs', () => {
    const s = program('PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS');
    expect(exits(s).map((e) => e.rip)).toEqual([label(s, 'nmi_h'), label(s, 'guest')]);
    expect([memQ(s, label(s, 'intr')), memQ(s, label(s, 'intr') + 8)]).toEqual([8n, 0n]);
    const inHandler = s.view(exits(s)[0].step - 1).levels[1].cpu;
    expect(inHandler.vnmiBlocked).toBe(true);
  });

  it('without virtual NMIs: blocking by NMI (bit 3), which the guest IRET ends', () => {
    const s = program('0');
    expect([memQ(s, label(s, 'intr')), memQ(s, label(s, 'intr') + 8)]).toEqual([8n, 0n]);
    const inHandler = s.view(exits(s)[0].step - 1).levels[1].cpu;
    expect([inHandler.interruptibility.nmi, inHandler.vnmiBlocked]).toEqual([true, false]);
  });
});

describe('an injected hardware exception (type 3)', () => {
  it('pushes VM_ENTRY_EXCEPTION_ERROR_CODE when "deliver error code" is 1', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 13, gp_h'],
      setup: [
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000b0d',
        'vmwrite VM_ENTRY_EXCEPTION_ERROR_CODE, 0x1234',
      ],
      extra: ['gp_h:   vmcall'],
    });
    expect(frame(s, true)).toMatchObject({ err: 0x1234, rip: label(s, 'guest'), rsp: GUEST_STACK });
    expect(field(s, 'GUEST_RSP')).toBe(GUEST_STACK - 48);
    expect(entries(s)[0].guestRip).toBe(label(s, 'gp_h'));
  });

  it('is not subject to the exception bitmap: an injected #GP reaches the guest handler', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 13, gp_h'],
      setup: [
        'vmwrite EXCEPTION_BITMAP, 0xffffffff',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000b0d',
        'vmwrite VM_ENTRY_EXCEPTION_ERROR_CODE, 0',
      ],
      extra: ['gp_h:   vmcall'],
    });
    expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[18, label(s, 'gp_h')]]);
  });
});

describe('injected software events (types 4, 5, 6) return to GUEST_RIP + VM_ENTRY_INSTRUCTION_LEN', () => {
  it.each([
    ['a software interrupt (INT 0x80)', info(4, 0x80), 2],
    ['a software exception (INT3)', info(6, 3), 1],
    ['a privileged software exception (INT1)', info(5, 1), 1],
    ['a software interrupt with length 0', info(4, 0x80), 0],
    ['a software interrupt with length 7', info(4, 0x80), 7],
  ])('%s', (_, value, len) => {
    const s = runVmx({
      guestIdt: ['        .intgate 0x80, soft_h', '        .intgate 3, soft_h', '        .intgate 1, soft_h'],
      setup: [
        `vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x${value.toString(16)}`,
        `vmwrite VM_ENTRY_INSTRUCTION_LEN, ${len}`,
      ],
      extra: ['soft_h: vmcall'],
    });
    expect(frame(s).rip).toBe(label(s, 'guest') + len);
    expect(exits(s).map((e) => e.rip)).toEqual([label(s, 'soft_h')]);
  });

  it('an injected hardware exception ignores the length: its return RIP is GUEST_RIP', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 3, h3'],
      setup: ['vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000303', 'vmwrite VM_ENTRY_INSTRUCTION_LEN, 5'],
      extra: ['h3:     vmcall'],
    });
    expect(frame(s).rip).toBe(label(s, 'guest'));
  });
});

describe('type 7 (other event), vector 0: a pending MTF VM exit', () => {
  it('exits with reason 37 before any guest instruction, nothing delivered', () => {
    const s = runVmx({ setup: ['vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000700'], guest: ['nop', 'vmcall'] });
    expect(entries(s)[0]).toMatchObject({ injected: 0x80000700, guestRip: label(s, 'guest') });
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.rip, e.intrInfo])).toEqual([[37, label(s, 'guest'), 0]]);
    expect(x[0].step).toBe(entries(s)[0].step + 1);
    expect(field(s, 'GUEST_RSP')).toBe(GUEST_STACK); // nothing pushed
  });

  it('in the HLT activity state: the MTF exit leaves the guest in HLT (activity 1 saved)', () => {
    const s = runVmx({
      setup: [
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000700',
        'vmwrite GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT',
      ],
    });
    expect(exits(s).map((e) => e.reason)).toEqual([37]);
    expect(field(s, 'GUEST_ACTIVITY_STATE')).toBe(1);
  });
});

describe('the activity state after a vectoring VM entry', () => {
  it('an event injected into a guest in HLT leaves it active: the handler runs', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 0x30, h30'],
      setup: [
        'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF',
        'vmwrite GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000030',
      ],
      extra: ['h30:    vmcall'],
    });
    expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[18, label(s, 'h30')]]);
    expect(field(s, 'GUEST_ACTIVITY_STATE')).toBe(0);
    expect(frame(s).rip).toBe(label(s, 'guest'));
  });

  it('without injection the guest enters HLT and, with nothing to wake it, the run ends there', () => {
    const s = runVmx({ setup: ['vmwrite GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT'] });
    expect(exits(s)).toEqual([]);
    expect(s.sim.endReason).toBe('halted');
    const g = s.view(s.totalSteps).levels[1].cpu;
    expect([g.running, g.activity, g.rip]).toEqual([true, 'hlt', label(s, 'guest')]);
  });
});

describe('the valid bit of VM_ENTRY_INTR_INFO_FIELD', () => {
  it('is cleared by the next VM exit, so a VMRESUME does not inject the event again', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 0x30, h30'],
      setup: [
        'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000030',
      ],
      host: ['        vmread r10, VM_ENTRY_INTR_INFO_FIELD', ...resumeAfterVmcall(2)],
      extra: ['h30:    vmcall', '        vmcall', 'round: .dq 0'],
    });
    expect(entries(s).map((e) => e.injected)).toEqual([0x80000030, 0]);
    expect(exits(s).map((e) => e.rip)).toEqual([label(s, 'h30'), label(s, 'h30') + 3]);
    expect(field(s, 'VM_ENTRY_INTR_INFO_FIELD')).toBe(0x30);
  });
});
