// KVM and debug registers: handle_dr with MOV-DR exiting dropped lazily and set again by
// vmx_sync_dirty_debug_regs (vmx/vmx.c), IA32_DEBUGCTL emulation, the nested reflection of
// MOV-DR exits (nested_vmx_l1_wants_exit), prepare_vmcs02 / sync_vmcs02_to_vmcs12 of DR7,
// IA32_DEBUGCTL and the pending debug exceptions, and nested_vmx_check_guest_state reusing
// the hardware model's checks.
import { describe, expect, it } from 'vitest';
import {
  CPU_BASED,
  ExitReason,
  F,
  Fn,
  L1,
  L2,
  decisions,
  hwExits,
  l1Exits,
  l1Program,
  lbl,
  q,
  runNested,
  vmcs01,
  vmcs02,
  vmcs12,
} from './nested-helpers';

const MOV_DR = CPU_BASED.CPU_BASED_MOV_DR_EXITING;

describe("KVM's own guest (L1) and MOV DR", () => {
  const prog = l1Program({
    raw: true,
    setup: [
      '        mov rax, 0x1234',
      'first:  mov dr1, rax',
      '        mov rbx, dr1',
      '        mov [seen], rbx',
      '        cpuid', // an exit: MOV-DR exiting is set again after it
      'again:  mov rcx, dr1',
      '        jmp l1_end',
    ],
    data: ['seen: .dq 0'],
  });

  it('the first MOV DR exits (29), handle_dr drops MOV-DR exiting and the MOV runs again without an exit', () => {
    const s = runNested(prog);
    const x = hwExits(s, L1);
    expect(x.map((e) => e.d0)).toEqual([
      ExitReason.DR_ACCESS,
      ExitReason.CPUID,
      ExitReason.DR_ACCESS,
      ExitReason.HLT,
    ]);
    const [dr] = decisions(s, Fn.handle_dr);
    expect(dr.d1).toBe(1 | (0 << 8)); // MOV to DR1 from RAX
    expect(dr.d2).toBe(0);
    expect(vmcs01(s, dr.step, F.CPU_BASED_VM_EXEC_CONTROL) & MOV_DR).toBe(0);
    // the MOV to DR1 and the MOV from DR1 after it ran in the guest
    expect(q(s, 'seen')).toBe(0x1234);
    // after the CPUID exit, vmx_sync_dirty_debug_regs set the control again: the next MOV exits
    const [sync] = decisions(s, Fn.vmx_sync_dirty_debug_regs);
    expect(sync.step).toBeGreaterThan(x[1].step);
    expect(vmcs01(s, sync.step, F.CPU_BASED_VM_EXEC_CONTROL) & MOV_DR).toBe(MOV_DR);
    expect(x[2].rip).toBe(lbl(s, 'again'));
  });

  it('with DR7.GD the MOV DR exit becomes an injected #DB with DR6.BD (handle_dr)', () => {
    const s = runNested(
      l1Program({
        raw: true,
        hostGates: ['        .intgate 1, l1_db'],
        setup: [
          '        lidt [host_idtr]',
          '        mov eax, 0x2400',
          '        mov dr7, rax', // the first MOV DR: exits, runs again, sets GD
          '        cpuid', // MOV-DR exiting is on again
          'gd:     mov rbx, dr6',
          '        jmp l1_end',
          'l1_db:  mov rax, dr6',
          '        mov [db_dr6], rax',
          '        mov rax, dr7',
          '        mov [db_dr7], rax',
          '        jmp l1_end',
        ],
        data: ['db_dr6: .dq 0', 'db_dr7: .dq 0'],
      }),
    );
    const gd = decisions(s, Fn.handle_dr).find((d) => d.d2 === 1)!;
    expect(gd).toBeDefined();
    expect(q(s, 'db_dr6') & 0x2000).toBe(0x2000);
    expect(q(s, 'db_dr7') & 0x2000).toBe(0);
  });

  it('IA32_DEBUGCTL: WRMSR drops BTF and LBR quietly (vmx_get_supported_debugctl offers neither), RDMSR returns 0, a reserved bit is #GP', () => {
    const s = runNested(
      l1Program({
        raw: true,
        hostGates: ['        .intgate 13, l1_gp'],
        setup: [
          '        lidt [host_idtr]',
          '        mov ecx, 0x1d9',
          '        mov eax, 3', // LBR and BTF are dropped (vmx_is_valid_debugctl ignores them)
          '        xor edx, edx',
          '        wrmsr',
          '        rdmsr',
          '        mov [ctl], rax',
          '        mov eax, 0x40',
          '        wrmsr',
          '        jmp l1_end',
          'l1_gp:  inc qword [gps]',
          '        jmp l1_end',
        ],
        data: ['ctl: .dq -1', 'gps: .dq 0'],
      }),
    );
    expect(decisions(s, Fn.vmx_set_debugctl)[0].d1).toBe(3);
    expect(q(s, 'ctl')).toBe(0);
    expect(q(s, 'gps')).toBe(1);
  });
});

