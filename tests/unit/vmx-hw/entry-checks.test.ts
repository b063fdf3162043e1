// The checks VM entry makes before it loads the guest: on the VMX controls and the VM-entry
// interruption-information field (VMfailValid, VM-instruction error 7: SDM Vol. 3C "Checks on
// VMX Controls"; facts §1.1–1.6, KUT test_nmi_ctrls, test_vmx_preemption_timer,
// test_invalid_event_injection) and on the guest's non-register state (a VM-entry failure,
// exit reason 0x80000021: SDM "Checks on Guest Non-Register State", "Checks on Guest RIP and
// RFLAGS"; facts §1.6, §1.8).
import { describe, expect, it } from 'vitest';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { EventKind, RF, cpu, label, open, reg, rows, scenarioDoc } from '../helpers';
import { type VmxProgram, entries, exits, field, info, runVmx, stepAt, vmxProgram } from './vmx-helpers';

/** Gates for every exception vector and 0x20/0x80 in the guest IDT: all go to `gh`. */
const GUEST_GATES = [...Array.from({ length: 32 }, (_, v) => v), 0x20, 0x80].map(
  (v) => `        .intgate ${v}, gh`,
);

/** A VMLAUNCH with `setup`; `gh` (every gate) and the guest both make a hypercall. */
function launch(setup: string[]) {
  return runVmx({
    guestIdt: GUEST_GATES,
    setup,
    failed: ['        vmread r8, VM_INSTRUCTION_ERROR'],
    host: ['        vmread r9, VM_EXIT_REASON'],
    extra: ['gh:     vmcall'],
  });
}

/** The VMLAUNCH failed with VMfailValid(7): ZF=1, error 7, no VM entry and no VM exit. */
function expectInvalidControl(s: ReturnType<typeof launch>) {
  expect(cpu(s, stepAt(s, 'launch')).rflags & (RF.CF | RF.ZF)).toBe(RF.ZF);
  expect(field(s, 'VM_INSTRUCTION_ERROR')).toBe(7);
  expect(reg(s, 'r8')).toBe(7n);
  expect(entries(s)).toEqual([]);
  expect(exits(s)).toEqual([]);
  expect(s.view(s.totalSteps).vmx.vmcs[0].launched).toBe(false);
}

/** The VMLAUNCH entered the guest: it ran until its VMCALL (or the MTF exit type 7 asks for). */
function expectEntered(s: ReturnType<typeof launch>, reason = 18) {
  expect(field(s, 'VM_INSTRUCTION_ERROR')).toBe(0);
  expect(entries(s)).toHaveLength(1);
  expect(exits(s).map((e) => e.reason)).toEqual([reason]);
}

describe('checks on the VM-execution, VM-exit and VM-entry controls: VMfailValid(7)', () => {
  it.each([
    ['"virtual NMIs" without "NMI exiting"', ['vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_VIRTUAL_NMIS']],
    [
      '"NMI-window exiting" without "virtual NMIs"',
      [
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING',
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING',
      ],
    ],
    [
      '"save VMX-preemption timer value" without the timer',
      ['vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER'],
    ],
    [
      'an unsupported pin-based control (posted interrupts)',
      ['vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_POSTED_INTR'],
    ],
    [
      'an unsupported primary control (TPR shadow)',
      ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_TPR_SHADOW'],
    ],
    [
      'an unsupported primary control (tertiary controls)',
      ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_ACTIVATE_TERTIARY_CONTROLS'],
    ],
    [
      'a secondary control (none is supported) with "activate secondary controls"',
      [
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS',
        'vmwrite SECONDARY_VM_EXEC_CONTROL, 1',
      ],
    ],
    ['an unsupported exit control (clear IA32_BNDCFGS)', ['vmwrite VM_EXIT_CONTROLS, VM_EXIT_CLEAR_BNDCFGS']],
    ['an unsupported entry control (entry to SMM)', ['vmwrite VM_ENTRY_CONTROLS, VM_ENTRY_SMM']],
  ])('%s', (_, setup) => {
    expectInvalidControl(launch(setup));
  });

  it.each([
    [
      'NMI exiting + virtual NMIs',
      ['vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS'],
    ],
    [
      'NMI exiting + virtual NMIs + NMI-window exiting (on an NMI-blocked guest)',
      [
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING',
        'vmwrite GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI',
      ],
    ],
    [
      'the timer with save-timer (a long timer)',
      [
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_VMX_PREEMPTION_TIMER',
        'vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER | VM_EXIT_ACK_INTR_ON_EXIT',
        'vmwrite VMX_PREEMPTION_TIMER_VALUE, 100000',
      ],
    ],
    [
      '"activate secondary controls" with all secondary controls 0',
      ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS'],
    ],
    [
      'a secondary control while secondary controls are not activated',
      ['vmwrite SECONDARY_VM_EXEC_CONTROL, 1'],
    ],
  ])('valid: %s', (_, setup) => {
    expectEntered(launch(setup));
  });
});

