// VM exits that come at instruction boundaries without an instruction or an event causing them:
// the monitor trap flag, the VMX-preemption timer, NMI-window and interrupt-window exiting, and
// their priority among each other and against NMIs and interrupts (SDM Vol. 3C "Monitor Trap
// Flag", "VMX-Preemption Timer", "Other Causes of VM Exits"; Vol. 3A "Priority Among
// Concurrent Events"; facts §1.11, §3.1, §3.5, §3.6).
import { describe, expect, it } from 'vitest';
import { EventKind, label, rows, stepsOf } from '../helpers';
import { entries, exits, field, runVmx } from './vmx-helpers';

const TIMER = 'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_VMX_PREEMPTION_TIMER';
const VNMI = 'PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS';
const IF1 = 'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF';

/** Guest instructions that retired (INSTR records of lane 1). */
const guestInstrs = (s: ReturnType<typeof runVmx>) =>
  stepsOf(s, EventKind.INSTR).filter((r) => s.sim.trace.level[r.step - 1] === 1);

/** Exit reasons and saved guest RIPs, in order. */
const reasonsAndRips = (s: ReturnType<typeof runVmx>) => exits(s).map((e) => [e.reason, e.rip]);

/** After each exit: run `change`, then VMRESUME; `rounds` exits in all. Needs `round: .dq 0`. */
const resumeWith = (rounds: number, change: string[]) => [
  '        inc qword [round]',
  `        cmp qword [round], ${rounds}`,
  '        je done',
  ...change,
  '        vmresume',
  'done:',
];

/** After each exit: turn off the primary control `bit` (set until then) and VMRESUME. */
const resumeClearing = (rounds: number, bit: string) =>
  resumeWith(rounds, [
    '        vmread rax, CPU_BASED_VM_EXEC_CONTROL',
    `        xor rax, ${bit}`,
    '        vmwrite CPU_BASED_VM_EXEC_CONTROL, rax',
  ]);

describe('the monitor trap flag (exit 37)', () => {
  it('without injection: an MTF exit after the first guest instruction', () => {
    const s = runVmx({
      setup: ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG'],
      guest: ['nop', 'nop', 'vmcall'],
    });
    expect(reasonsAndRips(s)).toEqual([[37, label(s, 'guest') + 1]]);
    expect(guestInstrs(s)).toHaveLength(1);
  });

  it('with an injected event: the MTF exit comes after delivery, before the handler runs', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 0x30, h30'],
      setup: [
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG',
        IF1,
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000030',
      ],
      extra: ['h30:    vmcall'],
    });
    expect(reasonsAndRips(s)).toEqual([[37, label(s, 'h30')]]);
    expect(guestInstrs(s)).toEqual([]);
  });

  it('an interrupt delivered at the guest boundary (no injection): the MTF exit follows its delivery', () => {
    // SDM "Monitor Trap Flag" (facts §3.6): a pending event delivered before any instruction
    // makes an MTF VM exit pending on the boundary after the delivery.
    const s = runVmx(
      {
        guestIdt: ['        .intgate 0x30, h30'],
        setup: ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG', IF1],
        guest: ['nop', 'vmcall'],
        extra: ['h30:    vmcall'],
      },
      [{ at: { time: 0 }, irq: 0x30 }],
    );
    const d = rows(s).filter((r) => r.kind === EventKind.DELIVER);
    expect(d.map((r) => [r.d0 & 0xff, r.d2])).toEqual([[0x30, label(s, 'h30')]]);
    expect(reasonsAndRips(s)).toEqual([[37, label(s, 'h30')]]);
    expect(guestInstrs(s)).toEqual([]);
  });

  it('after a fault delivered through the guest IDT: the MTF exit is at the fault handler', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 13, gp_h'],
      setup: [
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG | CPU_BASED_USE_MSR_BITMAPS',
        'vmwrite MSR_BITMAP, msr_bitmap',
      ],
      guest: ['        mov ecx, 0x1234', '        rdmsr ; #GP: no such MSR'],
      extra: ['gp_h:   vmcall'],
    });
    // the MOV retires (MTF exit), then the RDMSR faults and its delivery is followed by one
    expect(reasonsAndRips(s)).toEqual([[37, label(s, 'guest') + 5]]);
    const t = runVmx({
      guestIdt: ['        .intgate 13, gp_h'],
      setup: [
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG | CPU_BASED_USE_MSR_BITMAPS',
        'vmwrite MSR_BITMAP, msr_bitmap',
        'vmwrite GUEST_RIP, bad_rdmsr',
        'mov ecx, 0x1234',
      ],
      extra: ['bad_rdmsr: rdmsr', 'gp_h:   vmcall'],
    });
    expect(reasonsAndRips(t)).toEqual([[37, label(t, 'gp_h')]]);
  });

  it('an instruction that exits (VMCALL) causes no MTF exit', () => {
    const s = runVmx({ setup: ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG'] });
    expect(reasonsAndRips(s)).toEqual([[18, label(s, 'guest')]]);
  });
});

