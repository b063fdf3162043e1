// The whole simulation state as plain data, and the pure step that advances it by one event.
// One step = one trace event: an instruction retired, an event delivered, a VM entry or exit,
// an external event raised (after any idle time), or a shutdown.
import { type ApicState, cloneApic, createApic } from '../cpu/apic';
import { checkBoundary, eventDeliverable } from '../cpu/boundary';
import { Exec, cycles, execute } from '../cpu/execute';
import { decodedInstructions } from '../cpu/decoded';
import { type Hart, type LaneCode, newStepRecord } from '../cpu/hart';
import {
  Activity,
  type ContextBook,
  type CpuState,
  CR4,
  RSP,
  cloneCpu,
  createCpu,
  emptyBook,
  setRegNumber,
} from '../cpu/state';
import type { CompiledScenario } from '../scenario/load';
import { CPU_BASED } from '../vmx/bits';
import { vmxCaps } from '../vmx/capabilities';
import { type VmxState, cloneVmx, createVmx, currentVmcs } from '../vmx/state';
import { type SvmState, cloneSvm, createSvm } from '../svm/state';
import { F, readField } from '../vmx/vmcs';
import { EventKind, type EndReason } from './view';
import { KvmLevels, type KvmTx, cloneKvmTx, initialKvms, loadKvmImage } from './kvm-levels';
import { externalDue, nextArmed, raise, takeDueEvent } from './external-events';
import type { ExternalRaise } from '../scenario/load';
import { kvmStubs, xenStubs } from '../hypervisors/kvm/stubs';
import { type KvmState, cloneKvm } from '../hypervisors/kvm/state';
import { type XenState, cloneXen } from '../hypervisors/xen/state';
import { type EventRaiser, XenLevels, eventRaiser, initialXen } from './xen-levels';
import { svmFeatureBits } from '../svm/cpuid';

/** Cycles a KVM decision takes (the model's host code is not simulated instruction by instruction). */
export const KVM_DECISION_CYCLES = 100;

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
  vmx: VmxState;
  svm: SvmState;
  /** The lane (execution level) running on the processor now. */
  lane: number;
  /** Per lane: handler frames and interrupted work, for the views. */
  books: ContextBook[];
  mems: LevelMemory[];
  /** Index of the next timed external event to raise. */
  nextTimed: number;
  /** One flag per label trigger: raised already. */
  fired: Uint8Array;
  /** Per label trigger with `after`: the TSC time it is due, or -1 (not armed, or raised). */
  armed: Float64Array;
  /** The KVM model's software state, when L0 is KVM (the same object as kvms[0]). */
  kvm: KvmState | null;
  /** Per lane: the state of the KVM that runs there (null for a lane that is not KVM). */
  kvms: (KvmState | null)[];
  /** Per lane above L0 that is KVM: its decisions in progress (see kvm-levels.ts). */
  tx: (KvmTx | null)[];
  /** The Xen model's software state, when L0 is Xen (xen-levels.ts). */
  xen: XenState | null;
  /** Set when the run can go no further. */
  end: EndReason | null;
}

export function initialState(c: CompiledScenario): SimState {
  const mems = c.programs.map((p, i) => {
    const bytes = new Uint8Array(c.scenario.levels[i].memory);
    // The Xen model's memory holds its VMCB, host save area and permission maps; above L0 also
    // its instruction stubs and IDT (it runs no code at L0).
    if (c.scenario.levels[i].kind === 'xen') {
      if (i > 0) loadKvmImage(bytes, xenStubs());
      return { bytes, stackLimit: 0 };
    }
    if (c.scenario.levels[i].kind !== 'program') {
      // KVM's instruction stubs and IDT (used above L0, where its instructions trap).
      loadKvmImage(bytes);
      return { bytes, stackLimit: 0 };
    }
    bytes.set(p.image, p.origin);
    return { bytes, stackLimit: p.end };
  });
  const cpu = createCpu();
  const prog = c.programs[0];
  const { kvms, tx } = initialKvms(c);
  const kvm = kvms[0];
  const xen = initialXen(c);
  cpu.rip = kvm || xen ? 0 : prog.entry;
  cpu.idtr = prog.idtBase ?? 0;
  // An AMD processor has no VMX: CR4.VMXE is reserved (docs/svm.md).
  if (c.scenario.arch === 'svm') cpu.cr4 &= ~CR4.VMXE;
  // The stack starts at the top of the level's memory (RSP 16-byte aligned, as after a call).
  setRegNumber(cpu, RSP, mems[0].bytes.length);
  return {
    step: 0,
    time: 0,
    cpu,
    apic: createApic(),
    vmx: createVmx(),
    svm: createSvm(c.scenario.arch === 'svm', svmFeatureBits(c.scenario.features.svm)),
    lane: 0,
    books: c.lanes.map(() => emptyBook()),
    mems,
    nextTimed: 0,
    fired: new Uint8Array(c.triggers.length),
    armed: new Float64Array(c.triggers.length).fill(-1),
    kvm,
    kvms,
    tx,
    xen,
    end: null,
  };
}

