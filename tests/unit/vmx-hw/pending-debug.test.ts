// "Delivery of Pending Debug Exceptions after VM Entry" (SDM Vol. 3C "Special Features of VM
// Entry"), the exit qualification of #DB exits ("Exit Qualification for VM Exits"), the pending
// debug exceptions a VM exit saves ("Saving Non-Register State"; facts §3.6) and MOV-DR exiting
// (exit 29, "Exit Qualification for MOV DR").
import { describe, expect, it } from 'vitest';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { F, readField } from '../../../src/core/vmx/vmcs';
import { deliveries, label, memQ, open, qword, scenarioDoc } from '../helpers';
import { entries, exits, field, info, runVmx } from './vmx-helpers';

/** The guest's #DB handler saves DR6 and makes a hypercall; every other gate goes to `gh`. */
const GUEST_IDT = ['        .intgate 1, gdb', '        .intgate 2, gh', '        .intgate 0x80, gh'];
const EXTRA = [
  'gdb:    mov rax, dr6',
  '        mov [dr6_seen], rax',
  '        vmcall',
  'gh:     vmcall',
  'dr6_seen: .dq 0',
];

const pend = (v: number) => `vmwrite GUEST_PENDING_DBG_EXCEPTIONS, 0x${v.toString(16)}`;
const DB_EXITS = 'vmwrite EXCEPTION_BITMAP, 2';
const TF = 'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_TF';
const TIMER0 = [
  'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_VMX_PREEMPTION_TIMER',
  'vmwrite VMX_PREEMPTION_TIMER_VALUE, 0',
];
const MTF = 'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG';

function enter(setup: string[], guest = ['        nop', '        vmcall'], guestIdt = GUEST_IDT) {
  return runVmx({ guestIdt, setup, guest, extra: EXTRA });
}

/** The #DBs delivered in the guest: return RIPs. */
function dbRips(s: ReturnType<typeof enter>): number[] {
  return deliveries(s)
    .filter((d) => d.vector === 1)
    .map((d) => d.rip);
}

describe('delivered through the guest IDT before the first guest instruction', () => {
  it.each([
    ['BS', 0x4000, 0x4000],
    ['enabled breakpoint with B0', 0x1001, 0x1],
    ['enabled breakpoint with B3 and B1', 0x100a, 0xa],
    ['enabled breakpoint alone', 0x1000, 0],
    ['BS with B2', 0x4004, 0x4004],
  ])('%s: a #DB at GUEST_RIP, DR6 gets the bits', (_, bits, dr6) => {
    const s = enter([pend(bits)]);
    expect(dbRips(s)).toEqual([label(s, 'guest')]);
    expect(memQ(s, label(s, 'dr6_seen'))).toBe(BigInt((0xffff0ff0 | dr6) >>> 0));
    expect(exits(s).map((e) => e.reason)).toEqual([18]);
    expect(field(s, 'GUEST_RIP')).toBe(label(s, 'gdb') + 10); // its VMCALL
    expect(s.view(entries(s)[0].step).explanation.text).toMatch(
      /GUEST_PENDING_DBG_EXCEPTIONS makes a #DB pending/,
    );
  });

  it('B0–B3 without BS or the enabled-breakpoint bit are no valid pending debug exception', () => {
    const s = enter([pend(0xf)]);
    expect(dbRips(s)).toEqual([]);
    expect(exits(s).map((e) => e.rip)).toEqual([label(s, 'guest') + 1]);
  });
});

describe('with #DB in the exception bitmap: exit reason 0, the bits in the exit qualification', () => {
  it.each([
    ['BS', 0x4000, 0x4000],
    ['enabled breakpoint with B1', 0x1002, 0x2],
    ['BS, enabled breakpoint, B0 and B3', 0x5009, 0x4009],
  ])('%s', (_, bits, qual) => {
    const s = enter([DB_EXITS, pend(bits)]);
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo])).toEqual([[0, info(3, 1)]]);
    expect(x[0].rip).toBe(label(s, 'guest'));
    expect(field(s, 'EXIT_QUALIFICATION')).toBe(qual);
    // the #DB was consumed by the exit: nothing is saved as pending, DR6 is unchanged
    expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS')).toBe(0);
    expect(dbRips(s)).toEqual([]);
  });
});

