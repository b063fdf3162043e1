// Shared helpers of the CPU, engine, scenario and CLI unit tests: build a one-level scenario
// in code, run it, and read the trace and the state back in the terms the tests assert on.
import { openSession, type LabSession } from '../../src/core/engine/session';
import type { SimState } from '../../src/core/engine/machine';
import { EventKind, type CpuView, type LabError } from '../../src/core/engine/view';
import type { ParamValue } from '../../src/core/scenario/schema';
import { REG64 } from '../../src/core/asm/ir';

export { EventKind };
export { EventType } from '../../src/core/engine/view';

export const RF = {
  CF: 1 << 0,
  FIXED: 1 << 1,
  PF: 1 << 2,
  ZF: 1 << 6,
  SF: 1 << 7,
  TF: 1 << 8,
  IF: 1 << 9,
  OF: 1 << 11,
} as const;

export type Trigger = { time: number } | { level: number; label: string };

export interface EventSpec {
  at: Trigger;
  irq?: number;
  nmi?: true;
  when?: string;
  note?: string;
  target?: number;
}

/** A scenario document (version 1, vmx) with one program level. `extra` overrides top-level fields. */
export function scenarioDoc(
  program: string[] | string,
  events: EventSpec[] = [],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: 1,
    name: 'unit',
    title: 'unit test',
    description: 'built by a unit test',
    arch: 'vmx',
    levels: [{ kind: 'program', program }],
    events,
    ...extra,
  };
}

/** Opens a document, failing with its error when it does not open. */
export function open(doc: unknown, params: Record<string, ParamValue> = {}): LabSession {
  const r = openSession({ doc }, params);
  if (!r.ok)
    throw new Error(`scenario did not open: ${r.error.kind} at ${r.error.where}: ${r.error.message}`);
  return r.session;
}

/** The error of a document that must not open. */
export function openError(doc: unknown, params: Record<string, ParamValue> = {}): LabError {
  const r = openSession({ doc }, params);
  if (r.ok) throw new Error('expected the scenario to be rejected, but it opened');
  return r.error;
}

/** Runs a program (with events and parameters) to its end. */
export function run(
  program: string[],
  events: EventSpec[] = [],
  params: Record<string, ParamValue> = {},
  extra: Record<string, unknown> = {},
): LabSession {
  return open(scenarioDoc(program, events, extra), params);
}

/** One trace event, with the DELIVER data word decoded. */
export interface Row {
  step: number;
  kind: number;
  time: number;
  rip: number;
  d0: number;
  d1: number;
  d2: number;
}

export function rows(s: LabSession): Row[] {
  const t = s.sim.trace;
  const out: Row[] = [];
  for (let i = 0; i < t.length; i++)
    out.push({
      step: i + 1,
      kind: t.kind[i],
      time: t.time[i],
      rip: t.rip[i],
      d0: t.d0[i],
      d1: t.d1[i],
      d2: t.d2[i],
    });
  return out;
}

export interface Delivery {
  step: number;
  time: number;
  /** RIP pushed as the return address (the interrupted or next instruction). */
  rip: number;
  vector: number;
  type: number;
  errValid: boolean;
  errorCode: number;
  handler: number;
  escalated: boolean;
  origVector: number;
  wokeFromHlt: boolean;
}

export function deliveries(s: LabSession): Delivery[] {
  return rows(s)
    .filter((r) => r.kind === EventKind.DELIVER)
    .map((r) => ({
      step: r.step,
      time: r.time,
      rip: r.rip,
      vector: r.d0 & 0xff,
      type: (r.d0 >>> 8) & 7,
      errValid: ((r.d0 >>> 11) & 1) === 1,
      errorCode: r.d1,
      handler: r.d2,
      escalated: ((r.d0 >>> 24) & 1) === 1,
      origVector: (r.d0 >>> 16) & 0xff,
      wokeFromHlt: ((r.d0 >>> 25) & 1) === 1,
    }));
}

/** Steps whose event has this kind. */
export function stepsOf(s: LabSession, kind: number): Row[] {
  return rows(s).filter((r) => r.kind === kind);
}

/** The CPU view after step `n` (default: the last step). */
export function cpu(s: LabSession, n = s.totalSteps): CpuView {
  return s.view(n).levels[0].cpu;
}

/** A register (by its 64-bit name) after step `n`, as a bigint. */
export function reg(s: LabSession, name: (typeof REG64)[number], n = s.totalSteps): bigint {
  const r = cpu(s, n).regs.find((x) => x.name === name);
  if (!r) throw new Error(`no register ${name}`);
  return BigInt(r.value);
}

/** The address of a label of the level-0 program. */
export function label(s: LabSession, name: string): number {
  const a = s.compiled.programs[0].labels[name];
  if (a === undefined) throw new Error(`no label ${name}`);
  return a;
}

/** The address just after the instruction that starts at `addr`. */
export function after(s: LabSession, addr: number): number {
  const p = s.compiled.programs[0];
  const i = p.indexAt[addr - p.origin];
  if (i === undefined || i < 0) throw new Error(`no instruction at 0x${addr.toString(16)}`);
  return addr + p.instrs[i].len;
}

/** The address of the instruction on 1-based source line `line`. */
export function lineAddr(s: LabSession, line: number): number {
  const ins = s.compiled.programs[0].instrs.find((x) => x.line === line);
  if (!ins) throw new Error(`no instruction on line ${line}`);
  return ins.addr;
}

/** A little-endian qword of level 0's memory in state `st`, as a bigint. */
export function qword(st: SimState, addr: number): bigint {
  const b = st.mems[0].bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return dv.getBigUint64(addr, true);
}

/** A qword of memory after step `n` (default: the last step). */
export function memQ(s: LabSession, addr: number, n = s.totalSteps): bigint {
  return qword(s.sim.stateAt(n), addr);
}

/** The step at which the CPU first has RIP at `addr` (the state after that step), or -1. */
export function firstStepAt(s: LabSession, addr: number, from = 0): number {
  for (let n = from; n <= s.totalSteps; n++) if (s.sim.stateAt(n).cpu.rip === addr) return n;
  return -1;
}

/** A comparable snapshot of a state: registers, RIP, flags, time, APIC and memory. */
export function snapshot(st: SimState): Record<string, unknown> {
  return {
    step: st.step,
    time: st.time,
    regs: Array.from(st.cpu.regs),
    rip: st.cpu.rip,
    rflags: st.cpu.rflags,
    shadow: st.cpu.shadow,
    nmiBlocked: st.cpu.nmiBlocked,
    nmiPending: st.cpu.nmiPending,
    activity: st.cpu.activity,
    workRemaining: st.cpu.workRemaining,
    workStack: st.cpu.workStack.slice(),
    frames: st.cpu.frames.slice(),
    irr: Array.from(st.apic.irr),
    isr: Array.from(st.apic.isr),
    tpr: st.apic.tpr,
    esr: st.apic.esr,
    nextTimed: st.nextTimed,
    fired: Array.from(st.fired),
    mem: Buffer.from(st.mems[0].bytes).toString('base64'),
  };
}

/** Lines that end a test program: nothing can wake a HLT with IF=0 and no NMI. */
export const STOP = ['cli', 'hlt'];
