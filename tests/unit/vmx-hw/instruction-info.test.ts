// The exit qualification and VMX_INSTRUCTION_INFO of VM exits caused by VMX instructions with
// an operand (SDM Vol. 3C "Exit Qualification for VM Exits": the displacement, or for
// RIP-relative addressing the displacement plus the next RIP; "VM-Exit Instruction-Information
// Field" for VMCLEAR/VMPTRLD/VMXON and for VMREAD/VMWRITE). The guest's instruction exits; its
// host checks the fields with asserts. The same program as L1 under KVM must see the same
// fields: KVM's prepare_vmcs12 copies them from vmcs02 into vmcs12.
import { describe, expect, it } from 'vitest';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { open, scenarioDoc } from '../helpers';
import { exits, passed, vmxProgram } from './vmx-helpers';

/** scaling 1:0, address size 9:7 (2 = 64-bit), reg/mem 10, segment 17:15, index 21:18 (22 invalid), base 26:23 (27 invalid), reg2 31:28. */
const mem = (seg: number, base: number | null, reg2: number | null = null): number =>
  ((2 << 7) |
    (seg << 15) |
    (1 << 22) |
    (base === null ? 1 << 27 : base << 23) |
    (reg2 === null ? 0 : reg2 << 28)) >>>
  0;
const DS = 3;
const SS = 2;
const hex = (v: number) => `0x${v.toString(16)}`;

const CASES: [string, string[], number, string, number][] = [
  // [what, guest lines before the exiting instruction, exit reason, expected qualification (asm expression), info]
  ['VMPTRLD [label]: RIP-relative, the qualification is the address', ['vmptrld [g_ptr]'], 21, 'g_ptr', mem(DS, null)],
  ['VMCLEAR [rbx + 0x10]: base RBX, the qualification is the displacement', ['mov rbx, g_ptr - 0x10', 'vmclear [rbx + 0x10]'], 19, '0x10', mem(DS, 3)],
  ['VMXON [rsp + 8]: base RSP, segment SS', ['vmxon [rsp + 8]'], 27, '8', mem(SS, 4)],
  ['VMPTRLD [rbp]: base RBP, segment SS, no displacement', ['mov rbp, g_ptr', 'vmptrld [rbp]'], 21, '0', mem(SS, 5)],
  ['VMPTRLD [rbx + rcx*4 + 8]: index RCX scaled by 4', ['mov rbx, g_ptr - 0x18', 'mov ecx, 4', 'vmptrld [rbx + rcx*4 + 8]'], 21, '8', (mem(DS, 3) & ~(1 << 22)) | (1 << 18) | 2],
  ['VMREAD rax, rbx: register form, reg1 = RAX, reg2 = RBX', ['mov ebx, 0x4402', 'vmread rax, rbx'], 23, '0', ((1 << 10) | (3 << 28)) >>> 0],
  ['VMREAD [rbx + 8], rcx: memory destination, reg2 = RCX', ['mov rbx, g_ptr', 'mov ecx, 0x4402', 'vmread [rbx + 8], rcx'], 23, '8', mem(DS, 3, 1)],
  ['VMWRITE rdx, rsi: reg2 = RDX (the field), reg1 = RSI', ['mov edx, 0x4402', 'vmwrite rdx, rsi'], 25, '0', ((1 << 10) | (6 << 3) | (2 << 28)) >>> 0],
]; // prettier-ignore

function program(guest: string[], qualification: string, info: number): string[] {
  return vmxProgram({
    host: [
      '        vmread rax, EXIT_QUALIFICATION',
      `        assert rax == ${qualification}, "exit qualification"`,
      '        vmread rax, VMX_INSTRUCTION_INFO',
      `        assert rax == ${hex(info)}, "VMX_INSTRUCTION_INFO"`,
    ],
    guest: [...guest, '        hlt'],
    extra: ['g_ptr: .dq 0x2000', '        .dq 0'],
  });
}

describe('VMX instruction exits: exit qualification and instruction information', () => {
  it.each(CASES)('%s', (_, guest, reason, qualification, info) => {
    const doc = scenarioDoc(program(guest, qualification, info), [], { limits: { steps: 5000 } });
    const bare = open(doc);
    expect(exits(bare).map((e) => e.reason)).toEqual([reason]);
    expect(passed(bare)).toEqual([true, true]);
    // L1 under KVM: the same values in vmcs12.
    const nested = open(nestUnderKvm(doc));
    expect(nested.assertions.map((a) => a.passed)).toEqual([true, true]);
  });
});