describe('checks on VM_ENTRY_INTR_INFO_FIELD: VMfailValid(7)', () => {
  const inject = (value: number, extra: string[] = []) => [
    `vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x${value.toString(16)}`,
    'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF',
    ...extra,
  ];
  const len = (n: number) => [`vmwrite VM_ENTRY_INSTRUCTION_LEN, ${n}`];
  const err = (n: number) => [`vmwrite VM_ENTRY_EXCEPTION_ERROR_CODE, ${n}`];

  const invalid: [string, number, string[]][] = [
    ['type 1 (reserved)', info(1, 0x20), []],
    ['type 7 (other event) with vector 1', info(7, 1), []],
    ['type 7 with vector 2', info(7, 2), []],
    ['NMI with vector 3', info(2, 3), []],
    ['NMI with vector 0', info(2, 0), []],
    ['hardware exception with vector 32', info(3, 32), []],
    ['hardware exception with vector 255', info(3, 255), []],
    ...[8, 10, 11, 12, 13, 14, 17].map((v): [string, number, string[]] => [
      `#${v} without "deliver error code"`,
      info(3, v),
      [],
    ]),
    ...[0, 1, 3, 6, 7, 9, 16, 18, 31].map((v): [string, number, string[]] => [
      `hardware exception ${v} with "deliver error code"`,
      info(3, v, true),
      [],
    ]),
    ['an external interrupt with "deliver error code"', info(0, 0x20, true), []],
    ['an NMI with "deliver error code"', info(2, 2, true), []],
    ['a software interrupt with "deliver error code"', info(4, 0x80, true), len(2)],
    ['a software exception (#BP) with "deliver error code"', info(6, 3, true), len(1)],
    ['reserved bit 12 set', (info(0, 0x20) | 0x1000) >>> 0, []],
    ['reserved bit 30 set', (info(0, 0x20) | 0x40000000) >>> 0, []],
    ['reserved bit 13 (FRED "nested exception") on a #GP', (info(3, 13, true) | 0x2000) >>> 0, []],
    ['error code with bit 16 set', info(3, 13, true), err(0x10000)],
    ['error code with bit 31 set', info(3, 14, true), err(0x80000000)],
    ['a software interrupt with length 16', info(4, 0x80), len(16)],
    ['a privileged software exception with length 16', info(5, 1), len(16)],
    ['a software exception with length 0xffffffff', info(6, 3), len(0xffffffff)],
  ];
  it.each(invalid)('%s', (_, value, extra) => {
    expectInvalidControl(launch(inject(value, extra)));
  });

  it('valid: type 7 vector 0 (pending MTF): entered, then an MTF exit', () => {
    expectEntered(launch(inject(info(7, 0))), 37);
  });

  const valid: [string, number, string[]][] = [
    ['an external interrupt', info(0, 0x20), []],
    ['an NMI', info(2, 2), []],
    ['#GP with its error code', info(3, 13, true), err(0x1234)],
    ['#PF with error code bit 15 set (only bits 31:16 are reserved)', info(3, 14, true), err(0x8000)],
    ['#DF with error code 0', info(3, 8, true), []],
    ['#AC with its error code', info(3, 17, true), err(0)],
    ['hardware exception 31', info(3, 31), []],
    ['a software interrupt with length 15', info(4, 0x80), len(15)],
    ['a software interrupt with length 0 (IA32_VMX_MISC bit 30)', info(4, 0x80), len(0)],
    ['a hardware exception with length 16 (not checked for types 0–3)', info(3, 3), len(16)],
    ['an invalid type with the valid bit 0 (nothing is injected)', 0x00000100, []],
  ];
  it.each(valid)('valid: %s', (_, value, extra) => {
    expectEntered(launch(inject(value, extra)));
  });
});

