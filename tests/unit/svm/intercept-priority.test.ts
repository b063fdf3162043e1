// Which #VMEXIT (or delivery) comes first when several apply at once: AMD APM "Interrupt and
// Exception Priority" with the intercepts spliced in (svm/guest.ts): a trap on the previous
// instruction, then NMI (its intercept), vNMI, INTR (its intercept), then V_IRQ (VINTR); an
// instruction intercept is checked before the instruction's own faults (after #UD).
import { describe, expect, it } from 'vitest';
import { deliveries, label } from '../helpers';
import { runSvm, svmExits, vmcb } from './svm-helpers';

const HOST_IDT = ['        .intgate 0x40, host_irq', '        .intgate 2, host_nmi'];
const HOST_HANDLERS = ['host_irq: cli', '        hlt', 'host_nmi: cli', '        hlt'];

describe('boundary priority in the guest', () => {
  it('NMI and INTR pending together with both intercepts: the NMI exits first (0x61)', () => {
    const s = runSvm(
      {
        hostIdt: HOST_IDT,
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_INTR_MASK | INTERCEPT_NMI_MASK',
          '        mov qword [rbx + VMCB_RFLAGS], 0x202',
        ],
        guest: ['g0:     nop', 'g1:     nop', '        vmmcall'],
        extra: HOST_HANDLERS,
      },
      [
        { at: { level: 0, label: 'g1' }, irq: 0x40 },
        { at: { level: 0, label: 'g1' }, nmi: true },
      ],
    );
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x61, label(s, 'g1')]]);
  });

  it('INTR (intercepted) before a deliverable V_IRQ with the VINTR intercept', () => {
    const s = runSvm(
      {
        hostIdt: HOST_IDT,
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_INTR_MASK | INTERCEPT_VINTR_MASK',
          '        mov dword [rbx + VMCB_INT_CTL], V_IRQ_MASK | 0xf0000',
          '        mov qword [rbx + VMCB_RFLAGS], 2',
        ],
        // IF = 0 holds both (no V_INTR_MASKING: the guest's IF masks INTR too); STI opens both.
        guest: ['g0:     nop', '        sti', 'g2:     nop', 'g3:     vmmcall'],
        extra: HOST_HANDLERS,
      },
      [{ at: { level: 0, label: 'g0' }, irq: 0x40 }],
    );
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x60, label(s, 'g3')]]);
    expect(vmcb(s, 'int_ctl') & 0x100).toBe(0x100);
  });

  it('a vNMI is taken before a physical INTR the guest would take', () => {
    const s = runSvm(
      {
        guestIdt: ['        .intgate 2, g_nmi', '        .intgate 0x40, g_irq'],
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
          '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK',
          '        mov qword [rbx + VMCB_RFLAGS], 0x202',
        ],
        guest: ['g0:     nop', 'g1:     nop', '        vmmcall'],
        extra: ['g_nmi:  vmmcall', 'g_irq:  vmmcall'],
      },
      [{ at: { level: 0, label: 'g0' }, irq: 0x40 }],
    );
    // The IRQ is delivered to the guest at g0 (no vNMI pending yet): contrast below.
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[0x40, label(s, 'g0')]]);
    const t = runSvm(
      {
        guestIdt: ['        .intgate 2, g_nmi', '        .intgate 0x40, g_irq'],
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
          '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK | V_NMI_PENDING_MASK',
          '        mov qword [rbx + VMCB_RFLAGS], 0x202',
        ],
        guest: ['g0:     nop', 'g1:     nop', '        vmmcall'],
        extra: ['g_nmi:  vmmcall', 'g_irq:  vmmcall'],
      },
      [{ at: { level: 0, label: 'run' }, irq: 0x40 }],
    );
    // IRQ 0x40 waits at the host (IF = 0, GIF = 1); both are pending at the first guest
    // boundary: the virtual NMI first.
    expect(svmExits(t).map((e) => [e.code, e.rip])).toEqual([[0x81, label(t, 'g_nmi')]]);
  });

  it('the single-step #DB trap (intercepted) comes before an intercepted INTR', () => {
    const s = runSvm(
      {
        hostIdt: HOST_IDT,
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_INTR_MASK',
          '        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x2',
          '        mov qword [rbx + VMCB_RFLAGS], 0x302',
        ],
        guest: ['g0:     nop', 'g1:     nop', '        vmmcall'],
        extra: HOST_HANDLERS,
      },
      [{ at: { level: 0, label: 'g1' }, irq: 0x40 }],
    );
    // TF loaded by VMRUN traps after the first guest instruction, not before it.
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x41, label(s, 'g1')]]);
  });

  it('a fault during EVENTINJ delivery exits before a pending intercepted INTR', () => {
    const s = runSvm(
      {
        hostIdt: HOST_IDT,
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_INTR_MASK',
          '        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x800',
          '        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR | 0x31',
          '        sti',
          '        clgi',
        ],
        extra: HOST_HANDLERS,
      },
      [{ at: { level: 0, label: 'run' }, irq: 0x40 }],
    );
    const e = svmExits(s);
    expect(e.map((x) => [x.code, x.rip, x.exitIntInfo])).toEqual([[0x4b, label(s, 'guest'), 0x80000031]]);
  });
});

