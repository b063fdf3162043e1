// What a VM exit saves and loads: the guest's RIP, RSP, RFLAGS, interruptibility and activity
// state in the guest-state area, then the host's RIP, RSP and IDTR from the host-state area
// with RFLAGS = 0x2 (SDM Vol. 3C "VM Exits": "Saving Guest State", "Loading Host State";
// facts §1.8, §1.9).
import { describe, expect, it } from 'vitest';
import { RF, label } from '../helpers';
import { GUEST_STACK, exits, field, runVmx } from './vmx-helpers';

describe('saving guest state', () => {
  it('GUEST_RIP, GUEST_RSP and GUEST_RFLAGS as they were at the exit', () => {
    const s = runVmx({ guest: ['        push rax', '        xor eax, eax ; ZF=1 PF=1', 'call_: vmcall'] });
    expect(field(s, 'GUEST_RIP')).toBe(label(s, 'call_'));
    expect(field(s, 'GUEST_RSP')).toBe(GUEST_STACK - 8);
    expect(field(s, 'GUEST_RFLAGS')).toBe(RF.FIXED | RF.ZF | RF.PF);
  });

  it.each([
    ['blocking by STI: STI with IF=0, then VMCALL in its shadow', ['sti', 'vmcall'], [], 1],
    [
      'no blocking: STI with IF already 1 has no shadow',
      ['sti', 'vmcall'],
      ['vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF'],
      0,
    ],
    ['blocking by MOV SS: VMCALL right after MOV SS', ['mov rax, 0x10', 'mov ss, rax', 'vmcall'], [], 2],
    ['no blocking one instruction after MOV SS', ['mov rax, 0x10', 'mov ss, rax', 'nop', 'vmcall'], [], 0],
    [
      'blocking by NMI: VMCALL in the handler of an injected NMI (virtual NMIs)',
      ['vmcall'],
      [
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000202',
        'vmwrite GUEST_IDTR_BASE, nmi_idt',
      ],
      8,
    ],
    [
      'blocking by STI and by NMI together',
      ['sti', 'vmcall'],
      [
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
        'vmwrite GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI',
      ],
      9,
    ],
  ])('GUEST_INTERRUPTIBILITY_INFO — %s', (_, guest, setup, expected) => {
    const s = runVmx({
      setup,
      guest,
      extra: ['        .idt nmi_idt', '        .intgate 2, guest'],
    });
    expect(exits(s).map((e) => e.reason)).toEqual([18]);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(expected);
  });

  it('GUEST_ACTIVITY_STATE: 1 for an exit from HLT, 0 for an exit of an active guest', () => {
    const halted = runVmx(
      { setup: ['vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK'], guest: ['hlt'] },
      [{ at: { time: 100 }, irq: 0x30 }],
    );
    expect(exits(halted).map((e) => e.reason)).toEqual([1]);
    expect(field(halted, 'GUEST_ACTIVITY_STATE')).toBe(1);
    const active = runVmx({ setup: ['vmwrite GUEST_ACTIVITY_STATE, 1', 'vmwrite GUEST_ACTIVITY_STATE, 0'] });
    expect(field(active, 'GUEST_ACTIVITY_STATE')).toBe(0);
  });

  it('GUEST_IDTR_BASE and GUEST_SS_SELECTOR as the guest left them', () => {
    const s = runVmx({
      guest: [
        '        lidt [other_idtr]',
        '        mov rax, 0x18',
        '        mov ss, rax',
        '        nop',
        '        vmcall',
      ],
      extra: ['other_idtr: .idtr other_idt', '        .idt other_idt'],
    });
    expect(field(s, 'GUEST_IDTR_BASE')).toBe(label(s, 'other_idt'));
    expect(field(s, 'GUEST_SS_SELECTOR')).toBe(0x18);
  });
});

describe('loading host state', () => {
  const s = runVmx({
    hostIdt: ['        .intgate 0x40, host_handler'],
    setup: ['        vmwrite HOST_RSP, 0xe000', '        sti', '        cmp rax, rax ; ZF=1'],
    host: ['        int 0x40'],
    guest: ['        sti', '        push rax', '        vmcall'],
    extra: ['host_handler: nop', '        iretq'],
  });
  const exitStep = exits(s)[0].step;
  const host = s.view(exitStep).levels[0].cpu;

  it('RIP = HOST_RIP, RSP = HOST_RSP, RFLAGS = 0x2 (IF=0 and ZF=0 whatever they were at VM entry)', () => {
    expect(host.rip).toBe(label(s, 'exit_handler'));
    expect(host.regs.find((r) => r.name === 'rsp')!.value).toBe('0x000000000000e000');
    expect(host.rflags).toBe(0x2);
    expect([host.running, host.mode, host.activity]).toEqual([true, 'root', 'active']);
    expect(host.interruptibility).toEqual({ sti: false, movss: false, nmi: false });
  });

  it('IDTR = HOST_IDTR_BASE: the host’s INT 0x40 goes through the host IDT', () => {
    const d = s.view(exitStep + 1).event!;
    expect(d.kind).toBe('delivery');
    expect(d.data).toMatchObject({ vector: 0x40, handler: label(s, 'host_handler') });
  });

  it('the guest lane is left with its saved state', () => {
    const g = s.view(exitStep).levels[1].cpu;
    expect(g.running).toBe(false);
    expect(g.rip).toBe(field(s, 'GUEST_RIP'));
    expect(g.rflags).toBe(field(s, 'GUEST_RFLAGS'));
    expect(g.interruptibility.sti).toBe(false); // STI with IF=0 then PUSH: the shadow is over
  });

  it('an exit in the guest’s MOV-SS shadow leaves the host without one', () => {
    const t = runVmx({ guest: ['mov rax, 0x10', 'mov ss, rax', 'vmcall'] });
    const n = exits(t)[0].step;
    expect(field(t, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(2);
    expect(t.view(n).levels[0].cpu.interruptibility).toEqual({ sti: false, movss: false, nmi: false });
  });
});
