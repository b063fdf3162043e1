// The whole simulation state as plain data, and the pure step that advances it by one event.
// One step = one trace event: an instruction retired, an event delivered, an external event
// raised (after any idle time), or a shutdown.
import { type ApicState, cloneApic, createApic, requestInterrupt } from '../cpu/apic';
import { checkBoundary, eventDeliverable } from '../cpu/boundary';
import { Exec, cycles, execute } from '../cpu/execute';
import { decodedInstructions } from '../cpu/decoded';
import { type Hart, newStepRecord } from '../cpu/hart';
import type { Memory } from '../cpu/memory';
import { Activity, type CpuState, RSP, cloneCpu, createCpu, setRegNumber } from '../cpu/state';
import type { CompiledScenario, ExternalRaise } from '../scenario/load';
import { EventKind, EventType, type EndReason } from './view';

export interface LevelMemory {
  bytes: Uint8Array;
  stackLimit: number;
}

export interface SimState {
  /** Events so far: this is the state "after step `step`". */
  step: number;
  /** TSC cycles since reset. */
  time: number;
  cpu: CpuState;
  apic: ApicState;
  mems: LevelMemory[];
  /** Index of the next timed external event to raise. */
  nextTimed: number;
  /** One flag per label trigger: raised already. */
  fired: Uint8Array;
  /** Set when the run can go no further. */
  end: EndReason | null;
}

export function initialState(c: CompiledScenario): SimState {
  const mems = c.programs.map((p, i) => {
    const bytes = new Uint8Array(c.scenario.levels[i].memory);
    bytes.set(p.image, p.origin);
    return { bytes, stackLimit: p.end };
  });
  const cpu = createCpu();
  cpu.rip = c.programs[0].entry;
  // The stack starts at the top of the level's memory (RSP 16-byte aligned, as after a call).
  setRegNumber(cpu, RSP, mems[0].bytes.length);
  return {
    step: 0,
    time: 0,
    cpu,
    apic: createApic(),
    mems,
    nextTimed: 0,
    fired: new Uint8Array(c.triggers.length),
    end: null,
  };
}

export function cloneState(s: SimState): SimState {
  return {
    ...s,
    cpu: cloneCpu(s.cpu),
    apic: cloneApic(s.apic),
    mems: s.mems.map((m) => ({ bytes: m.bytes.slice(), stackLimit: m.stackLimit })),
    fired: s.fired.slice(),
  };
}

/** Raise an external event at its target's interrupt controller (level 0: the physical APIC). */
function raise(s: SimState, e: ExternalRaise, h: Hart): void {
  if (e.nmi)
    s.cpu.nmiPending = true; // the NMI latch holds one NMI (SDM "NMI Handling")
  else requestInterrupt(s.apic, e.vector);
  h.out.kind = EventKind.RAISE;
  h.out.rip = s.cpu.rip;
  h.out.d0 = (e.vector & 0xff) | ((e.nmi ? EventType.NMI : EventType.EXTINT) << 8);
  h.out.d1 = e.index;
  h.out.d2 = 0;
}

/** A reusable view of the state for the interpreter; rebuilt cheaply when the state object changes. */
export class Stepper {
  readonly hart: Hart;
  private memory: Memory;

  constructor(
    readonly c: CompiledScenario,
    private s: SimState,
  ) {
    this.memory = { bytes: s.mems[0].bytes, stackLimit: s.mems[0].stackLimit };
    this.hart = {
      cpu: s.cpu,
      apic: s.apic,
      mem: this.memory,
      prog: c.programs[0],
      code: decodedInstructions(c.programs[0]),
      level: 0,
      tsc: s.time,
      out: newStepRecord(),
    };
  }

  get state(): SimState {
    return this.s;
  }

  set state(s: SimState) {
    this.s = s;
    this.memory.bytes = s.mems[0].bytes;
    this.hart.cpu = s.cpu;
    this.hart.apic = s.apic;
  }

  /**
   * Advance one step. Returns false (and sets `state.end`) when nothing more can happen.
   * The step's record is in `hart.out`; `state.time` is the time after it.
   */
  step(): boolean {
    const s = this.s;
    if (s.end) return false;
    const h = this.hart;
    const c = this.c;
    const cpu = s.cpu;
    h.tsc = s.time;
    // External events due now are raised first, one per step, in time then file order.
    const timed = c.timed;
    if (s.nextTimed < timed.length && timed[s.nextTimed].time <= s.time) {
      raise(s, timed[s.nextTimed++], h);
      return this.finish();
    }
    if (cpu.activity === Activity.SHUTDOWN) {
      s.end = 'shutdown';
      return false;
    }
    const nextTime = s.nextTimed < timed.length ? timed[s.nextTimed].time : Infinity;
    if (cpu.activity === Activity.HLT) {
      // "HLT—Halt": an unmasked interrupt or an NMI resumes the processor; otherwise time
      // passes until the next external event, or the run is over.
      if (eventDeliverable(h)) {
        checkBoundary(h);
        h.out.d0 |= 1 << 25; // woke from HLT
        s.time += 1;
        return this.finish();
      }
      if (nextTime === Infinity) {
        s.end = 'halted';
        return false;
      }
      s.time = nextTime;
      h.tsc = s.time;
      raise(s, timed[s.nextTimed++], h);
      h.out.d2 = 1; // raised while halted
      return this.finish();
    }
    // A label trigger fires when the level is about to execute the instruction at the label.
    const triggers = c.triggers;
    for (let i = 0; i < triggers.length; i++) {
      if (!s.fired[i] && triggers[i].addr === cpu.rip) {
        s.fired[i] = 1;
        raise(s, triggers[i], h);
        return this.finish();
      }
    }
    if (checkBoundary(h)) {
      s.time += 1;
      return this.finish();
    }
    const r = execute(h, nextTime - s.time);
    s.time += cycles.spent;
    if (r === Exec.WORK_INTERRUPTED) {
      h.tsc = s.time;
      raise(s, timed[s.nextTimed++], h);
    }
    return this.finish();
  }

  private finish(): boolean {
    const s = this.s;
    s.step++;
    if (s.cpu.activity === Activity.SHUTDOWN) s.end = 'shutdown';
    return true;
  }
}
