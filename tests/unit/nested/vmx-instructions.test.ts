// L1's VMX instructions, emulated by L0 (arch/x86/kvm/vmx/nested.c handle_vmxon, handle_vmptrld,
// handle_vmread, handle_vmwrite, nested_vmx_run) with the outcomes of the SDM's instruction
// pages: VMsucceed (CF = ZF = 0), VMfailInvalid (CF = 1: no current VMCS), VMfailValid (ZF = 1
// and VM_INSTRUCTION_ERROR in the current vmcs12); #UD outside VMX operation
// (nested_vmx_check_permission); and a VM entry that fails its guest-state checks after the
// VMfail checks — an exit with reason 0x80000021 to L1 (nested_vmx_enter_non_root_mode).
import { describe, expect, it } from 'vitest';
import {
  ExitReason,
  F,
  Fn,
  L1,
  L2,
  decisions,
  deliveriesOf,
  firstDecision,
  hwEntries,
  l1Exits,
  l1Program,
  l2Entries,
  lbl,
  q,
  runNested,
  vmcs01,
  vmcs12,
} from './nested-helpers';

const CF = 0x1;
const ZF = 0x40;
const FIXED = 0x2;
const SUCCEED = FIXED;
const FAIL_INVALID = FIXED | CF;
const FAIL_VALID = FIXED | ZF;

/** Lines that store RFLAGS at [name]. */
const flags = (name: string) => ['        pushf', `        pop qword [${name}]`];
/** Lines that store VM_INSTRUCTION_ERROR at [name]. */
const error = (name: string) => ['        vmread rax, VM_INSTRUCTION_ERROR', `        mov [${name}], rax`];
const slots = (...names: string[]) => names.map((n) => `${n}: .dq -1`);
/** A 4096-aligned region whose revision dword is 2 (the processor's is 1). */
const BAD_REGION = [
  'bad_ptr: .dq bad_region',
  '        .align 4096',
  'bad_region: .dd 2',
  '        .align 4096',
];

describe('VMXON', () => {
  const s = runNested(
    l1Program({
      raw: true,
      setup: [
        '        lidt [host_idtr]',
        '        vmxon [vmxon_ptr]',
        ...flags('f1'),
        '        vmxon [vmxon_ptr]', // in VMX operation, no current VMCS
        ...flags('f2'),
        '        vmclear [vmcs_ptr]',
        '        vmptrld [vmcs_ptr]',
        '        vmxon [vmxon_ptr]', // in VMX operation, with a current vmcs12
        ...flags('f3'),
        ...error('e3'),
        '        jmp l1_end',
      ],
      data: slots('f1', 'f2', 'f3', 'e3'),
    }),
  );

  it('the first VMXON succeeds', () => {
    expect(q(s, 'f1')).toBe(SUCCEED);
    expect(firstDecision(s, Fn.handle_vmxon).d1).toBe(lbl(s, 'vmxon_region'));
  });

  it('a second VMXON without a current VMCS: VMfailInvalid (CF = 1)', () => {
    expect(q(s, 'f2')).toBe(FAIL_INVALID);
  });

  it('a VMXON once a vmcs12 is current: VMfailValid with error 15', () => {
    expect(q(s, 'f3')).toBe(FAIL_VALID);
    expect(q(s, 'e3')).toBe(15);
    expect(vmcs12(s, s.totalSteps, F.VM_INSTRUCTION_ERROR)).toBe(15);
  });
});

describe('VMPTRLD of a region with the wrong revision identifier', () => {
  it('with a current vmcs12: VMfailValid, error 11 written into the current one, which stays current', () => {
    const s = runNested(
      l1Program({
        raw: true,
        setup: [
          '        lidt [host_idtr]',
          '        vmxon [vmxon_ptr]',
          '        vmclear [vmcs_ptr]',
          '        vmptrld [vmcs_ptr]',
          '        vmptrld [bad_ptr]',
          ...flags('f1'),
          ...error('e1'),
          '        jmp l1_end',
        ],
        data: [...slots('f1', 'e1'), ...BAD_REGION],
      }),
    );
    expect(q(s, 'f1')).toBe(FAIL_VALID);
    expect(q(s, 'e1')).toBe(11);
    expect(s.sim.stateAt(s.totalSteps).kvm!.nested.currentVmptr).toBe(lbl(s, 'vmcs12_region'));
  });

  it('without one: VMfailInvalid', () => {
    const s = runNested(
      l1Program({
        raw: true,
        setup: [
          '        lidt [host_idtr]',
          '        vmxon [vmxon_ptr]',
          '        vmptrld [bad_ptr]',
          ...flags('f1'),
          '        jmp l1_end',
        ],
        data: [...slots('f1'), ...BAD_REGION],
      }),
    );
    expect(q(s, 'f1')).toBe(FAIL_INVALID);
    expect(s.sim.stateAt(s.totalSteps).kvm!.nested.currentVmptr).toBe(-1);
  });
});

