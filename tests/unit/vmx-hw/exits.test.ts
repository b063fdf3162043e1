// VM exits caused by events and instructions in VMX non-root operation: NMI exiting,
// external-interrupt exiting with and without acknowledge-interrupt-on-exit, the exception
// bitmap (with IDT-vectoring information for faults during delivery), triple fault, and the
// instructions that exit always or by control (SDM Vol. 3C "VMX Non-Root Operation":
// "Instructions That Cause VM Exits", "Other Causes of VM Exits"; "VM Exits": "Information
// for VM Exits Due to Vectored Events", "... That Occur During Event Delivery"; facts §1.7,
// §3.3, §3.7, §3.8).
import { describe, expect, it } from 'vitest';
import { EventKind, EventType, label, memQ, reg, rows } from '../helpers';
import { entries, exits, field, info, runVmx, stepAt } from './vmx-helpers';

const IF1 = 'vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED | X86_EFLAGS_IF';

/** Deliveries: [lane, vector, type, handler]. */
const deliveries = (s: ReturnType<typeof runVmx>) =>
  rows(s)
    .filter((r) => r.kind === EventKind.DELIVER)
    .map((r) => [s.sim.trace.level[r.step - 1], r.d0 & 0xff, (r.d0 >>> 8) & 7, r.d2]);

describe('NMI exiting', () => {
  const program = (pin: string, extraSetup: string[] = []) =>
    runVmx(
      {
        hostIdt: ['        .intgate 2, host_nmi', '        .intgate 0x40, host_iret'],
        setup: [`vmwrite PIN_BASED_VM_EXEC_CONTROL, ${pin}`, ...extraSetup],
        host: [
          '        work 300 ; a second NMI arrives here',
          'blocked: nop',
          '        int 0x40',
          'after_iret: nop',
        ],
        guest: ['gwork:  work 100000', '        vmcall'],
        extra: ['host_nmi: inc qword [host_nmis]', '        iretq', 'host_iret: iretq', 'host_nmis: .dq 0'],
      },
      [
        { at: { time: 200 }, nmi: true },
        { at: { time: 300 }, nmi: true },
      ],
    );

  it.each([
    ['NMI exiting', 'PIN_BASED_NMI_EXITING'],
    ['NMI exiting with virtual NMIs', 'PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS'],
  ])('%s: exit 0 with 0x80000202; the NMI is consumed; the host blocks NMIs until its IRET', (_, pin) => {
    const s = program(pin);
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo, e.vectoring, e.rip])).toEqual([
      [0, 0x80000202, 0, label(s, 'gwork')],
    ]);
    expect(field(s, 'VM_EXIT_INTR_INFO')).toBe(0x80000202);
    const after = s.view(x[0].step).levels[0].cpu;
    expect(after.pending.nmi).toBe(false);
    expect(after.interruptibility.nmi).toBe(true);
    // the second NMI waits through the host's WORK and NOP, and is taken right after its IRET
    expect(s.view(stepAt(s, 'blocked')).levels[0].cpu.pending.nmi).toBe(true);
    const iret = rows(s).find((r) => r.kind === EventKind.IRET)!;
    expect(iret.d2).toBe(label(s, 'after_iret'));
    const d = rows(s).filter((r) => r.kind === EventKind.DELIVER);
    expect(d.map((r) => [r.step, r.d0 & 0x7ff, r.d2])).toEqual([
      [d[0].step, 0x440, label(s, 'host_iret')],
      [iret.step + 1, 0x202, label(s, 'host_nmi')],
    ]);
    expect(memQ(s, label(s, 'host_nmis'))).toBe(1n);
  });

  it('without virtual NMIs, blocking by NMI in the guest holds the NMI exit for as long as the guest runs', () => {
    const s = runVmx(
      {
        hostIdt: ['        .intgate 2, host_nmi'],
        setup: [
          'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING',
          'vmwrite GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI',
        ],
        guest: ['        work 1000', '        vmcall'],
        extra: ['host_nmi: cli', '        hlt'],
      },
      [{ at: { time: 200 }, nmi: true }],
    );
    expect(exits(s).map((e) => e.reason)).toEqual([18]);
    // That blocking ends with non-root operation: the exit saves bit 3 as 0 (the lab's reading,
    // docs/model.md) and the host takes the NMI right after the exit.
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(0);
    expect(deliveries(s)).toEqual([[0, 2, 2, label(s, 'host_nmi')]]);
    expect(rows(s).find((r) => r.kind === EventKind.DELIVER)!.step).toBe(exits(s)[0].step + 1);
  });

  it('without NMI exiting the NMI is delivered through the guest IDT', () => {
    const s = runVmx(
      {
        guestIdt: ['        .intgate 2, guest_nmi'],
        guest: ['        work 1000', '        vmcall'],
        extra: ['guest_nmi: vmcall'],
      },
      [{ at: { time: 200 }, nmi: true }],
    );
    expect(deliveries(s)).toEqual([[1, 2, 2, label(s, 'guest_nmi')]]);
    expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[18, label(s, 'guest_nmi')]]);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO')).toBe(8);
  });
});

