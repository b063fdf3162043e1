// A general-detect #DB of L2 that L1 intercepts (kvm-unit-tests-style, from a review): on
// hardware the MOV DR faults with a #DB exit whose qualification is BD and GUEST_DR7 keeps GD.
// Under KVM, L0's handle_dr queues the #DB with payload DR6_BD; vmx_check_nested_events turns
// it into the nested exit with the payload as qualification (nested_vmx_inject_exception_vmexit)
// and leaves DR6/DR7 alone.
import { describe, expect, it } from 'vitest';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { open, scenarioDoc } from '../helpers';

const PROGRAM = [
  'start:  vmxon [vmxon_ptr]',
  '        vmclear [vmcs_ptr]',
  '        vmptrld [vmcs_ptr]',
  '        vmwrite GUEST_RIP, guest',
  '        vmwrite GUEST_RSP, 0xc000',
  '        vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED',
  '        mov rax, rsp',
  '        vmwrite HOST_RSP, rax',
  '        vmwrite HOST_RIP, exited',
  '        vmwrite EXCEPTION_BITMAP, 2',
  '        vmwrite VM_ENTRY_CONTROLS, VM_ENTRY_LOAD_DEBUG_CONTROLS',
  '        vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_DEBUG_CONTROLS | VM_EXIT_HOST_ADDR_SPACE_SIZE',
  '        vmwrite GUEST_DR7, 0x2400',
  '        vmlaunch',
  '        assert rax == 0xdead, "entry failed"',
  'exited:',
  '        vmread rax, VM_EXIT_REASON',
  '        vmread rbx, EXIT_QUALIFICATION',
  '        vmread rcx, GUEST_RIP',
  '        vmread rdx, VM_EXIT_INTR_INFO',
  '        vmread rsi, GUEST_DR7',
  '        assert rax == 0, "#DB exit"',
  '        assert rdx == 0x80000301, "hw exception #DB"',
  '        assert rcx == at_mov, "fault-like: RIP at the MOV DR"',
  '        assert rbx == 0x2000, "exit qualification BD"',
  '        assert rsi == 0x2400, "GUEST_DR7 keeps GD (a #DB that exits does not clear GD)"',
  '        cli',
  '        hlt',
  'guest:  nop',
  'at_mov: mov rax, dr0',
  '        vmcall',
  'vmxon_ptr:  .dq vmxon_region',
  'vmcs_ptr:   .dq vmcs',
  '        .align 4096',
  'vmxon_region: .dd 1',
  '        .align 4096',
  'vmcs:   .dd 1',
  '        .align 4096',
];

describe('general detect of L2, intercepted by L1', () => {
  it('exits with qualification BD and GUEST_DR7 keeping GD, on bare metal and under KVM', () => {
    const doc = scenarioDoc(PROGRAM, [], { limits: { steps: 100000 } });
    for (const d of [doc, nestUnderKvm(doc)]) {
      const s = open(d);
      expect(s.assertions.map((a) => [a.message, a.passed])).toEqual([
        ['#DB exit', true],
        ['hw exception #DB', true],
        ['fault-like: RIP at the MOV DR', true],
        ['exit qualification BD', true],
        ['GUEST_DR7 keeps GD (a #DB that exits does not clear GD)', true],
      ]);
    }
  });
});
