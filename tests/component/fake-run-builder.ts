// The builder behind the canned runs: a CPU state mutated step by step, turned into the
// StepViews, trace events and timeline columns the worker would send.
import {
  EVENT_KIND_NAMES,
  type AssertionView,
  type LevelView,
  type StepView,
  type TimelineData,
  type TraceEventView,
  type VmxView,
} from '../../src/core/engine/view';
import type { TransitionColumns } from '../../src/worker/protocol';

export interface CpuState {
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

export interface StepSpec {
  kind: number;
  level?: number;
  data?: Record<string, number>;
  cycles: number;
  text: string;
  cite: string | null;
  apply: (s: CpuState) => void;
  assertion?: { passed: boolean; skipped?: boolean; message: string; line: number };
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

const NO_VMX: VmxView = { on: false, nonRoot: false, preemptionTimer: null, mtfPending: false, vmcs: [] };

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
      running: index === 0,
      mode: 'bare',
      vnmiBlocked: false,
      pending: { nmi: s.pendingNmi, intr: s.intr },
      workRemaining: s.work,
      tsc: s.tsc,
      handlerDepth: s.handlerDepth,
      nmiDepth: s.nmiDepth,
    },
    apic: { irr: [...s.irr], isr: [...s.isr], tpr: s.tpr, ppr: s.ppr },
    kvm: null,
    restingIn: null,
    line: s.line,
    nextInstruction: s.next,
  };
}

export interface CannedRun {
  views: StepView[];
  events: TraceEventView[];
}

export function at(s: CpuState, program: string[], rip: number, line: number) {
  s.rip = rip;
  s.line = line;
  s.next = program[line - 1].trim();
}

export function buildRun(program: string[], specs: StepSpec[], levels: number): CannedRun {
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
      vmx: NO_VMX,
    },
  ];
  specs.forEach((spec, i) => {
    const step = i + 1;
    const level = spec.level ?? 0;
    time += spec.cycles;
    for (const c of cpus) c.tsc = time;
    const rip = cpus[level].rip;
    spec.apply(cpus[level]);
    if (spec.assertion) assertions.push({ step, level, skipped: false, ...spec.assertion });
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
      vmx: NO_VMX,
    });
  });
  return { views, events };
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

/** The numbers of the exits, entries and decisions, as the worker's transitions() sends them. */
export function transitionsOf(run: CannedRun): TransitionColumns {
  const out: TransitionColumns = { steps: [], d0: [], d1: [], d2: [] };
  for (const e of run.events) {
    const d = e.data;
    const words =
      e.kind === 'vmexit'
        ? [d.reason, d.intrInfo, d.vectoringInfo]
        : e.kind === 'vmentry'
          ? [d.injected, d.launch, d.guestRip]
          : e.kind === 'decision'
            ? [d.function, d.a, d.b]
            : null;
    if (!words) continue;
    out.steps.push(e.step);
    out.d0.push(words[0] ?? 0);
    out.d1.push(words[1] ?? 0);
    out.d2.push(words[2] ?? 0);
  }
  return out;
}
