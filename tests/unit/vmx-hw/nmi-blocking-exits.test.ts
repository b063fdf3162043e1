// Blocking by NMI across VM exits (SDM Vol. 3C "Architectural State before a VM Exit",
// "Updating Non-Register State", "Saving Non-Register State", and "Interruptibility State"
// under "Special Features of VM Entry"): only exits caused by NMIs set blocking by NMI; other
// exits leave it as it is, so with NMI exiting = 0 it goes from guest to host and the guest's
// IRET ends it; an NMI whose delivery causes the exit blocks NMIs (or, injected with virtual
// NMIs, sets virtual-NMI blocking) before the exit, and the exit saves it in bit 3.
import { describe, expect, it } from 'vitest';
import { EventType, cpu, deliveries, label } from '../helpers';
import { entries, exits, field, info, passed, runVmx, stepAt } from './vmx-helpers';

/** An exit handler that steps over the exiting instruction and resumes the first `n` times. */
const resumeTimes = (n: number, then: string[]): string[] => [
  '        vmread rax, GUEST_RIP',
  '        vmread rbx, VM_EXIT_INSTRUCTION_LEN',
  '        add rax, rbx',
  '        vmwrite GUEST_RIP, rax',
  '        inc qword [exit_count]',
  `        cmp qword [exit_count], ${n}`,
  '        ja done_resuming',
  '        vmresume',
  'done_resuming:',
  ...then,
];

const HOST_NMI = ['.intgate 2, host_nmi'];
const DATA = ['host_nmi: inc qword [host_nmis]', '        iretq', 'exit_count: .dq 0', 'host_nmis: .dq 0'];

describe('NMI exiting = 0: blocking by NMI goes with the processor between guest and host', () => {
  it('an exit from inside an injected NMI handler leaves the host blocked; the guest’s IRET ends it, and a later host NMI arrives', () => {
    const s = runVmx(
      {
        hostIdt: HOST_NMI,
        guestIdt: ['.intgate 2, guest_nmi'],
        setup: ['vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | 2'],
        host: resumeTimes(1, [
          'host_wait: work 200',
          '        assert [host_nmis] == 1, "the NMI reached the host after the guest’s IRET"',
        ]),
        guest: ['back:  vmcall', 'guest_nmi: vmcall', '        iretq'],
        extra: DATA,
      },
      [{ at: { level: 0, label: 'host_wait' }, nmi: true }],
    );
    expect(exits(s).map((e) => [e.reason, e.rip])).toEqual([
      [18, label(s, 'guest_nmi')],
      [18, label(s, 'back')],
    ]);
    // The first exit (in the handler): blocking by NMI saved and still in effect in the host.
    const first = exits(s)[0].step;
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO', first)).toBe(8);
    expect(cpu(s, first).interruptibility.nmi).toBe(true);
    // The second exit (after the guest's IRET): nothing blocked, and the host takes the NMI.
    const second = exits(s)[1].step;
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO', second)).toBe(0);
    expect(cpu(s, second).interruptibility.nmi).toBe(false);
    expect(entries(s)[0].guestRip).toBe(label(s, 'guest_nmi'));
    expect(deliveries(s).map((d) => [d.vector, d.handler])).toEqual([[2, label(s, 'host_nmi')]]);
    expect(passed(s)).toEqual([true]);
  });

  it.each([
    ['NMI exiting = 0', '0'],
    ['NMI exiting = 1', 'PIN_BASED_NMI_EXITING'],
  ])(
    '%s: a host blocked at VM entry (in its NMI handler) is not blocked after the exit, since bit 3 = 0 unblocked the guest',
    (_, pin) => {
      const s = runVmx(
        {
          hostIdt: HOST_NMI,
          pre: ['pre_wait: work 100', '        jmp pre_wait', 'pre_done:'],
          setup: [`vmwrite PIN_BASED_VM_EXEC_CONTROL, ${pin}`],
          host: ['host_wait: work 200', '        assert [host_nmis] == 2, "the second NMI reached the host"'],
          extra: [
            // The first NMI's handler does not return: it goes on to enter the guest, blocked.
            'host_nmi: inc qword [host_nmis]',
            '        cmp qword [host_nmis], 1',
            '        je pre_done',
            '        iretq',
            'host_nmis: .dq 0',
          ],
        },
        [
          { at: { level: 0, label: 'pre_wait' }, nmi: true },
          { at: { level: 0, label: 'host_wait' }, nmi: true },
        ],
      );
      expect(cpu(s, stepAt(s, 'launch') - 1).interruptibility.nmi).toBe(true);
      expect(exits(s).map((e) => e.reason)).toEqual([18]);
      expect(cpu(s, exits(s)[0].step).interruptibility.nmi).toBe(false);
      expect(passed(s)).toEqual([true]);
    },
  );
});