describe('VMCLEAR and VMPTRLD of bad addresses (VMfailValid, with a current vmcs12)', () => {
  const s = runNested(
    l1Program({
      raw: true,
      setup: [
        '        lidt [host_idtr]',
        '        vmxon [vmxon_ptr]',
        '        vmclear [vmcs_ptr]',
        '        vmptrld [vmcs_ptr]',
        '        vmclear [vmxon_ptr]',
        ...flags('f1'),
        ...error('e1'),
        '        vmptrld [vmxon_ptr]',
        ...flags('f2'),
        ...error('e2'),
        '        vmptrld [odd_ptr]',
        ...flags('f3'),
        ...error('e3'),
        '        jmp l1_end',
      ],
      data: [...slots('f1', 'e1', 'f2', 'e2', 'f3', 'e3'), 'odd_ptr: .dq vmcs12_region + 8'],
    }),
  );

  it('VMCLEAR of the VMXON pointer: error 3', () => {
    expect(q(s, 'f1')).toBe(FAIL_VALID);
    expect(q(s, 'e1')).toBe(3);
  });

  it('VMPTRLD of the VMXON pointer: error 10', () => {
    expect(q(s, 'f2')).toBe(FAIL_VALID);
    expect(q(s, 'e2')).toBe(10);
  });

  it('VMPTRLD of an address that is not 4-KByte aligned: error 9', () => {
    expect(q(s, 'f3')).toBe(FAIL_VALID);
    expect(q(s, 'e3')).toBe(9);
    expect(s.sim.stateAt(s.totalSteps).kvm!.nested.currentVmptr).toBe(lbl(s, 'vmcs12_region'));
  });
});

describe('VMREAD and VMWRITE', () => {
  it('VMREAD with no current VMCS: VMfailInvalid (CF = 1), the destination untouched', () => {
    const s = runNested(
      l1Program({
        raw: true,
        setup: [
          '        lidt [host_idtr]',
          '        vmxon [vmxon_ptr]',
          '        mov rax, 0x1234',
          '        vmread rax, VM_EXIT_REASON',
          ...flags('f1'),
          '        mov [r1], rax',
          '        jmp l1_end',
        ],
        data: slots('f1', 'r1'),
      }),
    );
    expect(q(s, 'f1')).toBe(FAIL_INVALID);
    expect(q(s, 'r1')).toBe(0x1234);
  });

  it('VMWRITE to a read-only exit-information field: VMsucceed, as KVM offers L1 "VMWRITE to any supported field"', () => {
    // nested_vmx_setup_misc_data sets VMX_MISC_VMWRITE_SHADOW_RO_FIELDS for L1 unconditionally,
    // so handle_vmwrite writes the field (nested_cpu_has_vmwrite_any_field).
    const s = runNested(
      l1Program({
        handler: [
          '        mov ecx, 0x485                  ; IA32_VMX_MISC as KVM reports it',
          '        rdmsr',
          '        shr eax, 29',
          '        and eax, 1',
          '        mov [m1], rax',
          '        vmwrite VM_EXIT_REASON, 5',
          ...flags('f1'),
          '        vmread rax, VM_EXIT_REASON',
          '        mov [r1], rax',
        ],
        data: slots('m1', 'f1', 'r1'),
      }),
    );
    expect(q(s, 'm1')).toBe(1);
    expect(q(s, 'f1')).toBe(FIXED);
    expect(q(s, 'r1')).toBe(5);
  });
});

