// Rules the VMX model once got wrong (found by these tests, then fixed): shadow-VMCS
// indicators, the exit that interrupts an injection, BS in the pending debug exceptions,
// waking a guest from the shutdown state, and the injected error code decided by bit 11.
import { describe, expect, it } from 'vitest';
import { EventKind } from '../../../src/core/engine/view';
import { cpu, memQ, run } from '../helpers';
import { GUEST_STACK, entries, exits, field, runVmx } from './vmx-helpers';

describe('regressions: rules the model once got wrong', () => {
  it('VMXON of a region whose first dword has bit 31 set: VMfailInvalid (SDM "VMXON")', () => {
    const s = run([
      'start: vmxon [p]',
      'cli',
      'hlt',
      'p: .dq r',
      '.align 4096',
      'r: .dd 0x80000001 ; revision 1, bit 31 set',
      '.align 4096',
    ]);
    expect(cpu(s).rflags & 1).toBe(1);
  });

  it('VMPTRLD of a shadow-VMCS region (bit 31) without VMCS shadowing: VMfailValid(11) (SDM "VMPTRLD")', () => {
    const prog = [
      'start: vmxon [p]',
      '       vmptrld [q]',
      '       vmptrld [q2]',
      'cli',
      'hlt',
      'p: .dq r',
      'q: .dq v',
      'q2: .dq v2',
      '.align 4096',
      'r: .dd 1',
      '.align 4096',
      'v: .dd 1',
      '.align 4096',
      'v2: .dd 0x80000001',
      '.align 4096',
    ];
    expect(cpu(run(prog, [], {}, { features: { vmx: { vmcsShadowing: false } } })).rflags & 0x40).toBe(0x40);
    // With VMCS shadowing it is a shadow VMCS: VMPTRLD succeeds, and VMLAUNCH of it is
    // VMfailInvalid ("the current VMCS is a shadow VMCS").
    const withShadowing = run(prog.flatMap((l) => (l === 'cli' ? ['       vmlaunch', 'cli'] : [l])));
    expect(cpu(withShadowing).rflags & 0x41).toBe(0x01);
  });

  it('a VM entry whose injected event exits during delivery is recorded as a VM entry, then the exit', () => {
    // vm-entry.ts says "Keep the exit for the next step" (VmxState.pendingExit), but
    // deliverEvent performs the exit inside the VMLAUNCH step: the trace has a VMEXIT at L0
    // and no VMENTRY.
    const s = runVmx({
      setup: [
        'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF',
        'vmwrite EXCEPTION_BITMAP, 0x800',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000030',
      ],
    });
    expect(entries(s)).toHaveLength(1);
    expect(exits(s)[0].level).toBe(1);
  });

  it('an MTF exit that wins over a single-step #DB trap leaves BS in GUEST_PENDING_DBG_EXCEPTIONS (facts §3.6)', () => {
    const s = runVmx({
      setup: [
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG',
        'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_TF',
      ],
      guest: ['nop', 'nop'],
    });
    expect(exits(s).map((e) => e.reason)).toEqual([37]);
    expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS') & 0x4000).toBe(0x4000);
  });

  it('a guest entered in the shutdown activity state is woken by the preemption timer (facts §1.11)', () => {
    // The engine ends the whole run when the processor's activity is shutdown, also in VMX
    // non-root operation, where VM exits (timer, NMI, NMI window) can still end it.
    const s = runVmx({
      setup: [
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_VMX_PREEMPTION_TIMER',
        'vmwrite VMX_PREEMPTION_TIMER_VALUE, 5',
        'vmwrite GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_SHUTDOWN',
      ],
    });
    expect(exits(s).map((e) => e.reason)).toEqual([52]);
  });

  it('an injected #CP (21) without "deliver error code" pushes no error code (SDM "Event Injection")', () => {
    // The entry check lets vector 21 through without bit 11 (facts §1.6: #CP varies by CPU),
    // but delivery decides by vector (hasErrorCode includes 21), not by bit 11.
    const s = runVmx({
      guestIdt: ['        .intgate 21, cp_h'],
      setup: ['vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000315', 'vmwrite VM_ENTRY_EXCEPTION_ERROR_CODE, 0x77'],
      extra: ['cp_h:   vmcall'],
    });
    expect(field(s, 'GUEST_RSP')).toBe(GUEST_STACK - 40);
    expect(memQ(s, GUEST_STACK - 40)).not.toBe(0x77n);
  });
});

describe('the single-step trap in a guest', () => {
  it('a MOV-SS shadow holds the #DB trap for one more instruction, as on bare metal (SDM "Masking Exceptions and Interrupts When Switching Stacks")', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 1, db_h'],
      guest: [
        '        mov rbx, 0x10',
        '        pushfq',
        '        pop rax',
        '        or rax, 0x100',
        '        push rax',
        '        popfq                   ; TF=1 from the next instruction on',
        '        mov ss, rbx             ; begins with TF=1: its trap waits out the shadow',
        '        nop',
        'after_nop: nop',
      ],
      extra: ['db_h:   vmcall'],
    });
    const t = s.sim.trace;
    const traps: number[] = [];
    for (let i = 0; i < t.length; i++) {
      if (t.kind[i] === EventKind.DELIVER && (t.d0[i] & 0xff) === 1) traps.push(t.rip[i]);
    }
    // Not after MOV SS (return RIP = the NOP) but after the NOP that follows it.
    expect(traps).toEqual([s.compiled.programs[0].labels['after_nop']]);
  });
});