describe('external-interrupt exiting (exit 1)', () => {
  const program = (ack: boolean, rflags = 'X86_EFLAGS_FIXED') =>
    runVmx(
      {
        hostIdt: ['        .intgate 0x30, host_irq'],
        setup: [
          'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK',
          `vmwrite VM_EXIT_CONTROLS, ${ack ? 'VM_EXIT_ACK_INTR_ON_EXIT' : 0}`,
          `vmwrite GUEST_RFLAGS, ${rflags}`,
        ],
        host: ['        sti', 'host_sti: nop', '        cli'],
        guest: ['gwork:  work 100000', '        vmcall'],
        extra: ['host_irq: inc qword [host_irqs]', '        iretq', 'host_irqs: .dq 0'],
      },
      [{ at: { time: 200 }, irq: 0x30 }],
    );

  it('with acknowledge-interrupt-on-exit: VM_EXIT_INTR_INFO = 0x80000030 and the vector moves from IRR to ISR', () => {
    const s = program(true);
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo, e.rip])).toEqual([[1, 0x80000030, label(s, 'gwork')]]);
    const apic = s.view(x[0].step).levels[0].apic;
    expect([apic.irr, apic.isr]).toEqual([[], [0x30]]);
    expect(memQ(s, label(s, 'host_irqs'))).toBe(0n); // acknowledged: nothing left to deliver after STI
  });

  it('without it: VM_EXIT_INTR_INFO = 0, the vector stays in the IRR, and the host takes it after STI', () => {
    const s = program(false);
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo])).toEqual([[1, 0]]);
    const apic = s.view(x[0].step).levels[0].apic;
    expect([apic.irr, apic.isr]).toEqual([[0x30], []]);
    expect(deliveries(s)).toEqual([[0, 0x30, 0, label(s, 'host_irq')]]);
    expect(rows(s).find((r) => r.kind === EventKind.DELIVER)!.rip).toBe(label(s, 'host_sti') + 1);
    expect(memQ(s, label(s, 'host_irqs'))).toBe(1n);
  });

  it('the guest’s IF=0 does not block the exit (GUEST_RFLAGS saved with IF=0)', () => {
    const s = program(true);
    expect(field(s, 'GUEST_RFLAGS') & 0x200).toBe(0);
    expect(exits(s)[0].reason).toBe(1);
  });

  it('exits from a guest HLT with IF=0: activity HLT saved, GUEST_RIP after the HLT', () => {
    const s = runVmx(
      {
        setup: [
          'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK',
          'vmwrite VM_EXIT_CONTROLS, VM_EXIT_ACK_INTR_ON_EXIT',
        ],
        guest: ['ghlt:   hlt', '        vmcall'],
      },
      [{ at: { time: 500 }, irq: 0x30 }],
    );
    expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[1, label(s, 'ghlt') + 1]]);
    expect(field(s, 'GUEST_ACTIVITY_STATE')).toBe(1);
  });

  it('without external-interrupt exiting, IF=1: delivered through the guest IDT (acknowledged in the APIC)', () => {
    const s = runVmx(
      {
        guestIdt: ['        .intgate 0x30, guest_irq'],
        setup: [IF1],
        guest: ['gwork:  work 100000', '        vmcall'],
        extra: ['guest_irq: vmcall'],
      },
      [{ at: { time: 200 }, irq: 0x30 }],
    );
    expect(deliveries(s)).toEqual([[1, 0x30, 0, label(s, 'guest_irq')]]);
    expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[18, label(s, 'guest_irq')]]);
    expect(s.view(s.totalSteps).levels[0].apic.isr).toEqual([0x30]);
  });

  it('without external-interrupt exiting, IF=0: the interrupt waits in the IRR; the guest runs on', () => {
    const s = runVmx({ guest: ['gwork:  work 1000', 'gcall:  vmcall'] }, [{ at: { time: 200 }, irq: 0x30 }]);
    expect(deliveries(s)).toEqual([]);
    expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[18, label(s, 'gcall')]]);
    expect(s.view(s.totalSteps).levels[0].apic.irr).toEqual([0x30]);
  });
});