describe('the VMX-preemption timer (exit 52)', () => {
  it('value 0: exits before any guest instruction', () => {
    const s = runVmx({ setup: [TIMER, 'vmwrite VMX_PREEMPTION_TIMER_VALUE, 0'], guest: ['nop', 'vmcall'] });
    expect(reasonsAndRips(s)).toEqual([[52, label(s, 'guest')]]);
    expect(exits(s)[0].step).toBe(entries(s)[0].step + 1);
    expect(guestInstrs(s)).toEqual([]);
  });

  it('value 0 with an injected #DB: the exit comes after the injection, at the handler (GUEST_RIP = handler)', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 1, db_h'],
      setup: [
        TIMER,
        'vmwrite VMX_PREEMPTION_TIMER_VALUE, 0',
        'vmwrite EXCEPTION_BITMAP, 2 ; #DB intercepted: an injected event is not',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_HARD_EXCEPTION | 1',
      ],
      extra: ['db_h:   nop', '        vmcall'],
    });
    expect(entries(s)[0]).toMatchObject({ injected: 0x80000301, guestRip: label(s, 'db_h') });
    expect(reasonsAndRips(s)).toEqual([[52, label(s, 'db_h')]]);
    expect(field(s, 'GUEST_RIP')).toBe(label(s, 'db_h'));
    expect(field(s, 'IDT_VECTORING_INFO_FIELD')).toBe(0);
    expect(guestInstrs(s)).toEqual([]);
  });

  it('value > 0: exits after about value · 2^5 cycles (IA32_VMX_MISC[4:0] = 5)', () => {
    const s = runVmx({
      setup: [TIMER, 'vmwrite VMX_PREEMPTION_TIMER_VALUE, 100'],
      guest: ['work 100000', 'vmcall'],
    });
    const entry = rows(s)[entries(s)[0].step - 2].time; // the TSC when VMLAUNCH began
    const x = exits(s)[0];
    expect([x.reason, x.rip]).toEqual([52, label(s, 'guest')]);
    const at = rows(s)[x.step - 1].time;
    expect(at - entry).toBeGreaterThan(99 * 32);
    expect(at - entry).toBeLessThanOrEqual(100 * 32);
    // the interrupted WORK keeps its remaining cycles in the guest's context
    expect(s.view(x.step).levels[1].cpu.workRemaining).toBe(100000 - (at - entry - 1));
  });

  it('exits from HLT: activity state HLT saved, GUEST_RIP after the HLT', () => {
    const s = runVmx({ setup: [TIMER, 'vmwrite VMX_PREEMPTION_TIMER_VALUE, 10'], guest: ['hlt', 'vmcall'] });
    expect(reasonsAndRips(s)).toEqual([[52, label(s, 'guest') + 1]]);
    expect(field(s, 'GUEST_ACTIVITY_STATE')).toBe(1);
    expect(rows(s)[exits(s)[0].step - 1].time).toBeGreaterThan(9 * 32);
  });

  it('"save VMX-preemption timer value" writes back the remaining value; without it the field keeps its value', () => {
    const program = (save: boolean) =>
      runVmx({
        setup: [
          TIMER,
          'vmwrite VMX_PREEMPTION_TIMER_VALUE, 1000',
          `vmwrite VM_EXIT_CONTROLS, ${save ? 'VM_EXIT_SAVE_VMX_PREEMPTION_TIMER' : 0}`,
        ],
        host: [
          '        vmread rax, VMX_PREEMPTION_TIMER_VALUE',
          '        mov [r12+saved], rax',
          '        add r12, 8',
          '        cmp r12, 16',
          '        je done',
          '        vmread rax, GUEST_RIP',
          '        add rax, 3',
          '        vmwrite GUEST_RIP, rax',
          '        vmresume',
          'done:',
        ],
        guest: ['        work 200', '        vmcall', '        work 100000'],
        extra: ['saved: .dq 0, 0'],
      });
    const s = program(true);
    const saved = s.compiled.programs[0].labels.saved;
    const first = Number(
      s.sim
        .stateAt(s.totalSteps)
        .mems[0].bytes.slice(saved, saved + 4)
        .reduce((a, b, i) => a + b * 256 ** i, 0),
    );
    expect(first).toBeGreaterThanOrEqual(1000 - 8);
    expect(first).toBeLessThan(1000 - 5);
    // the VMRESUME loads the remaining value: it then counts down to 0 and exits
    expect(exits(s).map((e) => e.reason)).toEqual([18, 52]);
    expect(field(s, 'VMX_PREEMPTION_TIMER_VALUE')).toBe(0);
    const k = program(false);
    expect(exits(k).map((e) => e.reason)).toEqual([18, 52]);
    expect(field(k, 'VMX_PREEMPTION_TIMER_VALUE')).toBe(1000);
  });
});