export function cloneState(s: SimState): SimState {
  return {
    ...s,
    cpu: cloneCpu(s.cpu),
    apic: cloneApic(s.apic),
    vmx: cloneVmx(s.vmx),
    svm: cloneSvm(s.svm),
    books: s.books.map((b) => ({ ...b, frames: b.frames.slice(), workStack: b.workStack.slice() })),
    mems: s.mems.map((m) => ({ bytes: m.bytes.slice(), stackLimit: m.stackLimit })),
    fired: s.fired.slice(),
    armed: s.armed.slice(),
    ...cloneKvms(s),
    xen: s.xen ? cloneXen(s.xen) : null,
  };
}

function cloneKvms(s: SimState): { kvm: KvmState | null; kvms: (KvmState | null)[]; tx: (KvmTx | null)[] } {
  const kvms = s.kvms.map((k) => (k ? cloneKvm(k) : null));
  return { kvm: kvms[0], kvms, tx: s.tx.map(cloneKvmTx) };
}

/**
 * A fork's edits of the state (scenario/fork-apply.ts). `apply` is called before every step:
 * when edits are due after step `s.step` it changes the state, writes the edit event into
 * `h.out` and returns the lane the event belongs to; otherwise it returns -1. It must be a pure
 * function of the state, so that seeking (which replays from checkpoints) applies it again.
 */
export interface StepEdits {
  apply(s: SimState, h: Hart, raiseEvent: (e: ExternalRaise) => void): number;
}

/** A reusable view of the state for the interpreter; rebound cheaply when the state object changes. */
export class Stepper {
  readonly hart: Hart;
  /** The lane that acted in the last step (the trace attributes the event to it). */
  actor = 0;
  private readonly kvmLevels: KvmLevels;
  private readonly xenLevels: XenLevels;
  /** Raises an event at a level above L0: the KVM or the Xen that emulates its interrupt controller. */
  private readonly raiser: EventRaiser;
  /** The stack has a KVM level (so KVM's hrtimers exist): a bare run skips their checks. */
  private readonly hasKvm: boolean;
  private readonly laneCode: (LaneCode | null)[];
  /** A fork's edits, applied between steps (null for an unedited run). */
  edits: StepEdits | null = null;

  constructor(
    readonly c: CompiledScenario,
    private s: SimState,
  ) {
    this.laneCode = c.lanes.map((l) => {
      // A KVM lane runs KVM's instruction stubs (they execute only above L0).
      const prog = l.kind === 'kvm' ? kvmStubs() : l.kind === 'xen' ? xenStubs() : c.programs[l.program];
      return {
        prog,
        code: decodedInstructions(prog),
        mem: { bytes: s.mems[l.program].bytes, stackLimit: s.mems[l.program].stackLimit },
      };
    });
    const first = this.laneCode[0]!;
    this.hart = {
      cpu: s.cpu,
      apic: s.apic,
      vmx: s.vmx,
      svm: s.svm,
      caps: vmxCaps(c.scenario.features.vmx),
      lanes: this.laneCode,
      books: s.books,
      mem: first.mem,
      prog: first.prog,
      code: first.code,
      level: 0,
      tsc: s.time,
      out: newStepRecord(),
      why: null,
    };
    this.hasKvm = c.lanes.some((l) => l.kind === 'kvm');
    this.kvmLevels = new KvmLevels(c, this.hart, s);
    this.xenLevels = new XenLevels(c, this.hart, s);
    this.xenLevels.below = this.kvmLevels;
    this.raiser = eventRaiser(c, this.kvmLevels, this.xenLevels);
    this.state = s;
  }

  get state(): SimState {
    return this.s;
  }