describe('priority against a VMX-preemption timer of 0 and MTF', () => {
  it('the pending #DB is delivered first, the timer exit comes at the #DB handler', () => {
    const s = enter([...TIMER0, pend(0x4000)]);
    expect(dbRips(s)).toEqual([label(s, 'guest')]);
    const x = exits(s);
    expect(x.map((e) => e.reason)).toEqual([52]);
    expect(x[0].rip).toBe(label(s, 'gdb'));
  });

  it('with #DB in the exception bitmap the #DB exit wins over the timer exit', () => {
    const s = enter([...TIMER0, DB_EXITS, pend(0x1001)]);
    expect(exits(s).map((e) => e.reason)).toEqual([0]);
    expect(field(s, 'EXIT_QUALIFICATION')).toBe(1);
  });

  it('MTF without injection: the #DB is delivered first, then the MTF exit at its handler', () => {
    const s = enter([MTF, pend(0x4000)]);
    expect(dbRips(s)).toEqual([label(s, 'guest')]);
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.rip])).toEqual([[37, label(s, 'gdb')]]);
    expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS')).toBe(0);
  });

  it.each([
    [
      'NMI-window exiting',
      [
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING',
      ],
      8,
    ],
    [
      'interrupt-window exiting',
      [
        'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF',
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING',
      ],
      7,
    ],
  ])('the #DB comes before an open %s, whose exit follows at the #DB handler', (_, setup, reason) => {
    // A trap gate for #DB: IF stays 1 in its handler, so the interrupt window is still open.
    const idt = GUEST_IDT.map((l) => l.replace('.intgate 1,', '.trapgate 1,'));
    const s = enter([...setup, pend(0x4000)], undefined, idt);
    expect(dbRips(s)).toEqual([label(s, 'guest')]);
    expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[reason, label(s, 'gdb')]]);
  });

  it('a pending MTF exit (type 7) comes before the #DB, which is saved with all its bits', () => {
    const s = enter([`vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x${info(7, 0).toString(16)}`, pend(0x500f)]);
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.rip])).toEqual([[37, label(s, 'guest')]]);
    expect(dbRips(s)).toEqual([]);
    expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS')).toBe(0x500f);
    // The views: pending in the guest's CPU after the entry, in its VMCS field after the exit.
    expect(s.view(entries(s)[0].step).levels[1].cpu.pendingDebug).toBe(0x500f);
    expect(s.view(x[0].step).levels[1].cpu.pendingDebug).toBe(0x500f);
    expect(s.view(x[0].step).levels[0].cpu.pendingDebug).toBe(0);
  });
});

describe('ignored or held', () => {
  it.each([
    ['an injected NMI', info(2, 2), []],
    ['an injected #UD', info(3, 6), []],
    [
      'an injected software interrupt without MOV-SS blocking',
      info(4, 0x80),
      ['vmwrite VM_ENTRY_INSTRUCTION_LEN, 2'],
    ],
  ])('the entry injects %s: no #DB', (_, event, more) => {
    const s = enter([`vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x${event.toString(16)}`, ...more, pend(0x4000)]);
    expect(dbRips(s)).toEqual([]);
    expect(exits(s)).toHaveLength(1);
  });

  it('a software interrupt injected with MOV-SS blocking: the #DB follows its delivery, at the handler', () => {
    const s = enter([
      `vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x${info(4, 0x80).toString(16)}`,
      'vmwrite VM_ENTRY_INSTRUCTION_LEN, 2',
      'vmwrite GUEST_INTERRUPTIBILITY_INFO, 2',
      TF,
      pend(0x4000),
    ]);
    // the entry delivered INT 0x80 (its handler is where the guest starts), then the #DB
    expect(entries(s)[0].guestRip).toBe(label(s, 'gh'));
    expect(dbRips(s)).toEqual([label(s, 'gh')]);
  });

  it('with MOV-SS blocking and no injection the #DB waits for the next instruction', () => {
    const s = enter([TF, 'vmwrite GUEST_INTERRUPTIBILITY_INFO, 2', pend(0x4000)]);
    expect(dbRips(s)).toEqual([label(s, 'guest') + 1]);
  });

  it('in HLT the #DB is delivered and wakes the guest', () => {
    const s = enter([TF, 'vmwrite GUEST_ACTIVITY_STATE, 1', pend(0x4000)]);
    expect(dbRips(s)).toEqual([label(s, 'guest')]);
    expect(deliveries(s)[0].wokeFromHlt).toBe(true);
  });

  it('an NMI injected into shutdown leaves it; a non-vectoring entry into shutdown ignores the field', () => {
    const s = enter([
      `vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x${info(2, 2).toString(16)}`,
      'vmwrite GUEST_ACTIVITY_STATE, 2',
      pend(0x4000),
    ]);
    expect(dbRips(s)).toEqual([]);
    expect(entries(s)).toHaveLength(1);
  });
});