describe('NMI-window exiting (exit 8)', () => {
  const window = (extra: string[]) => [
    `vmwrite PIN_BASED_VM_EXEC_CONTROL, ${VNMI}`,
    'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING',
    ...extra,
  ];

  it('with no virtual-NMI blocking: exits before the first guest instruction', () => {
    const s = runVmx({ setup: window([]), guest: ['nop', 'vmcall'] });
    expect(reasonsAndRips(s)).toEqual([[8, label(s, 'guest')]]);
    expect(guestInstrs(s)).toEqual([]);
  });

  it('blocking by MOV SS holds it for one instruction; so does blocking by STI (the lab holds it)', () => {
    const movss = runVmx({
      setup: window(['vmwrite GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_MOV_SS']),
      guest: ['nop', 'vmcall'],
    });
    expect(reasonsAndRips(movss)).toEqual([[8, label(movss, 'guest') + 1]]);
    const sti = runVmx({
      setup: window([IF1, 'vmwrite GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_STI']),
      guest: ['nop', 'vmcall'],
    });
    expect(reasonsAndRips(sti)).toEqual([[8, label(sti, 'guest') + 1]]);
  });

  it('not while virtual-NMI blocking is in effect: the guest runs to its VMCALL', () => {
    const s = runVmx({
      setup: window(['vmwrite GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI']),
      guest: ['nop', 'vmcall'],
    });
    expect(reasonsAndRips(s)).toEqual([[18, label(s, 'guest') + 1]]);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(8);
  });

  it('an injected NMI blocks virtual NMIs: the window opens at the guest handler’s IRET', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 2, nmi_h'],
      setup: window(['vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | 2']),
      guest: ['nop', 'vmcall'],
      extra: ['nmi_h:  nop', '        nop', '        iretq'],
    });
    expect(reasonsAndRips(s)).toEqual([[8, label(s, 'guest')]]);
    const iret = stepsOf(s, EventKind.IRET);
    expect(iret).toHaveLength(1);
    expect(exits(s)[0].step).toBe(iret[0].step + 1);
    expect(guestInstrs(s)).toHaveLength(2); // the two NOPs of the handler
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(0);
  });

  it('wakes a guest in the HLT activity state (activity HLT saved)', () => {
    const s = runVmx({ setup: window(['vmwrite GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT']) });
    expect(reasonsAndRips(s)).toEqual([[8, label(s, 'guest')]]);
    expect(field(s, 'GUEST_ACTIVITY_STATE')).toBe(1);
  });

  it('does not wake a halted guest with virtual-NMI blocking in effect', () => {
    const s = runVmx({
      setup: window([
        'vmwrite GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT',
        'vmwrite GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI',
      ]),
    });
    expect(exits(s)).toEqual([]);
    expect(s.sim.endReason).toBe('halted');
  });
});

