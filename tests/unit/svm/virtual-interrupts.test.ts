// AMD APM "Virtual Interrupts": V_IRQ taken when the guest's IF = 1 and V_INTR_PRIO > V_TPR
// (or V_IGN_TPR), clearing V_IRQ; the VINTR intercept exits (0x64) instead of and before the
// delivery; the interrupt shadow (int_state) holds it for one instruction.
import { describe, expect, it } from 'vitest';
import { deliveries, label } from '../helpers';
import { runSvm, svmExits, vmcb } from './svm-helpers';

const V_IRQ = 0x100;

function virq(
  intCtl: string,
  opts: { intercept?: boolean; rflags?: number; intState?: number; guest?: string[] } = {},
) {
  return runSvm({
    guestIdt: ['        .intgate 0x30, g_irq'],
    setup: [
      `        mov dword [rbx + VMCB_INT_CTL], ${intCtl}`,
      '        mov dword [rbx + VMCB_INT_VECTOR], 0x30',
      `        mov qword [rbx + VMCB_RFLAGS], ${opts.rflags ?? 0x202}`,
      ...(opts.intercept ? ['        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_VINTR_MASK'] : []),
      ...(opts.intState ? [`        mov dword [rbx + VMCB_INT_STATE], ${opts.intState}`] : []),
    ],
    guest: opts.guest ?? ['g0:     nop', 'g1:     vmmcall'],
    extra: ['g_irq:  vmmcall'],
  });
}

describe('V_IRQ and V_TPR', () => {
  it('V_IRQ with V_INTR_PRIO below V_TPR is not delivered (and not cleared)', () => {
    const s = virq('V_IRQ_MASK | 0x20000 | 3');
    expect(deliveries(s)).toHaveLength(0);
    expect(svmExits(s).map((e) => [e.code, e.rip])).toEqual([[0x81, label(s, 'g1')]]);
    expect(vmcb(s, 'int_ctl') & V_IRQ).toBe(V_IRQ);
  });

  it('V_IRQ with V_INTR_PRIO equal to V_TPR is not delivered', () => {
    const s = virq('V_IRQ_MASK | 0x30000 | 3');
    expect(deliveries(s)).toHaveLength(0);
  });

  it('V_IRQ above V_TPR is delivered at int_vector and V_IRQ is cleared', () => {
    const s = virq('V_IRQ_MASK | 0x40000 | 3');
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0].vector).toBe(0x30);
    expect(d[0].rip).toBe(label(s, 'g0'));
    expect(svmExits(s)[0].rip).toBe(label(s, 'g_irq'));
    expect(vmcb(s, 'int_ctl') & V_IRQ).toBe(0);
  });

  it('V_IGN_TPR delivers V_IRQ whatever V_TPR', () => {
    const s = virq('V_IRQ_MASK | V_IGN_TPR_MASK | 0xf');
    expect(deliveries(s).map((d) => d.vector)).toEqual([0x30]);
  });

  it('the guest IF masks V_IRQ: it is taken after STI and its shadow', () => {
    const s = virq('V_IRQ_MASK | 0x40000', {
      rflags: 2,
      guest: ['        nop', '        sti', 'g0:     nop', 'g1:     vmmcall'],
    });
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0].rip).toBe(label(s, 'g1'));
  });

  it('int_state (interrupt shadow) holds V_IRQ for the first guest instruction', () => {
    const s = virq('V_IRQ_MASK | 0x40000', { intState: 1 });
    const d = deliveries(s);
    expect(d).toHaveLength(1);
    expect(d[0].rip).toBe(label(s, 'g1'));
  });
});

describe('VINTR intercept', () => {
  it('exits 0x64 before delivering V_IRQ; V_IRQ stays set', () => {
    const s = virq('V_IRQ_MASK | 0x40000', { intercept: true });
    expect(deliveries(s)).toHaveLength(0);
    const e = svmExits(s);
    expect(e.map((x) => [x.code, x.rip])).toEqual([[0x64, label(s, 'g0')]]);
    expect(vmcb(s, 'int_ctl') & V_IRQ).toBe(V_IRQ);
  });

  it('does not exit while V_IRQ is below V_TPR', () => {
    const s = virq('V_IRQ_MASK | 0x10000 | 2', { intercept: true });
    expect(svmExits(s).map((x) => x.code)).toEqual([0x81]);
  });

  it('waits for the guest IF: exits after STI and its shadow', () => {
    const s = virq('V_IRQ_MASK | 0x40000', {
      intercept: true,
      rflags: 2,
      guest: ['        nop', '        sti', 'g0:     nop', 'g1:     vmmcall'],
    });
    expect(svmExits(s).map((x) => [x.code, x.rip])).toEqual([[0x64, label(s, 'g1')]]);
  });
});

describe('CR8 and V_TPR', () => {
  it('with V_INTR_MASKING the guest writes and reads V_TPR through CR8, not the APIC TPR', () => {
    const s = runSvm({
      setup: ['        mov dword [rbx + VMCB_INT_CTL], V_INTR_MASKING_MASK | 5'],
      guest: ['        mov rcx, cr8', '        mov rax, 9', '        mov cr8, rax', '        vmmcall'],
    });
    expect(vmcb(s, 'int_ctl') & 0xf).toBe(9);
    const st = s.sim.stateAt(s.totalSteps);
    expect(st.apic.tpr).toBe(0);
    expect(st.cpu.regs[2]).toBe(5);
  });

  it('a guest lowering V_TPR through CR8 lets a held V_IRQ in', () => {
    const s = runSvm({
      guestIdt: ['        .intgate 0x30, g_irq'],
      setup: [
        '        mov dword [rbx + VMCB_INT_CTL], V_INTR_MASKING_MASK | V_IRQ_MASK | 0x40000 | 6',
        '        mov dword [rbx + VMCB_INT_VECTOR], 0x30',
        '        mov qword [rbx + VMCB_RFLAGS], 0x202',
      ],
      guest: ['        xor eax, eax', 'g1:     mov cr8, rax', 'g2:     vmmcall'],
      extra: ['g_irq:  vmmcall'],
    });
    expect(deliveries(s).map((d) => [d.vector, d.rip])).toEqual([[0x30, label(s, 'g2')]]);
  });
});