describe('instructions that cause VM exits', () => {
  const one = (guest: string[], setup: string[] = []) => {
    const s = runVmx({
      setup,
      guest: ['        mov ecx, 0x10', ...guest.map((g, i) => (i === 0 ? `insn:   ${g}` : g))],
    });
    return { s, x: exits(s)[0], len: field(s, 'VM_EXIT_INSTRUCTION_LEN') };
  };

  it.each([
    ['VMCALL (always)', ['vmcall'], [], 18, 3],
    ['CPUID (always)', ['cpuid'], [], 10, 2],
    ['HLT with HLT exiting', ['hlt'], ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_HLT_EXITING'], 12, 1],
    [
      'RDTSC with RDTSC exiting',
      ['rdtsc'],
      ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_RDTSC_EXITING'],
      16,
      2,
    ],
    [
      'PAUSE with PAUSE exiting',
      ['pause'],
      ['vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_PAUSE_EXITING'],
      40,
      2,
    ],
    ['RDMSR without MSR bitmaps', ['rdmsr'], [], 31, 2],
    ['WRMSR without MSR bitmaps', ['wrmsr'], [], 32, 2],
    ['VMREAD in the guest', ['vmread rax, GUEST_RIP'], [], 23, 3],
    ['VMXON in the guest', ['vmxon [vmxon_ptr]'], [], 27, 8],
  ])('%s: exit %i, GUEST_RIP = the instruction, its length saved', (_, guest, setup, reason, len) => {
    const { s, x, len: saved } = one(guest, setup);
    expect([x.reason, x.rip, saved]).toEqual([reason, label(s, 'insn'), len]);
    expect(field(s, 'GUEST_RIP')).toBe(label(s, 'insn'));
  });

  it('HLT without HLT exiting halts the guest (no exit)', () => {
    const { s } = one(['hlt']);
    expect(exits(s)).toEqual([]);
    expect(s.view(s.totalSteps).levels[1].cpu.activity).toBe('hlt');
  });

  it('RDTSC without exiting reads the TSC plus TSC_OFFSET with "use TSC offsetting"', () => {
    const program = (offset: boolean) =>
      runVmx({
        setup: offset
          ? [
              'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_USE_TSC_OFFSETTING',
              '        mov rax, 0x100000000 + 5000',
              '        vmwrite TSC_OFFSET, rax',
            ]
          : ['vmwrite TSC_OFFSET, 5000 ; ignored without the control'],
        guest: ['        nop', 'insn:   rdtsc', '        vmcall'],
      });
    for (const offset of [false, true]) {
      const s = program(offset);
      const n = stepAt(s, 'insn');
      const tsc = rows(s)[n - 2].time; // the TSC when RDTSC began
      const value = Number(reg(s, 'rdx', n)) * 2 ** 32 + Number(reg(s, 'rax', n));
      expect(value).toBe(tsc + (offset ? 2 ** 32 + 5000 : 0));
    }
  });

  describe('MSR bitmaps', () => {
    const bitmap = (pokes: string[], msr: string, op: 'rdmsr' | 'wrmsr') =>
      runVmx({
        setup: [
          'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_USE_MSR_BITMAPS',
          'vmwrite MSR_BITMAP, msr_bitmap',
          ...pokes,
        ],
        guest: [
          `        mov ecx, ${msr}`,
          '        xor eax, eax',
          '        xor edx, edx',
          `insn:   ${op}`,
          'gcall:  vmcall',
        ],
      });

    it('an all-zero bitmap: RDMSR and WRMSR of modelled MSRs run in the guest', () => {
      const r = bitmap([], '0x10', 'rdmsr');
      expect(exits(r).map((e) => [e.reason, e.rip])).toEqual([[18, label(r, 'gcall')]]);
      const w = bitmap([], '0x80b', 'wrmsr');
      expect(exits(w).map((e) => [e.reason, e.rip])).toEqual([[18, label(w, 'gcall')]]);
    });

    it('a bit set in the read bitmap (low MSRs at offset 0) makes RDMSR of that MSR exit', () => {
      const s = bitmap(['mov byte [msr_bitmap+2], 1 ; MSR 0x10 = bit 16'], '0x10', 'rdmsr');
      expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[31, label(s, 'insn')]]);
    });

    it('a bit set in the write bitmap (low MSRs at offset 0x800) makes WRMSR of that MSR exit', () => {
      const s = bitmap(['mov byte [msr_bitmap+0x800+0x101], 8 ; MSR 0x80b = bit 0x80b'], '0x80b', 'wrmsr');
      expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[32, label(s, 'insn')]]);
    });

    it('a bit for a high MSR (0xC0000000–0xC0001FFF) is read at offset 0x400', () => {
      const s = bitmap(['mov byte [msr_bitmap+0x400+0x10], 1 ; MSR 0xC0000080'], '0xc0000080', 'rdmsr');
      expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[31, label(s, 'insn')]]);
    });

    it('an MSR outside both ranges always exits', () => {
      const s = bitmap([], '0x40000000', 'rdmsr');
      expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([[31, label(s, 'insn')]]);
    });
  });
});