describe('VMLAUNCH and VMRESUME that fail their checks (VMfailValid, L1 goes on after them)', () => {
  it('VMLAUNCH of a launched vmcs12: error 4', () => {
    const s = runNested(
      l1Program({
        handler: ['        vmlaunch', ...flags('f1'), ...error('e1')],
        data: slots('f1', 'e1'),
      }),
    );
    expect(q(s, 'exit_reason')).toBe(ExitReason.VMCALL); // the first VMLAUNCH entered L2
    expect(q(s, 'f1')).toBe(FAIL_VALID);
    expect(q(s, 'e1')).toBe(4);
    expect(l2Entries(s).length).toBe(1);
  });

  it('VMRESUME of a vmcs12 never launched: error 5', () => {
    const s = runNested(
      l1Program({
        raw: true,
        setup: [
          '        lidt [host_idtr]',
          '        vmxon [vmxon_ptr]',
          '        vmclear [vmcs_ptr]',
          '        vmptrld [vmcs_ptr]',
          '        vmresume',
          ...flags('f1'),
          ...error('e1'),
          '        jmp l1_end',
        ],
        data: slots('f1', 'e1'),
      }),
    );
    expect(q(s, 'f1')).toBe(FAIL_VALID);
    expect(q(s, 'e1')).toBe(5);
    expect(l2Entries(s)).toEqual([]);
  });

  it('VMLAUNCH with NMI-window exiting but no virtual NMIs: error 7 (invalid control fields)', () => {
    const s = runNested(
      l1Program({
        setup: [
          '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING',
          '        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING',
        ],
      }),
    );
    expect(q(s, 'fail_flags')).toBe(FAIL_VALID);
    expect(q(s, 'insn_error')).toBe(7);
    expect(q(s, 'exit_reason')).toBe(-1); // never entered, never exited
    expect(l2Entries(s)).toEqual([]);
    expect(s.sim.stateAt(s.totalSteps).kvm!.nested.guestMode).toBe(false);
  });

  it('VMLAUNCH in a MOV-SS shadow: error 26 (checked before the launch state and the controls)', () => {
    const s = runNested(
      l1Program({
        setup: [
          '        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING', // would be error 7
          '        xor eax, eax',
          '        mov ss, eax',
        ],
      }),
    );
    expect(q(s, 'fail_flags')).toBe(FAIL_VALID);
    expect(q(s, 'insn_error')).toBe(26);
  });

  it('VMLAUNCH with a non-canonical HOST_RIP: error 8 (invalid host state)', () => {
    const s = runNested(l1Program({ setup: ['        vmwrite HOST_RIP, 0x800000000000'] }));
    expect(q(s, 'fail_flags')).toBe(FAIL_VALID);
    expect(q(s, 'insn_error')).toBe(8);
    expect(l2Entries(s)).toEqual([]);
  });

  it('"save VMX-preemption timer value" without the timer: error 7', () => {
    const s = runNested(
      l1Program({ setup: ['        vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER'] }),
    );
    expect(q(s, 'insn_error')).toBe(7);
    expect(l2Entries(s)).toEqual([]);
  });
});