describe('checks on guest state: VM-entry failure, exit reason 0x80000021', () => {
  function failed(s: ReturnType<typeof launch>) {
    const x = exits(s);
    expect(x).toHaveLength(1);
    expect(x[0].reason).toBe(0x80000021);
    expect(entries(s)).toEqual([]);
    // reported like a VM exit: host state loaded, RIP = HOST_RIP, RFLAGS = 0x2
    const after = s.view(x[0].step).levels[0].cpu;
    expect(after.rip).toBe(s.compiled.programs[0].labels.exit_handler);
    expect(after.rflags).toBe(RF.FIXED);
    expect(after.running).toBe(true);
    expect(field(s, 'VM_EXIT_REASON')).toBe(0x80000021);
    expect(field(s, 'EXIT_QUALIFICATION')).toBe(0);
    expect(reg(s, 'r9')).toBe(0x80000021n);
    // the entry failed before the VMCS became launched: VMLAUNCH is still the right instruction
    expect(s.view(s.totalSteps).vmx.vmcs[0].launched).toBe(false);
    expect(s.view(s.totalSteps).vmx.nonRoot).toBe(false);
  }

  const IF = 'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF';
  const intr = (v: number) => `vmwrite GUEST_INTERRUPTIBILITY_INFO, ${v}`;
  const act = (v: number) => `vmwrite GUEST_ACTIVITY_STATE, ${v}`;
  const inj = (v: number) => `vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x${v.toString(16)}`;
  const VNMI = 'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS';

  const invalid: [string, string[]][] = [
    ['RFLAGS bit 1 = 0', ['vmwrite GUEST_RFLAGS, 0']],
    ['RFLAGS reserved bit 3', ['vmwrite GUEST_RFLAGS, 0xa']],
    ['RFLAGS reserved bit 15', ['vmwrite GUEST_RFLAGS, 0x8002']],
    ['RFLAGS reserved bit 22', ['vmwrite GUEST_RFLAGS, 0x400002']],
    ['an external interrupt injected with IF = 0', [inj(info(0, 0x20))]],
    ['blocking by STI and by MOV SS together', [IF, intr(3)]],
    ['blocking by STI with IF = 0', [intr(1)]],
    ['interruptibility reserved bit 5', [intr(0x20)]],
    ['an external interrupt injected in an STI shadow', [IF, intr(1), inj(info(0, 0x20))]],
    ['an external interrupt injected in a MOV-SS shadow', [IF, intr(2), inj(info(0, 0x20))]],
    ['an NMI injected in a MOV-SS shadow', [intr(2), inj(info(2, 2))]],
    ['an NMI injected with virtual NMIs and virtual-NMI blocking (bit 3)', [VNMI, intr(8), inj(info(2, 2))]],
    ['activity HLT with an injected #GP', [act(1), inj(info(3, 13, true))]],
    [
      'activity HLT with an injected #BP (software exception)',
      [act(1), inj(info(6, 3)), 'vmwrite VM_ENTRY_INSTRUCTION_LEN, 1'],
    ],
    [
      'activity HLT with an injected software interrupt',
      [act(1), inj(info(4, 0x80)), 'vmwrite VM_ENTRY_INSTRUCTION_LEN, 2'],
    ],
    ['activity HLT with an injected #UD', [act(1), inj(info(3, 6))]],
    ['activity shutdown with an injected external interrupt', [IF, act(2), inj(info(0, 0x20))]],
    ['activity wait-for-SIPI (not supported)', [act(3)]],
    ['activity HLT with blocking by STI', [IF, act(1), intr(1)]],
    ['activity HLT with blocking by MOV SS', [act(1), intr(2)]],
  ];
  it.each(invalid)('%s', (_, setup) => {
    failed(launch(setup));
  });

  const valid: [string, string[]][] = [
    ['an external interrupt injected with IF = 1', [IF, inj(info(0, 0x20))]],
    ['blocking by STI with IF = 1', [IF, intr(1)]],
    ['an NMI injected in an STI shadow (the lab allows it; CPU-specific)', [IF, intr(1), inj(info(2, 2))]],
    ['an NMI injected with virtual NMIs and no blocking', [VNMI, inj(info(2, 2))]],
    ['an NMI injected without virtual NMIs while blocked by NMI', [intr(8), inj(info(2, 2))]],
    ['activity HLT with an injected external interrupt', [IF, act(1), inj(info(0, 0x20))]],
    ['activity HLT with an injected NMI', [act(1), inj(info(2, 2))]],
    ['activity HLT with an injected #DB', [act(1), inj(info(3, 1))]],
    ['activity HLT with an injected #MC', [act(1), inj(info(3, 18))]],
  ];
  it.each(valid)('valid: %s', (_, setup) => {
    expectEntered(launch(setup));
  });

  it('after a failure the host can fix the field and VMLAUNCH again', () => {
    const s = runVmx({
      setup: ['vmwrite GUEST_RFLAGS, 0'],
      host: [
        '        vmread rax, VM_EXIT_REASON',
        '        cmp rax, EXIT_REASON_VMCALL',
        '        je done',
        '        vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED',
        'again:  vmlaunch',
        'done:',
      ],
    });
    expect(exits(s).map((e) => e.reason)).toEqual([0x80000021, 18]);
    expect(entries(s).map((e) => e.rip)).toEqual([s.compiled.programs[0].labels.again]);
  });
});