describe('the exception bitmap', () => {
  it('INT3 with bit 3 set: exit 0, interruption info 0x80000603 (software exception), length 1, RIP = the INT3', () => {
    const s = runVmx({ setup: ['vmwrite EXCEPTION_BITMAP, 8'], guest: ['nop', 'bp:     int3'] });
    const x = exits(s)[0];
    expect([x.reason, x.intrInfo, x.rip]).toEqual([0, 0x80000603, label(s, 'bp')]);
    expect(field(s, 'VM_EXIT_INSTRUCTION_LEN')).toBe(1);
    expect(field(s, 'IDT_VECTORING_INFO_FIELD')).toBe(0);
  });

  it('INT3 without the bit is delivered through the guest IDT', () => {
    const s = runVmx({
      guestIdt: ['        .intgate 3, bp_h'],
      guest: ['bp:     int3'],
      extra: ['bp_h:   vmcall'],
    });
    expect(deliveries(s)).toEqual([[1, 3, 6, label(s, 'bp_h')]]);
    expect(Number(memQ(s, field(s, 'GUEST_RSP')))).toBe(label(s, 'bp') + 1);
  });

  it('a #GP fault with bit 13 set: exit 0 with 0x80000b0d and the error code, RIP = the faulting instruction', () => {
    const s = runVmx({
      setup: [
        'vmwrite EXCEPTION_BITMAP, 0x2000',
        'vmwrite CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_USE_MSR_BITMAPS',
        'vmwrite MSR_BITMAP, msr_bitmap',
      ],
      guest: ['        mov ecx, 0x1234', 'bad:    rdmsr'],
    });
    expect(exits(s).map((e) => [e.reason, e.intrInfo, e.rip])).toEqual([[0, 0x80000b0d, label(s, 'bad')]]);
    expect(field(s, 'VM_EXIT_INTR_ERROR_CODE')).toBe(0);
    expect(field(s, 'VM_EXIT_INSTRUCTION_LEN')).toBe(0);
  });

  it('a missing guest gate while delivering an injected external interrupt, #NP intercepted: IDT-vectoring = the interrupt', () => {
    const s = runVmx({
      setup: [IF1, 'vmwrite EXCEPTION_BITMAP, 0x800 ; #NP', 'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000030'],
    });
    const x = exits(s);
    expect(x.map((e) => [e.reason, e.intrInfo, e.vectoring, e.rip])).toEqual([
      [0, info(3, 11, true), 0x80000030, label(s, 'guest')],
    ]);
    // #NP's error code: the gate's index · 8, IDT bit (2), EXT (1)
    expect(field(s, 'VM_EXIT_INTR_ERROR_CODE')).toBe(0x30 * 8 + 2 + 1);
    expect(field(s, 'IDT_VECTORING_INFO_FIELD')).toBe(0x80000030);
    expect(field(s, 'IDT_VECTORING_ERROR_CODE')).toBe(0);
    expect(field(s, 'GUEST_RIP')).toBe(label(s, 'guest'));
    expect(field(s, 'GUEST_RSP')).toBe(0xc000); // nothing was pushed
    expect(field(s, 'VM_ENTRY_INTR_INFO_FIELD')).toBe(0x30); // the valid bit cleared by the exit
  });

  it('a missing gate while delivering a guest INT n, #NP intercepted: IDT-vectoring = the software interrupt, with its length', () => {
    const s = runVmx({ setup: ['vmwrite EXCEPTION_BITMAP, 0x800'], guest: ['nop', 'swint:  int 0x40'] });
    expect(exits(s).map((e) => [e.reason, e.intrInfo, e.vectoring, e.rip])).toEqual([
      [0, info(3, 11, true), info(4, 0x40), label(s, 'swint')],
    ]);
    expect(field(s, 'VM_EXIT_INTR_ERROR_CODE')).toBe(0x40 * 8 + 2);
    expect(field(s, 'VM_EXIT_INSTRUCTION_LEN')).toBe(2);
  });
});