describe('#DB exits from guest execution', () => {
  it('single-step: exit qualification BS', () => {
    const s = enter([DB_EXITS, TF]);
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.rip])).toEqual([[0, label(s, 'guest') + 1]]);
    expect(field(s, 'EXIT_QUALIFICATION')).toBe(0x4000);
    expect(s.view(x[0].step).explanation.text).toMatch(/Exit qualification 0x4000: BS/);
  });

  it('an instruction breakpoint in the guest: a fault-like exit, qualification B2', () => {
    const s = enter(
      [DB_EXITS],
      [
        '        lea rax, [bp]',
        '        mov dr2, rax',
        '        mov eax, 0x410',
        '        mov dr7, rax',
        'bp:     nop',
        '        vmcall',
      ],
    );
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.rip])).toEqual([[0, label(s, 'bp')]]);
    expect(field(s, 'EXIT_QUALIFICATION')).toBe(4);
  });

  it('a #DB delivered in the guest with TF is not saved as pending at the next exit', () => {
    const s = enter([TF]);
    expect(dbRips(s)).toEqual([label(s, 'guest') + 1]);
    expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS')).toBe(0);
  });
});

describe('pending debug exceptions saved at a VM exit', () => {
  it('an exit in a MOV-SS shadow that holds a single-step trap saves BS with the MOV-SS blocking', () => {
    const s = enter(
      [],
      [
        '        mov eax, 0x10',
        '        pushf',
        '        or qword [rsp], 0x100',
        '        popf', // TF = 1 from the next instruction on
        '        mov ss, rax', // its trap is held by the MOV-SS shadow
        'l_cpuid: cpuid', // exits before it executes
        '        vmcall',
      ],
    );
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.rip])).toEqual([[10, label(s, 'l_cpuid')]]);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(2);
    expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS')).toBe(0x4000);
    expect(dbRips(s)).toEqual([]);
  });
});

describe('MOV-DR exiting (primary control bit 23): exit 29', () => {
  it.each([
    ['mov rbx, dr6', 6 | 0x10 | (3 << 8), 3],
    ['mov dr7, r9', 7 | (9 << 8), 4],
    ['mov dr0, rax', 0, 3],
    ['mov r15, dr3', 3 | 0x10 | (15 << 8), 4],
  ])('%s: qualification 0x%s', (ins, qual, len) => {
    const s = enter(
      ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MOV_DR_EXITING'],
      [`        ${ins}`, '        vmcall'],
    );
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.rip])).toEqual([[29, label(s, 'guest')]]);
    expect(field(s, 'EXIT_QUALIFICATION')).toBe(qual);
    expect(field(s, 'VM_EXIT_INSTRUCTION_LEN')).toBe(len);
    const [a, b] = ins.slice(4).split(', ');
    expect(s.view(x[0].step).explanation.text).toContain(
      `MOV ${a.replace('dr', 'DR')}, ${b.replace('dr', 'DR')}`,
    );
  });

  it('takes priority over general detect', () => {
    const s = enter(
      [
        'vmwrite VM_ENTRY_CONTROLS, VM_ENTRY_LOAD_DEBUG_CONTROLS',
        'vmwrite GUEST_DR7, 0x2400',
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MOV_DR_EXITING',
      ],
      ['        mov rax, dr7', '        vmcall'],
    );
    expect(exits(s).map((e) => e.reason)).toEqual([29]);
    expect(dbRips(s)).toEqual([]);
  });

  it('without the control the guest reads DR7 as loaded', () => {
    const s = enter(
      ['vmwrite VM_ENTRY_CONTROLS, VM_ENTRY_LOAD_DEBUG_CONTROLS', 'vmwrite GUEST_DR7, 0x403'],
      ['        mov rax, dr7', '        mov [dr6_seen], rax', '        vmcall'],
    );
    expect(exits(s).map((e) => e.reason)).toEqual([18]);
    expect(memQ(s, label(s, 'dr6_seen'))).toBe(0x403n);
  });
});