describe('"VM-Entry Failures During or After Loading Guest State": only the exit reason and qualification are written', () => {
  // The guest's INT3 exits (#BP in the exception bitmap: VM_EXIT_INTR_INFO 0x80000603, length
  // 1). The host then asks for an external interrupt 0x20 and VMRESUMEs with a bad RFLAGS: the
  // entry fails. After repairing RFLAGS (IF = 1) the same VMRESUME delivers 0x20.
  function retryProgram(): VmxProgram {
    return {
      guestIdt: ['        .intgate 0x20, guest_irq'],
      setup: ['        vmwrite EXCEPTION_BITMAP, 8', '        mov r15, 0'],
      host: [
        '        inc r15',
        '        cmp r15, 1',
        '        jne second',
        '        vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000020',
        '        vmread rax, GUEST_RIP',
        '        add rax, 1',
        '        vmwrite GUEST_RIP, rax',
        '        vmwrite GUEST_RFLAGS, 0',
        'bad:    vmresume',
        'second: cmp r15, 2',
        '        jne done',
        // What the host sees after the failure (the same bare or under KVM, which emulates it).
        '        vmread r8, VM_EXIT_INTR_INFO',
        '        vmread r9, VM_EXIT_INSTRUCTION_LEN',
        '        vmread r10, VM_ENTRY_INTR_INFO_FIELD',
        '        vmread r11, GUEST_RFLAGS',
        '        vmread r12, VM_EXIT_REASON',
        '        vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF',
        'good:   vmresume',
        'done:',
      ],
      guest: ['        int3', '        vmcall'],
      extra: ['guest_irq: vmcall'],
    };
  }
  function retry() {
    return runVmx(retryProgram());
  }
  const SEEN_AFTER_FAILURE = { r8: 0x80000603n, r9: 1n, r10: 0x80000020n, r11: 0n, r12: 0x80000021n };

  it('the failure leaves the other exit-information fields, the injection and the guest state as they were', () => {
    const s = retry();
    const x = exits(s);
    expect(x.map((e) => e.reason)).toEqual([0, 0x80000021, 18]);
    const at = x[1].step;
    expect(field(s, 'VM_EXIT_REASON', at)).toBe(0x80000021);
    expect(field(s, 'EXIT_QUALIFICATION', at)).toBe(0);
    // Left from the #BP exit:
    expect(field(s, 'VM_EXIT_INTR_INFO', at)).toBe(0x80000603);
    expect(field(s, 'VM_EXIT_INSTRUCTION_LEN', at)).toBe(1);
    // The valid bit of the injection is not cleared:
    expect(field(s, 'VM_ENTRY_INTR_INFO_FIELD', at)).toBe(0x80000020);
    // No guest state is saved: GUEST_RIP and GUEST_RFLAGS are what the host wrote.
    expect(field(s, 'GUEST_RIP', at)).toBe(label(s, 'guest') + 1);
    expect(field(s, 'GUEST_RFLAGS', at)).toBe(0);
    // The VMCS was launched by the first entry and stays so: VMRESUME is still the instruction.
    expect(s.view(at).vmx.vmcs[0].launched).toBe(true);
    expect(s.view(at).explanation.text).toMatch(/EXIT_QUALIFICATION only: .*valid bit stays set/);
    for (const [r, v] of Object.entries(SEEN_AFTER_FAILURE)) expect(reg(s, r as 'r8'), r).toBe(v);
  });

  it('under KVM (prepare_vmcs12 on a failed nested entry) L1 sees the same fields and gets its injection', () => {
    const s = open(nestUnderKvm(scenarioDoc(vmxProgram(retryProgram()), [], { limits: { steps: 20000 } })));
    const l1 = s.view(s.totalSteps).levels[1].cpu;
    const l1Reg = (name: string) => BigInt(l1.regs.find((x) => x.name === name)!.value);
    for (const [r, v] of Object.entries(SEEN_AFTER_FAILURE)) expect(l1Reg(r), r).toBe(v);
    expect(l1Reg('r15')).toBe(3n);
    const handler = s.compiled.programs[s.compiled.lanes[1].program].labels.guest_irq;
    const l2Exits = rows(s).filter((r) => r.kind === EventKind.VMEXIT && s.sim.trace.level[r.step - 1] === 2);
    expect(l2Exits.at(-1)!.rip).toBe(handler);
  });

  it('so the repaired VMRESUME delivers the injection the failed one carried', () => {
    const s = retry();
    const e = entries(s);
    expect(e.map((x) => x.rip)).toEqual([label(s, 'launch'), label(s, 'good')]);
    expect(e[1].injected).toBe(0x80000020);
    expect(e[1].guestRip).toBe(label(s, 'guest_irq'));
    // The handler ran: its VMCALL is the exit that follows.
    expect(exits(s)[2].rip).toBe(label(s, 'guest_irq'));
    // After the exit that follows the delivery, the valid bit is cleared as on any VM exit.
    expect(field(s, 'VM_ENTRY_INTR_INFO_FIELD')).toBe(0x20);
    expect(field(s, 'VM_EXIT_INSTRUCTION_LEN')).toBe(3);
  });
});