describe('a #DF exit (exception bitmap bit 8)', () => {
  it('is never "during event delivery": a #DF escalated from delivering INT n has no IDT-vectoring information', () => {
    // INT 0x40 through an empty IDT: #NP (gate 0x40), whose gate is missing too: #DF
    const s = runVmx({ setup: ['vmwrite EXCEPTION_BITMAP, 0x100'], guest: ['nop', 'swint:  int 0x40'] });
    expect(exits(s).map((e) => [e.reason, e.intrInfo, e.vectoring])).toEqual([[0, info(3, 8, true), 0]]);
    expect(field(s, 'VM_EXIT_INTR_ERROR_CODE')).toBe(0);
    expect(field(s, 'IDT_VECTORING_ERROR_CODE')).toBe(0);
    expect(field(s, 'VM_EXIT_INSTRUCTION_LEN')).toBe(0);
    // a fault during the delivery of INT n is reported at the INT
    expect(field(s, 'GUEST_RIP')).toBe(label(s, 'swint'));
  });

  it('a #DF while delivering an injected INT n: GUEST_RIP is GUEST_RIP at the entry, not RIP + length', () => {
    const s = runVmx({
      setup: [
        'vmwrite EXCEPTION_BITMAP, 0x100',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, 0x80000440',
        'vmwrite VM_ENTRY_INSTRUCTION_LEN, 2',
      ],
    });
    expect(exits(s).map((e) => [e.reason, e.intrInfo, e.vectoring, e.rip])).toEqual([
      [0, info(3, 8, true), 0, label(s, 'guest')],
    ]);
  });
});