  set state(s: SimState) {
    this.s = s;
    this.kvmLevels.bind(s);
    this.xenLevels.bind(s);
    this.c.lanes.forEach((l, i) => {
      const code = this.laneCode[i];
      if (code) code.mem.bytes = s.mems[l.program].bytes;
    });
    const h = this.hart;
    h.cpu = s.cpu;
    h.apic = s.apic;
    h.vmx = s.vmx;
    h.svm = s.svm;
    h.books = s.books;
    const lane = this.laneCode[s.lane]!;
    h.level = s.lane;
    h.prog = lane.prog;
    h.code = lane.code;
    h.mem = lane.mem;
  }

  /** The time of the next thing that happens by itself: an external event or the timer. */
  private nextTime(): number {
    const s = this.s;
    const timed = this.c.timed;
    let t = s.nextTimed < timed.length ? timed[s.nextTimed].time : Infinity;
    if (s.vmx.nonRoot && s.vmx.timerDeadline >= 0 && s.vmx.timerDeadline < t) t = s.vmx.timerDeadline;
    if (this.hasKvm) {
      const hrtimer = this.kvmLevels.nextHrtimer();
      if (hrtimer < t) t = hrtimer;
    }
    const armed = nextArmed(s);
    return armed < t ? armed : t;
  }

  /** KVM's hrtimer for vmcs12's VMX-preemption timer is due. */
  private hrtimerDue(): boolean {
    return this.hasKvm && this.kvmLevels.hrtimerDue(this.s.time) >= 0;
  }

  /** vmx_preemption_timer_fn of the KVM whose hrtimer is due (a step of that KVM's). */
  private fireHrtimer(): void {
    const lane = this.kvmLevels.hrtimerDue(this.s.time);
    this.actor = lane;
    this.kvmLevels.fireHrtimer(lane);
  }

  private externalDue(): boolean {
    return externalDue(this.c, this.s);
  }

  /** Raise the external event due now: a timed one, or an armed label trigger. */
  private raiseDue(): void {
    raise(this.s, takeDueEvent(this.c, this.s), this.hart, this.raiser);
  }