describe('interrupt-window exiting (exit 7)', () => {
  const window = (extra: string[]) => [
    'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING',
    ...extra,
  ];

  it('with IF=1 and no shadow: exits before the first guest instruction', () => {
    const s = runVmx({ setup: window([IF1]), guest: ['nop', 'vmcall'] });
    expect(reasonsAndRips(s)).toEqual([[7, label(s, 'guest')]]);
  });

  it('with IF=0: no exit until STI’s shadow has ended (after the instruction after STI)', () => {
    const s = runVmx({ setup: window([]), guest: ['nop', 'sti', 'nop', 'nop', 'vmcall'] });
    expect(reasonsAndRips(s)).toEqual([[7, label(s, 'guest') + 3]]);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(0);
    expect(field(s, 'GUEST_RFLAGS') & 0x200).toBe(0x200);
  });

  it('STI; STI: only the first STI has a shadow, so the exit follows the second STI', () => {
    const s = runVmx({ setup: window([]), guest: ['sti', 'sti', 'nop', 'vmcall'] });
    expect(reasonsAndRips(s)).toEqual([[7, label(s, 'guest') + 2]]);
  });

  it('a MOV-SS shadow at entry holds it for one instruction', () => {
    const s = runVmx({
      setup: window([IF1, 'vmwrite GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_MOV_SS']),
      guest: ['nop', 'vmcall'],
    });
    expect(reasonsAndRips(s)).toEqual([[7, label(s, 'guest') + 1]]);
  });

  it('not while IF=0: the guest runs to its VMCALL', () => {
    const s = runVmx({ setup: window([]), guest: ['nop', 'nop', 'vmcall'] });
    expect(reasonsAndRips(s)).toEqual([[18, label(s, 'guest') + 2]]);
  });

  it('wakes HLT: STI; HLT halts in the shadow, then exits from HLT', () => {
    const s = runVmx({ setup: window([]), guest: ['sti', 'hlt', 'vmcall'] });
    expect(reasonsAndRips(s)).toEqual([[7, label(s, 'guest') + 2]]);
    expect(field(s, 'GUEST_ACTIVITY_STATE')).toBe(1);
  });
});

