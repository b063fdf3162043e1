// Physical INTR and NMI in an SVM guest (AMD APM "Global Interrupt Flag", "Physical (INTR)
// Interrupt Masking in EFLAGS", "NMI Virtualization"): the intercepts exit 0x60/0x61 without
// consuming the event, which the host takes once GIF = 1 (STGI); V_INTR_MASKING decides
// whose IF masks INTR; vNMI; the IRET intercept; vGIF.
import { describe, expect, it } from 'vitest';
import { deliveries, label } from '../helpers';
import { runSvm, svmExits, vmcb } from './svm-helpers';

const HOST_IDT = ['        .intgate 0x40, host_irq', '        .intgate 2, host_nmi'];
const HOST_HANDLERS = ['host_irq: cli', '        hlt', 'host_nmi: cli', '        hlt'];

describe('INTR intercept and V_INTR_MASKING', () => {
  it('with V_INTR_MASKING the host IF decides: exit 0x60 though the guest has IF = 0; the host takes the interrupt at STGI', () => {
    const s = runSvm(
      {
        hostIdt: HOST_IDT,
        pre: ['        sti'],
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_INTR_MASK',
          '        mov dword [rbx + VMCB_INT_CTL], V_INTR_MASKING_MASK',
        ],
        host: ['h0:     nop', 'h1:     stgi', 'h2:     nop'],
        guest: ['g0:     nop', 'g1:     nop', '        vmmcall'],
        extra: HOST_HANDLERS,
      },
      [{ at: { level: 0, label: 'g1' }, irq: 0x40 }],
    );
    const e = svmExits(s);
    expect(e.map((x) => [x.code, x.rip])).toEqual([[0x60, label(s, 'g1')]]);
    // Not acknowledged: delivered to the host only after STGI (GIF = 1), at h2.
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0].vector).toBe(0x40);
    expect(d[0].rip).toBe(label(s, 'h2'));
    expect(d[0].handler).toBe(label(s, 'host_irq'));
  });

  it('with V_INTR_MASKING the host IF = 0 masks INTR in the guest (no exit, no delivery)', () => {
    const s = runSvm(
      {
        hostIdt: HOST_IDT,
        guestIdt: ['        .intgate 0x40, g_irq'],
        setup: [
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_INTR_MASK',
          '        mov dword [rbx + VMCB_INT_CTL], V_INTR_MASKING_MASK',
          '        mov qword [rbx + VMCB_RFLAGS], 0x202',
        ],
        guest: ['g0:     nop', 'g1:     nop', '        vmmcall'],
        extra: ['g_irq:  vmmcall', ...HOST_HANDLERS],
      },
      [{ at: { level: 0, label: 'g1' }, irq: 0x40 }],
    );
    expect(svmExits(s).map((x) => x.code)).toEqual([0x81]);
    expect(deliveries(s)).toHaveLength(0);
  });

  it('without V_INTR_MASKING the guest IF masks INTR: the exit waits for STI and its shadow', () => {
    const s = runSvm(
      {
        hostIdt: HOST_IDT,
        setup: ['        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_INTR_MASK'],
        guest: ['g0:     nop', 'g1:     nop', '        sti', 'g3:     nop', 'g4:     vmmcall'],
        extra: HOST_HANDLERS,
      },
      [{ at: { level: 0, label: 'g1' }, irq: 0x40 }],
    );
    expect(svmExits(s).map((x) => [x.code, x.rip])).toEqual([[0x60, label(s, 'g4')]]);
  });

  it('without the INTR intercept the guest takes the physical interrupt through its IDT', () => {
    const s = runSvm(
      {
        guestIdt: ['        .intgate 0x40, g_irq'],
        setup: ['        mov qword [rbx + VMCB_RFLAGS], 0x202'],
        guest: ['g0:     nop', 'g1:     nop', '        vmmcall'],
        extra: ['g_irq:  vmmcall'],
      },
      [{ at: { level: 0, label: 'g1' }, irq: 0x40 }],
    );
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[0x40, label(s, 'g1')]]);
    expect(svmExits(s)[0].rip).toBe(label(s, 'g_irq'));
  });
});

