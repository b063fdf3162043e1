// INVD (SDM Vol. 2 "INVD—Invalidate Internal Caches"; Vol. 3C "Instructions That Cause VM
// Exits Unconditionally"): no visible effect on bare metal (the lab has no caches), and in VMX
// non-root operation always a VM exit with reason 13 and its length (0F 08: 2 bytes).
import { describe, expect, it } from 'vitest';
import { Op } from '../../../src/core/asm';
import { label, reg, run } from '../helpers';
import { one } from '../asm/helpers';
import { exits, field, runVmx } from './vmx-helpers';

describe('INVD', () => {
  it('assembles to op INVD, 2 bytes', () => {
    expect(one('invd')).toMatchObject({ op: Op.INVD, len: 2 });
  });

  it('on bare metal: nothing happens, execution goes on after it', () => {
    const s = run(['        mov eax, 7', 'insn:   invd', '        mov ebx, 9', '        cli', '        hlt']);
    expect([reg(s, 'rax'), reg(s, 'rbx'), s.sim.endReason]).toEqual([7n, 9n, 'halted']);
  });

  it('in a guest: exit 13 at the instruction with length 2, whatever the controls', () => {
    for (const setup of [[], ['vmwrite CPU_BASED_VM_EXEC_CONTROL, 0']]) {
      const s = runVmx({ setup, guest: ['insn:   invd', '        vmcall'] });
      const x = exits(s)[0];
      expect([x.reason, x.rip, field(s, 'VM_EXIT_INSTRUCTION_LEN'), field(s, 'EXIT_QUALIFICATION')]).toEqual([
        13,
        label(s, 'insn'),
        2,
        0,
      ]);
    }
  });
});