describe('a fault during the delivery of a contributory exception', () => {
  // #GP (a reserved CR4 bit) through an empty guest IDT: the #GP gate is missing, #NP.
  const guest = ['nop', '        mov rax, 0x80000000', 'bad:    mov cr4, rax'];

  it('#NP intercepted: exits as #NP with the #GP as the event being delivered, before any #DF forms', () => {
    const s = runVmx({ setup: ['vmwrite EXCEPTION_BITMAP, 0x900'], guest });
    expect(exits(s).map((e) => [e.reason, e.intrInfo, e.vectoring, e.rip])).toEqual([
      [0, info(EventType.HW_EXCEPTION, 11, true), info(EventType.HW_EXCEPTION, 13, true), label(s, 'bad')],
    ]);
    // #NP(13·8 + IDT + EXT); the #GP's own error code 0 in IDT_VECTORING_ERROR_CODE.
    expect(field(s, 'VM_EXIT_INTR_ERROR_CODE')).toBe((13 << 3) | 2 | 1);
    expect(field(s, 'IDT_VECTORING_ERROR_CODE')).toBe(0);
  });

  it('#NP not intercepted: the pair forms #DF, which exits without IDT-vectoring information', () => {
    const s = runVmx({ setup: ['vmwrite EXCEPTION_BITMAP, 0x100'], guest });
    expect(exits(s).map((e) => [e.reason, e.intrInfo, e.vectoring])).toEqual([
      [0, info(EventType.HW_EXCEPTION, 8, true), 0],
    ]);
  });
});

describe('triple fault (exit 2)', () => {
  it('INT n through an empty guest IDT: #NP, then #DF, then a triple fault exits; no IDT-vectoring information', () => {
    const s = runVmx({ guest: ['nop', 'swint:  int 0x40'] });
    expect(exits(s).map((e) => [e.reason, e.intrInfo, e.vectoring, e.rip])).toEqual([
      [2, 0, 0, label(s, 'swint')],
    ]);
    expect(s.sim.endReason).toBe('halted'); // the host ran on; the processor did not shut down
    expect(entries(s)).toHaveLength(1);
  });

  it('with #NP intercepted, the #NP of the #DF gate exits before the triple fault, with the #DF as the event being delivered (EXT = 1)', () => {
    // An injected #DF, whose delivery through the empty guest IDT faults with #NP(8·8+2+1).
    const s = runVmx({
      setup: [
        'vmwrite EXCEPTION_BITMAP, 0x800',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_DELIVER_CODE_MASK | 8',
      ],
    });
    expect(exits(s).map((e) => [e.reason, e.intrInfo, e.vectoring])).toEqual([
      [0, info(EventType.HW_EXCEPTION, 11, true), info(EventType.HW_EXCEPTION, 8, true)],
    ]);
    expect(field(s, 'VM_EXIT_INTR_ERROR_CODE')).toBe((8 << 3) | 2 | 1);
    expect(field(s, 'IDT_VECTORING_ERROR_CODE')).toBe(0);
  });

  it('without the intercept, the same injected #DF is a triple fault (exit 2)', () => {
    const s = runVmx({
      setup: [
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_DELIVER_CODE_MASK | 8',
      ],
    });
    expect(exits(s).map((e) => [e.reason, e.vectoring])).toEqual([[2, 0]]);
  });
});