describe('NMI exiting = 1 without virtual NMIs: bit 3 blocks NMIs only while in non-root operation', () => {
  it('an NMI waits while the guest runs with bit 3 = 1; the VMCALL exit saves 0 and the host takes the NMI at once', () => {
    const s = runVmx(
      {
        hostIdt: HOST_NMI,
        setup: [
          'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING',
          'vmwrite GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI',
        ],
        host: ['        nop', '        assert [host_nmis] == 1, "the host took the NMI after the exit"'],
        guest: ['g_wait: work 100', '        vmcall'],
        extra: DATA,
      },
      [{ at: { level: 0, label: 'g_wait' }, nmi: true }],
    );
    // No NMI exit while the guest was blocked: the VMCALL is the only exit.
    expect(exits(s).map((e) => e.reason)).toEqual([18]);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO', exits(s)[0].step)).toBe(0);
    expect(deliveries(s).map((d) => [d.vector, d.handler])).toEqual([[2, label(s, 'host_nmi')]]);
    expect(passed(s)).toEqual([true]);
  });

  it('an NMI that causes the exit blocks the host’s NMIs once the exit completes', () => {
    const s = runVmx(
      {
        hostIdt: HOST_NMI,
        setup: ['vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING'],
        host: [
          'host_wait: work 200',
          '        assert [host_nmis] == 0, "the host is blocked until its IRET"',
        ],
        guest: ['g_wait: work 1000', '        vmcall'],
        extra: DATA,
      },
      [
        { at: { level: 0, label: 'g_wait' }, nmi: true },
        { at: { level: 0, label: 'host_wait' }, nmi: true },
      ],
    );
    expect(exits(s).map((e) => [e.reason, e.intrInfo])).toEqual([[0, 0x80000202]]);
    expect(cpu(s, exits(s)[0].step).interruptibility.nmi).toBe(true);
    expect(passed(s)).toEqual([true]);
  });
});

describe('an NMI whose delivery causes the exit', () => {
  const npErr = (2 << 3) | 2 | 1; // #NP: IDT vector 2, the IDT bit, EXT
  it('virtual NMIs: the injected NMI’s faulting delivery leaves virtual-NMI blocking in effect, saved in bit 3; re-injecting it without clearing bit 3 fails the entry', () => {
    const s = runVmx({
      setup: [
        'vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS',
        'vmwrite EXCEPTION_BITMAP, 0x800',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | 2',
      ],
      host: [
        '        inc qword [exit_count]',
        '        cmp qword [exit_count], 1',
        '        jne second',
        '        vmread rax, IDT_VECTORING_INFO_FIELD',
        '        vmwrite VM_ENTRY_INTR_INFO_FIELD, rax',
        '        vmresume',
        'second: nop',
      ],
      extra: ['exit_count: .dq 0'],
    });
    const [first, second] = exits(s);
    expect([first.reason, first.intrInfo, first.vectoring]).toEqual([
      0,
      info(EventType.HW_EXCEPTION, 11, true),
      0x80000202,
    ]);
    expect(field(s, 'VM_EXIT_INTR_ERROR_CODE', first.step)).toBe(npErr);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO', first.step)).toBe(8);
    expect(cpu(s, first.step).interruptibility.nmi).toBe(false);
    // "Checks on Guest Non-Register State": an NMI cannot be injected under virtual-NMI blocking.
    expect(second.reason).toBe(0x80000021);
  });

  it('NMI exiting = 0: the faulting delivery of an injected NMI blocks NMIs; the exit saves bit 3 and the host stays blocked', () => {
    const s = runVmx({
      setup: [
        'vmwrite EXCEPTION_BITMAP, 0x800',
        'vmwrite VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | 2',
      ],
    });
    const [first] = exits(s);
    expect([first.reason, first.vectoring]).toEqual([0, 0x80000202]);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO', first.step)).toBe(8);
    expect(cpu(s, first.step).interruptibility.nmi).toBe(true);
  });

  it('NMI exiting = 0: an external NMI whose delivery through the guest IDT faults into an exit', () => {
    const s = runVmx(
      {
        setup: ['vmwrite EXCEPTION_BITMAP, 0x800'],
        guest: ['g_wait: work 100', '        vmcall'],
      },
      [{ at: { level: 0, label: 'g_wait' }, nmi: true }],
    );
    const [first] = exits(s);
    expect([first.reason, first.intrInfo, first.vectoring]).toEqual([
      0,
      info(EventType.HW_EXCEPTION, 11, true),
      0x80000202,
    ]);
    expect(field(s, 'GUEST_INTERRUPTIBILITY_INFO', first.step)).toBe(8);
    expect(cpu(s, first.step).interruptibility.nmi).toBe(true);
  });
});
