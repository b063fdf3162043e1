// Canned runs for the component tests, built from the view.ts types: a bare-metal level takes
// an external interrupt (or two NMIs, nested), step by step, as the worker would show them.
import {
  EventKind,
  EventType,
  EVENT_KIND_NAMES,
  type AssertionView,
  type LevelView,
  type StepView,
  type TimelineData,
  type TraceEventView,
} from '../../src/core/engine/view';

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

interface CpuState {
  rip: number;
  line: number | null;
  next: string | null;
  regs: Record<string, number>;
  if: boolean;
  tf: boolean;
  sti: boolean;
  movss: boolean;
  nmiBlocking: boolean;
  activity: 'active' | 'hlt' | 'shutdown';
  pendingNmi: boolean;
  intr: number | null;
  irr: number[];
  isr: number[];
  tpr: number;
  ppr: number;
  tsc: number;
  work: number;
  handlerDepth: number;
  nmiDepth: number;
}

interface StepSpec {
  kind: number;
  level?: number;
  data?: Record<string, number>;
  cycles: number;
  text: string;
  cite: string | null;
  apply: (s: CpuState) => void;
  assertion?: { passed: boolean; message: string; line: number };
}

const REG_NAMES = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rbp',
  'rsp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
];

function hex16(n: number): string {
  return '0x' + n.toString(16).padStart(16, '0');
}

function initialCpu(program: string[]): CpuState {
  const line = program.findIndex((l) => /^\s+\S/.test(l)) + 1;
  return {
    rip: 0x1000,
    line,
    next: program[line - 1].trim(),
    regs: Object.fromEntries(REG_NAMES.map((r) => [r, r === 'rsp' ? 0x8000 : 0])),
    if: false,
    tf: false,
    sti: false,
    movss: false,
    nmiBlocking: false,
    activity: 'active',
    pendingNmi: false,
    intr: null,
    irr: [],
    isr: [],
    tpr: 0,
    ppr: 0,
    tsc: 0,
    work: 0,
    handlerDepth: 0,
    nmiDepth: 0,
  };
}

function levelView(index: number, s: CpuState): LevelView {
  return {
    index,
    name: index === 0 ? 'L0 · bare metal' : `L${index} · guest`,
    kind: 'program',
    cpu: {
      regs: REG_NAMES.map((name) => ({ name, value: hex16(s.regs[name]) })),
      rip: s.rip,
      rflags: 0x2 | (s.if ? 0x200 : 0) | (s.tf ? 0x100 : 0),
      if: s.if,
      tf: s.tf,
      interruptibility: { sti: s.sti, movss: s.movss, nmi: s.nmiBlocking },
      activity: s.activity,
      pending: { nmi: s.pendingNmi, intr: s.intr },
      workRemaining: s.work,
      tsc: s.tsc,
      handlerDepth: s.handlerDepth,
      nmiDepth: s.nmiDepth,
    },
    apic: { irr: [...s.irr], isr: [...s.isr], tpr: s.tpr, ppr: s.ppr },
    line: s.line,
    nextInstruction: s.next,
  };
}

export interface CannedRun {
  views: StepView[];
  events: TraceEventView[];
}

function at(s: CpuState, program: string[], rip: number, line: number) {
  s.rip = rip;
  s.line = line;
  s.next = program[line - 1].trim();
}

function buildRun(program: string[], specs: StepSpec[], levels: number): CannedRun {
  const cpus = Array.from({ length: levels }, () => initialCpu(program));
  const assertions: AssertionView[] = [];
  const events: TraceEventView[] = [];
  let time = 0;
  const total = specs.length;
  const views: StepView[] = [
    {
      step: 0,
      totalSteps: total,
      time: 0,
      event: null,
      explanation: { text: 'The initial state: the CPU is about to run the first instruction.', cite: null },
      levels: cpus.map((c, i) => levelView(i, c)),
      assertions: [],
    },
  ];
  specs.forEach((spec, i) => {
    const step = i + 1;
    const level = spec.level ?? 0;
    time += spec.cycles;
    for (const c of cpus) c.tsc = time;
    const rip = cpus[level].rip;
    spec.apply(cpus[level]);
    if (spec.assertion) assertions.push({ step, level, ...spec.assertion });
    const event: TraceEventView = {
      step,
      time,
      level,
      kind: EVENT_KIND_NAMES[spec.kind],
      rip,
      data: spec.data ?? {},
    };
    events.push(event);
    views.push({
      step,
      totalSteps: total,
      time,
      event,
      explanation: { text: spec.text, cite: spec.cite },
      levels: cpus.map((c, n) => levelView(n, c)),
      assertions: [...assertions],
    });
  });
  return { views, events };
}

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

export function timelineOf(run: CannedRun): TimelineData {
  const kinds = Object.fromEntries(Object.entries(EVENT_KIND_NAMES).map(([n, name]) => [name, Number(n)]));
  return {
    totalSteps: run.events.length,
    steps: run.events.map((e) => e.step),
    times: run.events.map((e) => e.time),
    levels: run.events.map((e) => e.level),
    kinds: run.events.map((e) => kinds[e.kind]),
    vectors: run.events.map((e) => e.data.vector ?? -1),
    types: run.events.map((e) => e.data.type ?? -1),
  };
}