describe('priority at the guest’s instruction boundary', () => {
  it('MTF (after an injection) before the preemption timer (value 0)', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 0x30, h30'],
      setup: [
        TIMER,
        'vmwrite VMX_PREEMPTION_TIMER_VALUE, 0',
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG',
        IF1,
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000030',
      ],
      host: resumeClearing(2, 'CPU_BASED_MONITOR_TRAP_FLAG'),
      extra: ['h30:    vmcall', 'round: .dq 0'],
    });
    expect(reasonsAndRips(s)).toEqual([
      [37, label(s, 'h30')],
      [52, label(s, 'h30')],
    ]);
  });

  it('the preemption timer before NMI-window exiting', () => {
    const s = runVmx({
      setup: [
        `vmwrite PIN_BASED_VM_EXEC_CONTROL, ${VNMI} | PIN_BASED_VMX_PREEMPTION_TIMER`,
        'vmwrite VMX_PREEMPTION_TIMER_VALUE, 0',
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING',
      ],
      host: resumeWith(2, [
        '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
      ]),
      extra: ['round: .dq 0'],
    });
    expect(exits(s).map((e) => e.reason)).toEqual([52, 8]);
  });

  it('NMI-window exiting before an NMI exit: the NMI stays pending and the host takes it after the exit', () => {
    const s = runVmx(
      {
        hostIdt: ['        .intgate 2, host_nmi'],
        setup: [
          `vmwrite PIN_BASED_VM_EXEC_CONTROL, ${VNMI}`,
          'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING',
        ],
        guest: ['nop', 'vmcall'],
        extra: ['host_nmi: cli', '        hlt'],
      },
      [{ at: { level: 0, label: 'guest' }, nmi: true }],
    );
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo])).toEqual([[8, 0]]);
    const raise = stepsOf(s, EventKind.RAISE)[0];
    expect(x[0].step).toBe(raise.step + 1);
    // back in root operation with NMIs unblocked, the host takes the NMI through its own IDT
    const d = rows(s).filter((r) => r.kind === EventKind.DELIVER);
    expect(d.map((r) => [r.step, s.sim.trace.level[r.step - 1], r.d0 & 0x7ff, r.d2])).toEqual([
      [x[0].step + 1, 0, 0x202, label(s, 'host_nmi')],
    ]);
  });

  it('an NMI exit before interrupt-window exiting', () => {
    const s = runVmx(
      {
        setup: [
          'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING',
          'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING',
          IF1,
        ],
        guest: ['nop', 'vmcall'],
        host: resumeWith(2, []),
        extra: ['round: .dq 0'],
      },
      [{ at: { level: 0, label: 'guest' }, nmi: true }],
    );
    expect(exits(s).map((e) => [e.reason, e.intrInfo])).toEqual([
      [0, 0x80000202],
      [7, 0],
    ]);
  });

  it('interrupt-window exiting before an external-interrupt exit', () => {
    const s = runVmx(
      {
        setup: [
          'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK',
          'vmwrite VM_EXIT_CONTROLS, VM_EXIT_ACK_INTR_ON_EXIT',
          'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING',
          IF1,
        ],
        guest: ['nop', 'vmcall'],
        host: resumeClearing(2, 'CPU_BASED_INTR_WINDOW_EXITING'),
        extra: ['round: .dq 0'],
      },
      [{ at: { time: 0 }, irq: 0x30 }],
    );
    expect(exits(s).map((e) => [e.reason, e.intrInfo])).toEqual([
      [7, 0],
      [1, 0x80000030],
    ]);
  });
});

describe('an interrupted WORK across VM exits (the lab’s REP-string-like instruction)', () => {
  const program = (resumeAt: string) =>
    runVmx({
      setup: [TIMER, 'vmwrite VMX_PREEMPTION_TIMER_VALUE, 10'],
      host: [
        '        vmread rax, VM_EXIT_REASON',
        '        cmp rax, EXIT_REASON_PREEMPTION_TIMER',
        '        jne done',
        '        vmwrite PIN_BASED_VM_EXEC_CONTROL, 0',
        `        vmwrite GUEST_RIP, ${resumeAt}`,
        'again:  vmresume',
        'done:',
      ],
      guest: ['long:   work 1000', '        vmcall', 'short:  work 10', '        vmcall'],
    });

  it('resumes with its remaining cycles when the guest is entered at it again', () => {
    const s = program('long');
    const [timer, call] = exits(s);
    expect(timer.reason).toBe(52);
    const t = (step: number) => rows(s)[step - 1].time;
    const spent = t(timer.step) - t(entries(s)[0].step);
    expect(t(call.step) - t(entries(s)[1].step)).toBe(1000 - spent + 1); // the rest, then VMCALL
  });

  it('is abandoned when the hypervisor enters the guest elsewhere', () => {
    const s = program('short');
    const [, call] = exits(s);
    expect([call.reason, call.rip]).toEqual([18, label(s, 'short') + 5]);
    expect(rows(s)[call.step - 1].time - rows(s)[entries(s)[1].step - 1].time).toBe(10 + 1);
  });
});
