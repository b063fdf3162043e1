// Canned runs for the component tests, built from the view.ts types: a bare-metal level takes
// an external interrupt (or two NMIs, nested), step by step, as the worker would show them.
import { EventKind, EventType } from '../../src/core/engine/view';
import { at, buildRun, type CannedRun } from './fake-run-builder';

export { timelineOf, transitionsOf, type CannedRun } from './fake-run-builder';

export const IRQ_PROGRAM = [
  '; An external interrupt arrives while the CPU works.',
  '.idt 0x30, irq_handler, interrupt',
  'start:',
  '    sti',
  '    mov rax, 1',
  '    work 1000',
  '    assert rbx == 2, "the handler ran"',
  '    hlt',
  'irq_handler:',
  '    mov rbx, 2',
  '    wrmsr            ; EOI',
  '    iretq',
];

export const NMI_PROGRAM = [
  '; Two NMIs: the second arrives inside the first handler.',
  '.idt 2, nmi_handler, interrupt',
  'start:',
  '    work 500',
  '    hlt',
  'nmi_handler:',
  '    work 100',
  '    iretq',
];

/** The IRQ run: 9 steps, one external interrupt (vector `vector`) delivered and EOIed. */
export function irqRun(vector = 0x30, levels = 1): CannedRun {
  const p = IRQ_PROGRAM;
  const ext = EventType.EXTINT;
  return buildRun(
    p,
    [
      {
        kind: EventKind.INSTR,
        cycles: 1,
        text: 'STI sets RFLAGS.IF; interrupts stay blocked until after the next instruction.',
        cite: 'SDM Vol. 3A "Interruptibility State"',
        apply: (s) => {
          s.if = true;
          s.sti = true;
          at(s, p, 0x1001, 5);
        },
      },
      {
        kind: EventKind.INSTR,
        cycles: 1,
        text: 'MOV retires; blocking by STI ends.',
        cite: null,
        apply: (s) => {
          s.regs.rax = 1;
          s.sti = false;
          at(s, p, 0x1008, 6);
        },
      },
      {
        kind: EventKind.RAISE,
        data: { vector, type: ext },
        cycles: 400,
        text: `An external interrupt, vector ${vector}, is raised at L0's local APIC and set in the IRR.`,
        cite: 'SDM Vol. 3A "Interrupt Acceptance for Fixed Interrupts"',
        apply: (s) => {
          s.irr = [vector];
          s.intr = vector;
          s.work = 600;
        },
      },
      {
        kind: EventKind.DELIVER,
        data: { vector, type: ext },
        cycles: 20,
        text: `RFLAGS.IF is 1 and nothing blocks: vector ${vector} is delivered through the IDT.`,
        cite: 'SDM Vol. 3A "Interrupt and Exception Handling: Priority Among Concurrent Events"',
        apply: (s) => {
          s.irr = [];
          s.isr = [vector];
          s.intr = null;
          s.ppr = vector & 0xf0;
          s.if = false;
          s.handlerDepth = 1;
          s.regs.rsp = 0x7fd8;
          at(s, p, 0x2000, 10);
        },
      },
      {
        kind: EventKind.INSTR,
        cycles: 1,
        text: 'The handler runs.',
        cite: null,
        apply: (s) => {
          s.regs.rbx = 2;
          at(s, p, 0x2007, 11);
        },
      },
      {
        kind: EventKind.INSTR,
        cycles: 1,
        text: 'WRMSR to the x2APIC EOI register clears the highest ISR bit.',
        cite: 'SDM Vol. 3A "End-of-Interrupt (EOI)"',
        apply: (s) => {
          s.isr = [];
          s.ppr = 0;
          at(s, p, 0x2009, 12);
        },
      },
      {
        kind: EventKind.IRET,
        cycles: 20,
        text: 'IRETQ returns to the interrupted WORK and restores RFLAGS.IF.',
        cite: 'SDM Vol. 2A "IRET/IRETD/IRETQ"',
        apply: (s) => {
          s.if = true;
          s.handlerDepth = 0;
          s.regs.rsp = 0x8000;
          at(s, p, 0x1008, 6);
        },
      },
      {
        kind: EventKind.INSTR,
        cycles: 600,
        text: 'WORK resumes and finishes its remaining cycles.',
        cite: null,
        apply: (s) => {
          s.work = 0;
          at(s, p, 0x100d, 7);
        },
      },
      {
        kind: EventKind.ASSERT,
        data: { passed: 1 },
        cycles: 1,
        text: 'assert passed: the handler ran',
        cite: null,
        assertion: { passed: true, message: 'the handler ran', line: 7 },
        apply: (s) => at(s, p, 0x1015, 8),
      },
    ],
    levels,
  );
}

/** The NMI run: a second NMI delivered inside the first handler (NMI depth 2), 7 steps. */
export function nmiRun(levels = 1): CannedRun {
  const p = NMI_PROGRAM;
  const nmi = { vector: 2, type: EventType.NMI };
  return buildRun(
    p,
    [
      {
        kind: EventKind.RAISE,
        data: nmi,
        cycles: 100,
        text: 'An NMI is raised at L0.',
        cite: null,
        apply: (s) => {
          s.pendingNmi = true;
          s.work = 400;
        },
      },
      {
        kind: EventKind.DELIVER,
        data: nmi,
        cycles: 20,
        text: 'The NMI is delivered; NMIs are blocked until the next IRET.',
        cite: 'SDM Vol. 3A "NMI Handling While Processing an NMI"',
        apply: (s) => {
          s.pendingNmi = false;
          s.nmiBlocking = true;
          s.handlerDepth = 1;
          s.nmiDepth = 1;
          at(s, p, 0x2000, 7);
        },
      },
      {
        kind: EventKind.IRET,
        cycles: 20,
        text: 'A premature IRET (from a nested exception) unblocks NMIs.',
        cite: null,
        apply: (s) => {
          s.nmiBlocking = false;
        },
      },
      {
        kind: EventKind.RAISE,
        data: nmi,
        cycles: 10,
        text: 'A second NMI is raised.',
        cite: null,
        apply: (s) => {
          s.pendingNmi = true;
        },
      },
      {
        kind: EventKind.DELIVER,
        data: nmi,
        cycles: 20,
        text: 'The second NMI is delivered inside the first handler.',
        cite: null,
        apply: (s) => {
          s.pendingNmi = false;
          s.nmiBlocking = true;
          s.handlerDepth = 2;
          s.nmiDepth = 2;
        },
      },
      {
        kind: EventKind.ASSERT,
        data: { passed: 0 },
        cycles: 1,
        text: 'assert failed: NMIs must not nest',
        cite: null,
        assertion: { passed: false, message: 'NMIs must not nest', line: 7 },
        apply: () => {},
      },
      {
        kind: EventKind.SHUTDOWN,
        cycles: 1,
        text: 'The processor shut down.',
        cite: 'SDM Vol. 3A "Interrupt 8—Double Fault Exception (#DF)"',
        apply: (s) => {
          s.activity = 'shutdown';
        },
      },
    ],
    levels,
  );
}