describe('instruction intercepts before the instruction’s faults', () => {
  it('RDMSR of an MSR outside the MSRPM ranges exits (0x7C) instead of its #GP', () => {
    const s = runSvm({
      setup: ['        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_MSR_PROT_MASK'],
      guestIdt: ['        .intgate 13, g_gp'],
      guest: ['        mov ecx, 0x40000000', 'gi:     rdmsr', '        vmmcall'],
      extra: ['g_gp:   vmmcall'],
    });
    expect(svmExits(s).map((e) => [e.code, e.rip, e.info1])).toEqual([[0x7c, label(s, 'gi'), 0]]);
  });

  it('without the intercept the same RDMSR raises #GP in the guest', () => {
    const s = runSvm({
      guestIdt: ['        .intgate 13, g_gp'],
      guest: ['        mov ecx, 0x40000000', 'gi:     rdmsr', '        vmmcall'],
      extra: ['g_gp:   vmmcall'],
    });
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[13, label(s, 'gi')]]);
  });

  it('an SVM instruction with the guest EFER.SVME = 0 raises #UD before its intercept', () => {
    const s = runSvm({
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT_WORD4], INTERCEPT_VMRUN_MASK | INTERCEPT_VMMCALL_MASK | INTERCEPT_STGI_MASK',
        '        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x40',
      ],
      guest: [
        '        mov ecx, MSR_EFER',
        '        rdmsr',
        '        and eax, 0xffffefff',
        '        wrmsr',
        'gi:     stgi',
        '        vmmcall',
      ],
    });
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x46, label(s, 'gi')]]);
  });

  it('the HLT intercept exits before the guest halts; a deliverable interrupt at that boundary comes first', () => {
    const s = runSvm(
      {
        guestIdt: ['        .intgate 0x40, g_irq'],
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_HLT_MASK',
          '        mov qword [rbx + VMCB_RFLAGS], 0x202',
        ],
        guest: ['g0:     nop', 'gh:     hlt', '        vmmcall'],
        extra: ['g_irq:  iretq'],
      },
      [{ at: { level: 0, label: 'gh' }, irq: 0x40 }],
    );
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[0x40, label(s, 'gh')]]);
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x78, label(s, 'gh')]]);
  });
});

describe('the host’s TF at VMRUN (kvm-unit-tests host_rflags)', () => {
  // POPF sets TF: the next instruction (MOV RAX, RBX) traps at VMRUN; the handler keeps TF
  // there (host_rflags_db_handler with ss_on_vmrun), so VMRUN begins with TF = 1; it clears
  // TF at the next trap.
  const HOST_DB = ['        .intgate 1, host_db'];
  const DB_HANDLER = [
    'host_db: add qword [db_count], 1',
    '        mov rcx, run',
    '        cmp [rsp], rcx',
    '        je host_db_keep',
    '        and qword [rsp + 16], 0xfffffffffffffeff',
    'host_db_keep: iretq',
    'db_count: .dq 0',
  ];
  const SET_TF = ['        pushfq', '        or qword [rsp], 0x100', '        popfq'];

  it('traps once on the host side after the #VMEXIT, at the instruction after VMRUN; the guest runs untraced', () => {
    const s = runSvm({
      hostIdt: HOST_DB,
      setup: SET_TF,
      guest: ['g0:     nop', '        nop', '        vmmcall'],
      extra: DB_HANDLER,
    });
    expect(svmExits(s).map((e) => e.code)).toEqual([0x81]);
    expect(deliveries(s).map((d) => [d.vector, d.rip, d.handler])).toEqual([
      [1, label(s, 'run'), label(s, 'host_db')],
      [1, label(s, 'after_vmrun'), label(s, 'host_db')],
    ]);
  });

  it('a VMRUN that fails its checks traps right after it', () => {
    const s = runSvm({
      hostIdt: HOST_DB,
      setup: ['        mov dword [rbx + VMCB_ASID], 0', ...SET_TF],
      extra: DB_HANDLER,
    });
    expect(svmExits(s).map((e) => e.code)).toEqual([-1]);
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([
      [1, label(s, 'run')],
      [1, label(s, 'after_vmrun')],
    ]);
  });
});
