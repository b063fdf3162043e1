// A VM exit while the guest waits in MWAIT (SDM Vol. 3C "Guest Non-Register State": the
// activity-state field "never reflects" MWAIT's inactive state): the exit saves the active
// state and GUEST_RIP after the MWAIT, so VMRESUME goes on after it.
import { describe, expect, it } from 'vitest';
import { label } from '../helpers';
import { exits, field, runVmx } from './vmx-helpers';

describe('VM exit from MWAIT', () => {
  it('saves GUEST_ACTIVITY_STATE 0 and GUEST_RIP after MWAIT; the resumed guest continues', () => {
    const s = runVmx(
      {
        setup: ['vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK'],
        host: [
          '        vmread rax, VM_EXIT_REASON',
          '        cmp rax, EXIT_REASON_EXTERNAL_INTERRUPT',
          '        jne done',
          '        vmwrite PIN_BASED_VM_EXEC_CONTROL, 0',
          '        vmresume',
          'done:   nop',
        ],
        guest: ['xor eax, eax', 'xor ecx, ecx', 'xor edx, edx', 'monitor', 'mwait', 'after_mwait: vmcall'],
      },
      [{ at: { time: 500 }, irq: 0x20 }],
    );
    const [first, second] = exits(s);
    expect([first.reason, first.rip]).toEqual([1, label(s, 'after_mwait')]);
    expect(field(s, 'GUEST_ACTIVITY_STATE', first.step)).toBe(0);
    expect(second.reason).toBe(18);
  });

  it('an exit from HLT still saves the HLT state (1)', () => {
    const s = runVmx(
      { setup: ['vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK'], guest: ['hlt'] },
      [{ at: { time: 500 }, irq: 0x20 }],
    );
    expect(exits(s)[0].reason).toBe(1);
    expect(field(s, 'GUEST_ACTIVITY_STATE')).toBe(1);
  });
});

describe('RFLAGS.RF saved by an instruction exit', () => {
  it('is 0 for an exit caused by the instruction (CPUID), even when RF was 1 as it began', () => {
    const s = runVmx({
      guest: [
        'mov rax, rsp',
        'push 0x10',
        'push rax',
        'push 0x10002 ; RFLAGS with RF',
        'push 8',
        'mov rbx, target',
        'push rbx',
        'iretq',
        'target: cpuid',
      ],
    });
    expect(exits(s)[0].reason).toBe(10);
    expect(field(s, 'GUEST_RFLAGS') & 0x10000).toBe(0);
  });
});