  /**
   * Advance one step. Returns false (and sets `state.end`) when nothing more can happen.
   * The step's record is in `hart.out`; `state.time` is the time after it; `actor` is the
   * lane it belongs to.
   */
  step(): boolean {
    const s = this.s;
    const h = this.hart;
    if (this.edits) {
      h.tsc = s.time;
      const lane = this.edits.apply(s, h, (e) => raise(s, e, h, this.kvmLevels));
      if (lane >= 0) {
        // An edit can wake a run that had ended (an NMI raised at a halted machine).
        s.end = null;
        this.actor = lane;
        return this.finish();
      }
    }
    if (s.end) return false;
    const c = this.c;
    const cpu = s.cpu;
    h.tsc = s.time;
    this.actor = h.level;
    if (this.hrtimerDue()) {
      this.fireHrtimer();
      return this.finish();
    }
    // External events due now are raised first, one per step, in time then file order.
    if (this.externalDue()) {
      this.raiseDue();
      return this.finish();
    }
    if (cpu.activity === Activity.SHUTDOWN && !s.vmx.nonRoot) {
      s.end = 'shutdown';
      return false;
    }
    // KVM at L0 runs when its guest does not (VMX root operation, or no SVM guest running).
    if (s.kvm && !s.vmx.nonRoot && !s.svm.guest) return this.rootStep(this.kvmLevels.stepRoot(s.step + 1));
    if (s.xen && this.xenLevels.lane === 0 && !s.svm.guest) return this.rootStep(this.xenLevels.stepRoot());
    const kind = s.vmx.nonRoot || s.svm.guest ? c.lanes[h.level].kind : 'program';
    if (kind === 'kvm' || kind === 'xen') {
      // KVM above L0 runs in non-root operation (or as an SVM guest): the processor's boundary checks first (an
      // interrupt-window or external-interrupt exit, an injected interrupt delivered), then
      // KVM's next decision.
      if (checkBoundary(h)) {
        s.time += 1;
        return this.finish();
      }
      const lane = h.level;
      const memory = s.mems[c.lanes[lane].program].bytes;
      const o =
        kind === 'kvm'
          ? this.kvmLevels.stepGuest(lane, s.step + 1, memory)
          : this.xenLevels.stepGuest(memory);
      if (o.r === 'stopped') {
        s.end = 'stopped';
        return false;
      }
      this.actor = lane;
      s.time += o.decision ? KVM_DECISION_CYCLES : 1;
      return this.finish();
    }
    // A guest in the shutdown state waits like a halted one: VM exits (the timer, the NMI
    // window, an NMI) can still end it (SDM "Activity State").
    if (cpu.activity === Activity.HLT || cpu.activity === Activity.SHUTDOWN) {
      // "HLT—Halt": an unmasked interrupt or an NMI resumes the processor (in VMX non-root
      // operation, so does a VM exit); otherwise time passes until the next external event or
      // timer expiry, or the run is over.
      if (eventDeliverable(h)) {
        checkBoundary(h);
        if (h.out.kind === EventKind.DELIVER) h.out.d0 |= 1 << 25; // woke from HLT
        s.time += 1;
        return this.finish();
      }
      if (!this.idleUntilNext()) return false;
      if (this.hrtimerDue()) this.fireHrtimer();
      else if (this.externalDue()) {
        this.raiseDue();
        h.out.d2 |= 1; // raised while halted
      } else if (!checkBoundary(h)) this.idle();
      return this.finish();
    }
    // A label trigger fires when the level is about to execute the instruction at the label.
    const triggers = c.triggers;
    for (let i = 0; i < triggers.length; i++) {
      const t = triggers[i];
      if (!s.fired[i] && t.addr === cpu.rip && c.lanes[h.level].level === t.level) {
        s.fired[i] = 1;
        if (t.after > 0) {
          // Armed: raised `after` cycles from now (a device that answers later); the level
          // goes on at once.
          s.armed[i] = s.time + t.after;
          continue;
        }
        raise(s, t, h, this.raiser);
        return this.finish();
      }
    }
    if (checkBoundary(h)) {
      s.time += 1;
      return this.finish();
    }
    const wasNonRoot = s.vmx.nonRoot;
    const r = execute(h, this.nextTime() - s.time);
    s.time += cycles.spent;
    if (r === Exec.WORK_INTERRUPTED) {
      h.tsc = s.time;
      if (this.hrtimerDue()) this.fireHrtimer();
      else if (this.externalDue()) this.raiseDue();
      else if (!checkBoundary(h)) this.idle();
    } else if (wasNonRoot && s.vmx.nonRoot && h.out.kind !== EventKind.VMEXIT) {
      // "Monitor Trap Flag": with MTF = 1 an MTF VM exit is pending after each instruction.
      const vmcs = currentVmcs(s.vmx)!;
      if (readField(vmcs, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_MONITOR_TRAP_FLAG)
        s.vmx.mtfPending = true;
    }
    return this.finish();
  }

  /**
   * A hypervisor model at L0 while its guest does not run (KVM in root operation, Xen between
   * #VMEXIT and VMRUN): one decision or entry, or waiting for the vCPU's next event.
   */
  private rootStep(o: { r: 'recorded' | 'wait' | 'stopped'; decision: boolean }): boolean {
    const s = this.s;
    if (o.r === 'recorded') {
      s.time += o.decision ? KVM_DECISION_CYCLES : 1;
      return this.finish();
    }
    if (o.r === 'stopped') {
      s.end = 'stopped';
      return false;
    }
    // The vCPU is halted and nothing is pending for it: time passes until the next event.
    if (!this.idleUntilNext()) return false;
    if (this.hrtimerDue()) this.fireHrtimer();
    else {
      this.raiseDue();
      this.hart.out.d2 |= 1;
    }
    return this.finish();
  }

  /**
   * Nothing can happen before the next external event or timer expiry: time jumps there.
   * Returns false (the run is over, 'halted') when nothing is left to come.
   */
  private idleUntilNext(): boolean {
    const next = this.nextTime();
    if (next === Infinity) {
      this.s.end = 'halted';
      return false;
    }
    this.s.time = next;
    this.hart.tsc = next;
    return true;
  }

  /** Time passed and nothing happened that the trace would otherwise show. */
  private idle(): void {
    const out = this.hart.out;
    out.kind = EventKind.IDLE;
    out.rip = this.s.cpu.rip;
    out.d0 = out.d1 = out.d2 = 0;
  }

  private finish(): boolean {
    const s = this.s;
    s.step++;
    s.lane = this.hart.level;
    if (s.cpu.activity === Activity.SHUTDOWN && !s.vmx.nonRoot) s.end = 'shutdown';
    return true;
  }
}