describe('GIF', () => {
  it('CLGI holds an NMI pending; STGI lets it in at the next boundary', () => {
    const s = runSvm(
      {
        hostIdt: HOST_IDT,
        setup: ['        clgi', 'p1:     nop', '        nop', 'p3:     stgi', 'p4:     nop'],
        extra: HOST_HANDLERS,
      },
      [{ at: { level: 0, label: 'p1' }, nmi: true }],
    );
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0].vector).toBe(2);
    expect(d[0].rip).toBe(label(s, 'p4'));
  });

  it('the NMI intercept exits 0x61 without consuming the NMI; the host takes it at STGI', () => {
    const s = runSvm(
      {
        hostIdt: HOST_IDT,
        setup: ['        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK'],
        host: ['h0:     nop', '        stgi', 'h2:     nop'],
        guest: ['g0:     nop', 'g1:     nop', '        vmmcall'],
        extra: HOST_HANDLERS,
      },
      [{ at: { level: 0, label: 'g1' }, nmi: true }],
    );
    expect(svmExits(s).map((x) => [x.code, x.rip])).toEqual([[0x61, label(s, 'g1')]]);
    const d = deliveries(s);
    expect(d.map((x) => [x.vector, x.rip])).toEqual([[2, label(s, 'h2')]]);
  });

  it.each([
    ['INTR', 'INTERCEPT_INTR_MASK', { irq: 0x40 }, 0x60],
    ['NMI', 'INTERCEPT_NMI_MASK', { nmi: true }, 0x61],
  ] as const)(
    'a guest CLGI without vGIF clears the real GIF: the %s intercept waits for its STGI',
    (_n, mask, ev, code) => {
      const s = runSvm(
        {
          hostIdt: HOST_IDT,
          setup: [
            `        mov dword [rbx + VMCB_INTERCEPT], ${mask}`,
            '        mov qword [rbx + VMCB_RFLAGS], 0x202',
          ],
          guest: [
            '        clgi',
            'g1:     nop',
            '        sti',
            '        nop',
            'g4:     stgi',
            'g5:     vmmcall',
          ],
          extra: HOST_HANDLERS,
        },
        [{ at: { level: 0, label: 'g1' }, ...ev }],
      );
      // Held through the guest's STI and NOP while GIF = 0; the exit comes after the STGI.
      expect(svmExits(s).map((x) => [x.code, x.rip])).toEqual([[code, label(s, 'g5')]]);
      expect(deliveries(s)).toHaveLength(0);
    },
  );

  it('vGIF: with V_GIF_ENABLE the guest CLGI/STGI write V_GIF, not GIF', () => {
    const s = runSvm({
      setup: ['        mov dword [rbx + VMCB_INT_CTL], V_GIF_ENABLE_MASK | V_GIF_MASK'],
      guest: ['        clgi', '        vmmcall'],
    });
    expect(svmExits(s).map((x) => x.code)).toEqual([0x81]);
    expect(vmcb(s, 'int_ctl') & 0x200).toBe(0);
    const t = runSvm({
      setup: ['        mov dword [rbx + VMCB_INT_CTL], V_GIF_ENABLE_MASK'],
      guest: ['        stgi', '        vmmcall'],
    });
    expect(vmcb(t, 'int_ctl') & 0x200).toBe(0x200);
  });

  it('vGIF: V_GIF = 0 holds a physical interrupt the guest would take', () => {
    const s = runSvm(
      {
        guestIdt: ['        .intgate 0x40, g_irq'],
        setup: [
          '        mov dword [rbx + VMCB_INT_CTL], V_GIF_ENABLE_MASK',
          '        mov qword [rbx + VMCB_RFLAGS], 0x202',
        ],
        guest: ['g0:     nop', 'g1:     nop', 'g2:     stgi', 'g3:     nop', '        vmmcall'],
        extra: ['g_irq:  vmmcall'],
      },
      [{ at: { level: 0, label: 'g1' }, irq: 0x40 }],
    );
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[0x40, label(s, 'g3')]]);
  });
});