describe('"load debug controls" and "save debug controls" (like kvm-unit-tests dbgctls)', () => {
  const guest = [
    '        mov rax, dr7',
    '        mov [g_dr7], rax',
    '        mov ecx, 0x1d9',
    '        rdmsr',
    '        mov [g_ctl], rax',
    '        mov eax, 0x408',
    '        mov dr7, rax',
    '        mov eax, 3',
    '        xor edx, edx',
    '        wrmsr',
    '        vmcall',
  ];
  const host = [
    '        mov rax, dr7',
    '        mov [h_dr7], rax',
    '        mov ecx, 0x1d9',
    '        rdmsr',
    '        mov [h_ctl], rax',
  ];
  const data = ['g_dr7: .dq 0', 'g_ctl: .dq 0', 'h_dr7: .dq 0', 'h_ctl: .dq 0'];
  function run(controls: string[]) {
    return runVmx({
      setup: [
        '        mov eax, 0x402',
        '        mov dr7, rax',
        '        mov ecx, 0x1d9',
        '        mov eax, 1',
        '        xor edx, edx',
        '        wrmsr',
        '        vmwrite GUEST_DR7, 0x404',
        '        vmwrite GUEST_IA32_DEBUGCTL, 2',
        '        vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_USE_MSR_BITMAPS',
        '        vmwrite MSR_BITMAP, msr_bitmap',
        ...controls.map((l) => `        ${l}`),
      ],
      guest,
      host,
      extra: data,
    });
  }
  const mem = (s: ReturnType<typeof run>, name: string) => memQ(s, label(s, name));
  /** The same program as L1 under KVM: a qword of L1's memory at the end. */
  function underKvm(controls: string[]) {
    const bare = run(controls);
    const s = open(
      nestUnderKvm(scenarioDoc(bare.compiled.programs[0].source, [], { limits: { steps: 40000 } })),
    );
    const st = s.sim.stateAt(s.totalSteps);
    const prog = s.compiled.lanes[1].program;
    const at = (name: string) =>
      qword({ ...st, mems: [st.mems[prog]] }, s.compiled.programs[prog].labels[name]);
    return { s, at };
  }

  it('with both: the guest runs with GUEST_DR7/DEBUGCTL, the exit saves its values and loads 400H and 0', () => {
    const s = run([
      'vmwrite VM_ENTRY_CONTROLS, VM_ENTRY_LOAD_DEBUG_CONTROLS',
      'vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_DEBUG_CONTROLS',
    ]);
    expect(exits(s).map((e) => e.reason)).toEqual([18]);
    expect([mem(s, 'g_dr7'), mem(s, 'g_ctl')]).toEqual([0x404n, 2n]);
    expect([mem(s, 'h_dr7'), mem(s, 'h_ctl')]).toEqual([0x400n, 0n]);
    expect(field(s, 'GUEST_DR7')).toBe(0x408);
    expect(field(s, 'GUEST_IA32_DEBUGCTL')).toBe(3);
  });

  it('under KVM L2 and L1 see the same DR7 values (prepare_vmcs02, sync_vmcs02_to_vmcs12, handle_dr)', () => {
    const both = underKvm([
      'vmwrite VM_ENTRY_CONTROLS, VM_ENTRY_LOAD_DEBUG_CONTROLS',
      'vmwrite VM_EXIT_CONTROLS, VM_EXIT_SAVE_DEBUG_CONTROLS',
    ]);
    expect([both.at('g_dr7'), both.at('h_dr7')]).toEqual([0x404n, 0x400n]);
    expect(both.at('g_ctl')).toBe(2n);
    const neither = underKvm([]);
    expect([neither.at('g_dr7'), neither.at('h_dr7')]).toEqual([0x402n, 0x400n]);
  });

  it("with neither: the guest runs with the host's DR7/DEBUGCTL and the fields keep their values", () => {
    const s = run([]);
    expect([mem(s, 'g_dr7'), mem(s, 'g_ctl')]).toEqual([0x402n, 1n]);
    expect([mem(s, 'h_dr7'), mem(s, 'h_ctl')]).toEqual([0x400n, 0n]);
    expect(field(s, 'GUEST_DR7')).toBe(0x404);
    expect(field(s, 'GUEST_IA32_DEBUGCTL')).toBe(2);
  });
});