describe('a VM entry that fails on invalid guest state: exit 0x80000021 to L1', () => {
  // L2 first exits with an acknowledged interrupt (VM_EXIT_INTR_INFO 0x80000030). L1 then
  // points GUEST_RIP elsewhere, writes GUEST_RFLAGS = 0 (bit 1 must be 1) and VMRESUMEs.
  const s = runNested(
    l1Program({
      setup: [
        '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK',
        '        vmwrite VM_EXIT_CONTROLS, VM_EXIT_ACK_INTR_ON_EXIT',
      ],
      l2: ['        nop', 'l2_work: work 20000', '        vmcall', 'l2_other: vmcall'],
      handler: [
        '        vmwrite GUEST_RIP, l2_other',
        '        vmwrite GUEST_RFLAGS, 0',
        '        vmwrite HOST_RIP, l1_fail',
        '        vmresume',
        ...flags('fall_through'),
        '        jmp l1_end',
        'l1_fail:',
        ...flags('f2'),
        '        vmread rax, VM_EXIT_REASON',
        '        mov [r2], rax',
        '        vmread rax, EXIT_QUALIFICATION',
        '        mov [q2], rax',
        '        vmread rax, VM_EXIT_INTR_INFO',
        '        mov [i2], rax',
        '        vmread rax, IDT_VECTORING_INFO_FIELD',
        '        mov [v2], rax',
        '        vmread rax, GUEST_RIP',
        '        mov [rip2], rax',
        '        vmread rax, GUEST_RFLAGS',
        '        mov [rfl2], rax',
      ],
      data: slots('fall_through', 'f2', 'r2', 'q2', 'i2', 'v2', 'rip2', 'rfl2'),
    }),
    { events: [{ at: { level: 1, label: 'l2_work', after: 500 }, target: 1, irq: 0x30 }] },
  );
  const exits = l1Exits(s);

  it('the VMRESUME passes its VMfail checks, so L1 does not fall through; it resumes at HOST_RIP with RFLAGS 0x2', () => {
    expect(q(s, 'fall_through')).toBe(-1);
    expect(q(s, 'f2')).toBe(FIXED);
    expect(exits.map((e) => [e.reason, e.how])).toEqual([
      [ExitReason.EXTERNAL_INTERRUPT, 'check_nested_events'],
      [0x80000021, 'entry_failure'],
    ]);
    expect(vmcs01(s, exits[1].step, F.GUEST_RIP)).toBe(lbl(s, 'l1_fail'));
    expect(vmcs01(s, exits[1].step, F.GUEST_RFLAGS)).toBe(FIXED);
  });

  it('only the exit reason and the qualification are written', () => {
    expect(q(s, 'r2')).toBe(0x80000021);
    expect(q(s, 'q2')).toBe(0);
    // The other exit-information fields keep the previous exit's values.
    expect(q(s, 'i2')).toBe(0x80000030);
    expect(q(s, 'v2')).toBe(0);
    // No guest state is saved: the fields hold what L1 wrote.
    expect(q(s, 'rip2')).toBe(lbl(s, 'l2_other'));
    expect(q(s, 'rfl2')).toBe(0);
  });

  it('L2 is never entered for it', () => {
    expect(l2Entries(s).length).toBe(1);
    expect(decisions(s, Fn.nested_vmx_entry_failure).length).toBe(1);
    expect(s.sim.stateAt(exits[1].step).vmx.current).toBe(0x2000); // vmcs01
  });
});

describe('a first VMLAUNCH that fails on guest state leaves vmcs12 not launched', () => {
  // prepare_vmcs12: "On VM-Exit due to a failed VM-Entry, the VMCS isn't marked launched".
  const s = runNested(
    l1Program({
      setup: ['        vmwrite GUEST_RFLAGS, 0'],
      handler: ['        vmresume', ...flags('f1'), ...error('e1')],
      data: slots('f1', 'e1'),
    }),
  );

  it('exit 0x80000021 to L1, then its VMRESUME fails with error 5', () => {
    expect(q(s, 'exit_reason')).toBe(0x80000021);
    expect(l1Exits(s).map((e) => e.how)).toEqual(['entry_failure']);
    expect(q(s, 'f1')).toBe(FAIL_VALID);
    expect(q(s, 'e1')).toBe(5);
    expect(l2Entries(s)).toEqual([]);
  });
});

describe('VMX instructions before VMXON: #UD injected into L1', () => {
  const s = runNested(
    l1Program({
      raw: true,
      hostGates: ['        .intgate 6, l1_ud'],
      setup: ['        lidt [host_idtr]', 'ud_here: vmptrld [vmcs_ptr]', '        jmp l1_end'],
      data: [
        'l1_ud:  mov rax, [rsp]',
        '        mov [ud_rip], rax',
        '        cli',
        '        hlt',
        ...slots('ud_rip'),
      ],
    }),
  );

  it('L0 queues #UD instead of emulating the instruction', () => {
    const d = firstDecision(s, Fn.handle_vmptrld);
    expect(d.d2).toBe(3); // the #UD outcome
    const st = s.sim.stateAt(d.step).kvm!;
    expect(st.nested.vmxon).toBe(false);
    expect(st.nested.currentVmptr).toBe(-1);
    expect(st.exceptionPending).toBe(true);
    expect(st.exceptionVector).toBe(6);
  });

  it('the next entry into L1 injects it (0x80000306) and L1 takes it at the faulting instruction', () => {
    const inj = hwEntries(s).find((e) => e.d0 === 0x80000306);
    expect(inj?.into).toBe(L1);
    expect(inj?.d2).toBe(lbl(s, 'l1_ud'));
    expect(q(s, 'ud_rip')).toBe(lbl(s, 'ud_here')); // a fault: the return RIP is the VMPTRLD
    expect(deliveriesOf(s, L2)).toEqual([]);
  });
});