describe('vNMI and the IRET intercept', () => {
  const NMI_IDT = ['        .intgate 2, g_nmi'];

  it('V_NMI is taken when V_NMI_MASK is clear: V_NMI cleared, V_NMI_MASK set during the handler', () => {
    const s = runSvm({
      guestIdt: NMI_IDT,
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
        '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK | V_NMI_PENDING_MASK',
      ],
      guest: ['g0:     nop', '        vmmcall'],
      extra: ['g_nmi:  vmmcall'],
    });
    expect(deliveries(s).map((d) => [d.vector, d.type, d.rip])).toEqual([[2, 2, label(s, 'g0')]]);
    expect(svmExits(s)[0].rip).toBe(label(s, 'g_nmi'));
    const intCtl = vmcb(s, 'int_ctl');
    expect(intCtl & 0x800).toBe(0); // V_NMI_PENDING
    expect(intCtl & 0x1000).toBe(0x1000); // V_NMI_BLOCKING
  });

  it('the guest IRET clears V_NMI_MASK (no IRET intercept, one exit)', () => {
    const s = runSvm({
      guestIdt: NMI_IDT,
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
        '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK | V_NMI_PENDING_MASK',
      ],
      guest: ['g0:     nop', 'g1:     vmmcall'],
      extra: ['g_nmi:  iretq'],
    });
    expect(svmExits(s).map((x) => [x.code, x.rip])).toEqual([[0x81, label(s, 'g1')]]);
    expect(vmcb(s, 'int_ctl') & 0x1800).toBe(0);
  });

  it('V_NMI_MASK holds a second V_NMI until the IRET', () => {
    const s = runSvm({
      guestIdt: NMI_IDT,
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
        '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK | V_NMI_BLOCKING_MASK | V_NMI_PENDING_MASK',
      ],
      guest: ['g0:     nop', 'g1:     vmmcall'],
      extra: ['g_nmi:  vmmcall'],
    });
    expect(deliveries(s)).toHaveLength(0);
    expect(svmExits(s)[0].rip).toBe(label(s, 'g1'));
    expect(vmcb(s, 'int_ctl') & 0x1800).toBe(0x1800);
  });

  it('an NMI injected with vNMI sets V_NMI_MASK; without vNMI it blocks nothing', () => {
    const v = runSvm({
      guestIdt: NMI_IDT,
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
        '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK',
        '        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI',
      ],
      extra: ['g_nmi:  vmmcall'],
    });
    expect(vmcb(v, 'int_ctl') & 0x1000).toBe(0x1000);
    // Without vNMI: a physical NMI arriving in the injected NMI's handler is delivered at once.
    const n = runSvm(
      {
        guestIdt: NMI_IDT,
        setup: ['        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI'],
        extra: ['g_nmi:  nop', 'g_n1:   vmmcall'],
      },
      [{ at: { level: 0, label: 'g_n1' }, nmi: true }],
    );
    expect(deliveries(n).map((d) => [d.vector, d.rip])).toEqual([[2, label(n, 'g_n1')]]);
  });

  it('a #VMEXIT during the delivery of a virtual NMI leaves V_NMI_MASK clear and reports the NMI in EXITINTINFO', () => {
    // No gate for vector 2: #NP, intercepted.
    const s = runSvm({
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_NMI_MASK',
        '        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x800',
        '        mov dword [rbx + VMCB_INT_CTL], V_NMI_ENABLE_MASK | V_NMI_PENDING_MASK',
      ],
      guest: ['g0:     nop', '        vmmcall'],
    });
    const e = svmExits(s);
    expect(e.map((x) => [x.code, x.rip])).toEqual([[0x4b, label(s, 'g0')]]);
    expect(vmcb(s, 'exit_int_info')).toBe(0x80000202);
    expect(vmcb(s, 'int_ctl') & 0x1800).toBe(0);
  });

  it('the IRET intercept exits 0x74 before the IRET of an injected NMI', () => {
    const s = runSvm({
      guestIdt: NMI_IDT,
      setup: [
        '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_IRET_MASK',
        '        mov dword [rbx + VMCB_EVENT_INJ], SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_NMI',
      ],
      extra: ['g_nmi:  iretq'],
    });
    const e = svmExits(s);
    expect(e.map((x) => [x.code, x.rip])).toEqual([[0x74, label(s, 'g_nmi')]]);
    expect(vmcb(s, 'next_rip')).toBe(label(s, 'g_nmi') + 2);
  });
});