describe('single-step in a MOV-SS shadow with pending debug exceptions (like kvm-unit-tests vmx_db_test)', () => {
  it('the pending bits and the NOP single-step accumulate in the exit qualification; DR6 and the pending field end clear of them', () => {
    const s = runVmx({
      guestIdt: GUEST_IDT,
      setup: [
        '        mov eax, 0x400a', // starting DR6: BS, B3, B1
        '        mov dr6, rax',
        `        ${DB_EXITS}`,
        `        ${TF}`,
        '        vmwrite GUEST_INTERRUPTIBILITY_INFO, 2',
        `        ${pend(0x5001)}`,
      ],
      guest: ['        nop', 'post_nop: vmcall'],
      host: ['        mov rax, dr6', '        mov [h_dr6], rax'],
      extra: [...EXTRA, 'h_dr6: .dq 0'],
    });
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo, e.rip])).toEqual([[0, info(3, 1), label(s, 'post_nop')]]);
    expect(field(s, 'EXIT_QUALIFICATION')).toBe(0x4001);
    expect(field(s, 'GUEST_PENDING_DBG_EXCEPTIONS')).toBe(0);
    expect(memQ(s, label(s, 'h_dr6'))).toBe(0xffff4ffan);
    // The same under KVM: vmcs12's pending debug exceptions go through vmcs02, the #DB exit is
    // reflected with its qualification.
    const k = open(
      nestUnderKvm(scenarioDoc(s.compiled.programs[0].source, [], { limits: { steps: 40000 } })),
    );
    const st = k.sim.stateAt(k.totalSteps);
    const prog = k.compiled.lanes[1].program;
    expect(qword({ ...st, mems: [st.mems[prog]] }, k.compiled.programs[prog].labels.h_dr6)).toBe(0xffff4ffan);
    const vmcs12 = st.kvm!.nested.vmcs12;
    const v = Object.values(vmcs12)[0];
    expect(readField(v, F.EXIT_QUALIFICATION)).toBe(0x4001);
    expect(readField(v, F.VM_EXIT_REASON)).toBe(0);
  });
});

describe('RF saved at a VM exit ("Saving RIP, RSP, RFLAGS")', () => {
  it('a fault-class exception the exception bitmap intercepts saves RF = 1', () => {
    const s = runVmx({
      setup: ['        vmwrite EXCEPTION_BITMAP, 0x2000'],
      guest: ['        mov rax, 0x100000000', 'l_mov: mov dr7, rax', '        vmcall'],
    });
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo, e.rip])).toEqual([[0, 0x80000b0d, label(s, 'l_mov')]]);
    expect(field(s, 'GUEST_RFLAGS') & 0x10000).toBe(0x10000);
  });

  it('an external-interrupt exit in the middle of a `work` saves RF = 1; the resumed work clears it', () => {
    const s = runVmx(
      {
        setup: [
          '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK',
          '        vmwrite VM_EXIT_CONTROLS, VM_EXIT_ACK_INTR_ON_EXIT',
        ],
        host: [
          '        vmread rax, VM_EXIT_REASON',
          '        cmp rax, 1',
          '        jne done',
          '        vmread rax, GUEST_RFLAGS',
          '        mov [saved_rf], rax',
          '        vmresume',
          'done:',
        ],
        guest: ['l_work: work 1000', '        pushf', '        pop qword [after_rf]', '        vmcall'],
        extra: ['saved_rf: .dq 0', 'after_rf: .dq 0'],
      },
      [{ at: { time: 200 }, irq: 0x40 }],
    );
    expect(exits(s).map((e) => e.reason)).toEqual([1, 18]);
    expect(memQ(s, label(s, 'saved_rf')) & 0x10000n).toBe(0x10000n);
    expect(memQ(s, label(s, 'after_rf')) & 0x10000n).toBe(0n);
  });
});
