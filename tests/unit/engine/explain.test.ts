// The per-step explanation: what happened, why, and the SDM section it follows.
import { describe, expect, it } from 'vitest';
import { EventKind, STOP, deliveries, label, rows, run, stepsOf } from '../helpers';

const hex = (v: number) => '0x' + v.toString(16);

describe('instruction explanations', () => {
  it('STI with IF=0 says blocking by STI and cites "STI—Set Interrupt Flag"', () => {
    const s = run(['start:', 'sti', ...STOP]);
    const e = s.view(1).explanation;
    expect(e.text).toMatch(/IF 0→1, with blocking by STI/);
    expect(e.cite).toBe('Intel SDM Vol. 2B, "STI—Set Interrupt Flag"');
  });

  it('CLI, HLT and POPF explain their effect on interrupts', () => {
    const s = run(['start:', 'push 0x202', 'popf', 'cli', 'hlt']);
    expect(s.view(2).explanation).toMatchObject({
      text: expect.stringMatching(/IF 0→1, without an interrupt shadow/),
      cite: expect.stringMatching(/POPF/),
    });
    expect(s.view(3).explanation).toMatchObject({
      text: expect.stringMatching(/IF 1→0: maskable interrupts now wait in the IRR; NMIs are not affected/),
      cite: expect.stringMatching(/CLI/),
    });
    expect(s.view(4).explanation).toMatchObject({
      text: expect.stringMatching(/only an NMI \(IF=0\) can resume it/),
      cite: expect.stringMatching(/HLT—Halt/),
    });
  });

  it('APIC writes: TPR, EOI, fixed self-IPI and NMI IPI', () => {
    const s = run([
      'start:',
      'mov ecx, 0x808',
      'mov eax, 0x50',
      'xor edx, edx',
      'tpr: wrmsr',
      'mov ecx, 0x830',
      'mov eax, 0x40042',
      'fixed: wrmsr',
      'mov eax, 0x40400',
      'nmi_ipi: wrmsr',
      ...STOP,
      '.intgate 2, n',
      'n: iretq',
    ]);
    const at = (l: string) => rows(s).find((r) => r.kind === EventKind.INSTR && r.rip === label(s, l))!.step;
    expect(s.view(at('tpr')).explanation).toMatchObject({
      text: expect.stringContaining(
        'TPR ← 0x50: only vectors whose class (vector >> 4) is above 5 can be delivered',
      ),
      cite: expect.stringMatching(/Processor Priority Register/),
    });
    expect(s.view(at('fixed')).explanation.text).toMatch(
      /ICR write sends a fixed self-IPI: IRR bit 0x42 set/,
    );
    expect(s.view(at('fixed')).explanation.cite).toMatch(/Interrupt Command Register/);
    expect(s.view(at('nmi_ipi')).explanation.text).toMatch(/an NMI to itself: NMI pending/);
  });

  it('EOI names the vector that leaves the ISR and cites "End-Of-Interrupt (EOI)"', () => {
    const s = run(
      [
        'start:',
        'sti',
        'work 100',
        ...STOP,
        '.intgate 0x40, h',
        'h:',
        'xor eax, eax',
        'xor edx, edx',
        'mov ecx, 0x80b',
        'e: wrmsr',
        'iretq',
      ],
      [{ at: { time: 10 }, irq: 0x40 }],
    );
    const step = rows(s).find((r) => r.rip === label(s, 'e'))!.step;
    expect(s.view(step).explanation.text).toMatch(/EOI: the highest in-service vector 0x40 leaves the ISR/);
    expect(s.view(step).explanation.cite).toMatch(/End-Of-Interrupt \(EOI\)/);
  });
});

describe('delivery explanations', () => {
  it('an NMI delivery cites "NMI Handling" and says NMIs are now blocked', () => {
    const s = run(
      ['start:', 'work 100', ...STOP, '.intgate 2, n', 'n: iretq'],
      [{ at: { time: 10 }, nmi: true }],
    );
    const d = deliveries(s)[0];
    const e = s.view(d.step).explanation;
    expect(e.text).toMatch(/^Delivered NMI through an interrupt gate/);
    expect(e.text).toMatch(/NMIs are now blocked until the next IRET/);
    expect(e.text).toContain(`return RIP ${hex(label(s, 'start'))}`);
    expect(e.cite).toBe('Intel SDM Vol. 3A, "NMI Handling"');
    expect(s.view(stepsOf(s, EventKind.RAISE)[0].step).explanation.cite).toMatch(/NMI Handling/);
  });

  it('an IRQ delivery names the vector, the IRR→ISR move and cites interrupt acceptance', () => {
    const s = run(
      ['start:', 'sti', 'work 100', ...STOP, '.intgate 0x40, h', 'h: iretq'],
      [{ at: { time: 10 }, irq: 0x40, note: 'tick' }],
    );
    const d = deliveries(s)[0];
    const e = s.view(d.step).explanation;
    expect(e.text).toMatch(
      /Delivered external interrupt, vector 0x40, through an interrupt gate, so IF is cleared, to 'h'/,
    );
    expect(e.text).toMatch(/The APIC moved 0x40 from IRR to ISR/);
    expect(e.cite).toMatch(/Interrupt Acceptance for Fixed Interrupts/);
    const raise = s.view(stepsOf(s, EventKind.RAISE)[0].step).explanation.text;
    expect(raise).toBe('External IRQ, vector 0x40, raised at the APIC: IRR bit 0x40 set (tick).');
  });

  it('a missing gate: the text names the original vector and the exception raised instead', () => {
    const s = run(['start:', 'bad: int 0x40', ...STOP, '.intgate 11, np', 'np: hlt']);
    const e = s.view(1).explanation;
    expect(e.text).toMatch(/^Vector 0x40 has no IDT gate, so the CPU raised #NP \(vector 11\) instead\./);
    expect(e.text).toContain(`return RIP ${hex(label(s, 'bad'))} and error code 0x202`);
    expect(e.cite).toMatch(/IDT Descriptors/);
  });

  it('#GP from WRMSR cites WRMSR', () => {
    const s = run(['start:', 'mov ecx, 1', 'wrmsr', ...STOP, '.intgate 13, gp', 'gp: hlt']);
    const e = s.view(2).explanation;
    expect(e.text).toMatch(/Delivered #GP \(vector 13\) \(hardware exception\)/);
    expect(e.cite).toMatch(/WRMSR/);
  });

  it('an instruction retired while an IRQ waits says why it waits', () => {
    const s = run(['start:', 'cli', 'x: nop', 'nop', ...STOP], [{ at: { level: 0, label: 'x' }, irq: 0x40 }]);
    const e = s.view(3).explanation;
    expect(e.text).toMatch(/Before this instruction IRQ 0x40 waited in the IRR: IF was 0/);
    expect(e.cite).toMatch(/Priority Among Concurrent Events/);
  });
});
