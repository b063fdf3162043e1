// MOV to and from DR4/DR5 (SDM Vol. 2B "MOV—Move to/from Debug Registers"): with CR4.DE = 0
// they alias DR6 and DR7; with CR4.DE = 1 they do not exist and the MOV raises #UD, ahead of
// general detect. Under KVM the MOV-DR exit comes first (it has priority over that #UD, SDM
// "Instructions That Cause VM Exits Conditionally") and handle_dr raises the #UD
// (kvm_require_dr).
import { describe, expect, it } from 'vitest';
import { deliveries, label, reg, run } from '../helpers';

const UD = ['.intgate 6, ud_handler'];

describe('DR4 and DR5', () => {
  it('CR4.DE = 0: mov rax, dr5 reads DR7 (400H)', () => {
    const s = run([...UD, 'mov rax, dr5', 'hlt', 'ud_handler: hlt']);
    expect(reg(s, 'rax')).toBe(0x400n);
    expect(deliveries(s)).toEqual([]);
  });

  it('CR4.DE = 1: mov rax, dr4 raises #UD at the MOV', () => {
    const s = run([
      ...UD,
      'mov rax, cr4',
      'or rax, 8',
      'mov cr4, rax',
      'movdr: mov rax, dr4',
      'hlt',
      'ud_handler: hlt',
    ]);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.rip])).toEqual([[6, label(s, 'movdr')]]);
  });
});