describe('RF for an exception KVM injects', () => {
  it('the #GP KVM injects for an MSR it does not emulate pushes RF = 1, as on bare metal', () => {
    const s = runNested(
      l1Program({
        raw: true,
        hostGates: ['        .intgate 13, l1_gp'],
        setup: [
          '        lidt [host_idtr]',
          '        mov ecx, 0x12345',
          '        rdmsr',
          '        jmp l1_end',
          'l1_gp:  mov rax, [rsp+24]',
          '        mov [gp_rflags], rax',
          '        jmp l1_end',
        ],
        data: ['gp_rflags: .dq 0'],
      }),
    );
    expect(decisions(s, Fn.inject_gp)).toHaveLength(1);
    expect(q(s, 'gp_rflags') & 0x10000).toBe(0x10000);
  });
});

describe('nested: MOV-DR exits of L2', () => {
  const l2 = ['        mov rax, 0x55', 'l2_dr: mov dr2, rax', '        mov [l2_seen], rax', '        vmcall'];

  it('vmcs12 MOV-DR exiting: the exit is reflected to L1 with its qualification', () => {
    const s = runNested(
      l1Program({
        setup: ['        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MOV_DR_EXITING'],
        l2,
        data: ['l2_seen: .dq 0'],
      }),
    );
    const [e] = l1Exits(s);
    expect(e).toMatchObject({ reason: ExitReason.DR_ACCESS, how: 'reflect' });
    expect(vmcs12(s, e.step, F.EXIT_QUALIFICATION)).toBe(2);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_dr'));
    expect(q(s, 'exit_reason')).toBe(ExitReason.DR_ACCESS);
  });

  it('without it L0 handles the exit for L2 (handle_dr on vmcs02) and L1 sees only the VMCALL', () => {
    const s = runNested(l1Program({ l2, data: ['l2_seen: .dq 0'] }));
    const x = hwExits(s, L2);
    expect(x[0].d0).toBe(ExitReason.DR_ACCESS);
    const [dr] = decisions(s, Fn.handle_dr);
    expect(vmcs02(s, dr.step, F.CPU_BASED_VM_EXEC_CONTROL) & MOV_DR).toBe(0);
    expect(l1Exits(s).map((e) => e.reason)).toEqual([ExitReason.VMCALL]);
    expect(q(s, 'l2_seen')).toBe(0x55);
  });
});