describe('host-state checks (VMfailValid, error 8: SDM "Checks on the Host-State Area")', () => {
  it.each([
    ['a non-canonical HOST_RIP', ['vmwrite HOST_RIP, 0x800000000000'], /HOST_RIP is not canonical/],
    ['a non-canonical HOST_RSP', ['vmwrite HOST_RSP, 0x800000000000'], /HOST_RSP is not canonical/],
    ['a host selector with RPL bits', ['vmwrite HOST_CS_SELECTOR, 0x0b'], /RPL or TI/],
    ['HOST_CR3 beyond MAXPHYADDR (bit 36)', ['mov rax, 0x1000000000', 'vmwrite HOST_CR3, rax'], /HOST_CR3/],
  ])('%s fails VMLAUNCH with error 8, and the explanation says why', (_, setup, why) => {
    const s = launch(setup);
    const at = stepAt(s, 'launch');
    expect(cpu(s, at).rflags & (RF.CF | RF.ZF)).toBe(RF.ZF);
    expect(field(s, 'VM_INSTRUCTION_ERROR')).toBe(8);
    expect(entries(s)).toEqual([]);
    expect(s.view(at).explanation.text).toMatch(why);
    expect(s.view(at).explanation.cite).toMatch(/Checks on the Host-State Area/);
  });

  it('a canonical host state with RPL-0 selectors enters', () => {
    expectEntered(launch(['vmwrite HOST_CS_SELECTOR, 0x08', 'vmwrite HOST_RSP, 0x7fffffff0000']));
  });

  it('CR3 within the 36-bit physical-address width enters (host and guest)', () => {
    expectEntered(launch(['mov rax, 0xffffff000', 'vmwrite HOST_CR3, rax', 'vmwrite GUEST_CR3, rax']));
  });

  it('GUEST_CR3 beyond MAXPHYADDR fails the entry with exit reason 0x80000021', () => {
    const s = launch(['mov rax, 0x1000000000', 'vmwrite GUEST_CR3, rax']);
    expect(exits(s).map((e) => e.reason)).toEqual([0x80000021]);
    expect(s.view(exits(s)[0].step).explanation.text).toMatch(/GUEST_CR3/);
  });

  it('a non-canonical GUEST_RIP fails the entry with exit reason 0x80000021', () => {
    const s = launch(['vmwrite GUEST_RIP, 0x800000000000']);
    expect(exits(s).map((e) => e.reason)).toEqual([0x80000021]);
    expect(s.view(exits(s)[0].step).explanation.text).toMatch(/GUEST_RIP is not canonical/);
  });
});