describe('nested: DR7, IA32_DEBUGCTL and pending debug exceptions through vmcs02', () => {
  it('load debug controls: vmcs02 gets vmcs12 GUEST_DR7/DEBUGCTL; save debug controls brings L2 values back', () => {
    const s = runNested(
      l1Program({
        setup: [
          '        vmwrite VM_ENTRY_CONTROLS, VM_ENTRY_LOAD_DEBUG_CONTROLS',
          '        vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_DEBUG_CONTROLS',
          '        vmwrite GUEST_DR7, 0x401',
          '        vmwrite GUEST_IA32_DEBUGCTL, 2',
        ],
        l2: ['        mov rax, dr7', '        mov [l2_dr7], rax', '        vmcall'],
        data: ['l2_dr7: .dq 0'],
      }),
    );
    const [e] = l1Exits(s);
    expect(q(s, 'l2_dr7')).toBe(0x401);
    expect(vmcs12(s, e.step, F.GUEST_DR7)).toBe(0x401);
    expect(vmcs12(s, e.step, F.GUEST_IA32_DEBUGCTL)).toBe(2);
    // L1 continues with DR7 400H and IA32_DEBUGCTL 0 (load_vmcs12_host_state)
    expect(vmcs01(s, e.step, F.GUEST_DR7)).toBe(0x400);
    expect(vmcs01(s, e.step, F.GUEST_IA32_DEBUGCTL)).toBe(0);
  });

  it("vmcs12's pending debug exceptions reach L2 (#DB before its first instruction) and a #DB L1 intercepts carries the bits", () => {
    const s = runNested(
      l1Program({
        setup: [
          '        vmwrite EXCEPTION_BITMAP, 2',
          '        vmwrite GUEST_PENDING_DBG_EXCEPTIONS, 0x1002',
        ],
      }),
    );
    const [e] = l1Exits(s);
    expect(e.reason).toBe(ExitReason.EXCEPTION_NMI);
    expect(vmcs12(s, e.step, F.VM_EXIT_INTR_INFO)).toBe(0x80000301);
    expect(vmcs12(s, e.step, F.EXIT_QUALIFICATION)).toBe(2);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2'));
    expect(vmcs12(s, e.step, F.GUEST_PENDING_DBG_EXCEPTIONS)).toBe(0);
  });

  it("a pending #DB reaches L2 before vmcs12's preemption timer of 0, whose exit comes at the #DB handler", () => {
    const s = runNested(
      l1Program({
        guestGates: ['        .intgate 1, l2_db'],
        setup: [
          '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_VMX_PREEMPTION_TIMER',
          '        vmwrite VMX_PREEMPTION_TIMER_VALUE, 0',
          '        vmwrite GUEST_PENDING_DBG_EXCEPTIONS, 0x4000',
        ],
        l2: ['        nop', '        vmcall', 'l2_db:  nop', '        vmcall'],
      }),
    );
    const [e] = l1Exits(s);
    expect(e.reason).toBe(ExitReason.PREEMPTION_TIMER);
    expect(vmcs12(s, e.step, F.GUEST_RIP)).toBe(lbl(s, 'l2_db'));
    expect(vmcs12(s, e.step, F.GUEST_PENDING_DBG_EXCEPTIONS)).toBe(0);
  });

  it.each([
    ['blocking by SMI', ['        vmwrite GUEST_INTERRUPTIBILITY_INFO, 4'], 0],
    ['a reserved pending-debug bit', ['        vmwrite GUEST_PENDING_DBG_EXCEPTIONS, 0x8000'], 0],
    ['the shutdown activity state (KVM offers HLT only)', ['        vmwrite GUEST_ACTIVITY_STATE, 2'], 0],
    [
      'TF = 1 in HLT without BS',
      [
        '        vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_TF',
        '        vmwrite GUEST_ACTIVITY_STATE, 1',
      ],
      0,
    ],
  ])('nested_vmx_check_guest_state: %s fails the nested entry (0x80000021)', (_, setup, qual) => {
    const s = runNested(l1Program({ setup }));
    const [e] = l1Exits(s);
    expect(e.reason).toBe(0x80000021);
    expect(vmcs12(s, e.step, F.EXIT_QUALIFICATION)).toBe(qual);
    expect(hwExits(s, L2)).toEqual([]);
  });
});
