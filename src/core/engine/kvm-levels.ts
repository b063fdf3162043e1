// The KVM levels of a stack, as the engine runs them: one KVM model per KVM lane, each with
// its context and port (the hardware at L0, its trapping instruction stubs above L0), the
// transactions of the decisions in progress above L0, KVM's hrtimers, and the kicks that
// bring a vCPU out of its guest when an event arrives for it.
import { requestInterrupt } from '../cpu/apic';
import type { Hart } from '../cpu/hart';
import type { CompiledScenario } from '../scenario/load';
import { type VmxCaps, vmxCaps } from '../vmx/capabilities';
import { CURRENT_NESTED, type KvmContext, decide, laneRunBy } from '../hypervisors/kvm/context';
import { Fn, RESCHEDULE_VECTOR } from '../hypervisors/kvm/functions';
import { kvmApicSetIrq, kvmInjectNmi } from '../hypervisors/kvm/lapic';
import { nestedVmxCaps } from '../hypervisors/kvm/nested';
import { HardwarePort } from '../hypervisors/kvm/port';
import { VMX_OPS } from '../hypervisors/kvm/vmx-ops';
import { SVM_OPS } from '../hypervisors/kvm/svm-ops';
import { SvmHardwarePort } from '../hypervisors/svm-port';
import {
  GuestPort,
  PortOp,
  type PortTx,
  Trap,
  cloneTx,
  newTx,
  trappedResult,
} from '../hypervisors/kvm/port-guest';
import { EventKind } from './view';
import { kvmHostIrq, kvmStep } from '../hypervisors/kvm/run-loop';
import { type KvmState, KvmPhase, cloneKvm, createKvm } from '../hypervisors/kvm/state';
import { irqVectorAt, kvmStubs, stubAddr, xenStubs } from '../hypervisors/kvm/stubs';

/** The decisions of a KVM above L0 in progress: its run loop's, and its interrupt handler's. */
export interface KvmTx {
  main: PortTx;
  irq: PortTx;
  /** The vector whose handler is running (its EOI may have trapped), or -1. */
  irqVector: number;
  /**
   * Events that arrived for this KVM while a decision of its was in progress (between a trap
   * and its resumption): kvm_apic_set_irq, kvm_inject_nmi, an hrtimer. The decision goes on
   * with the state it started from — as the vCPU thread of the kernel goes on past its
   * checks — and they are applied when it completes, to be seen at KVM's next check.
   */
  inbox: { vector: number; nmi: boolean; timer: boolean }[];
}

export function cloneKvmTx(t: KvmTx | null): KvmTx | null {
  return t
    ? {
        main: cloneTx(t.main),
        irq: cloneTx(t.irq),
        irqVector: t.irqVector,
        inbox: t.inbox.map((e) => ({ ...e })),
      }
    : null;
}

/** A decision of this KVM is in progress: it trapped and has not completed yet. */
export function inProgress(t: KvmTx): boolean {
  return t.main.pending !== null || t.main.log.length > 0 || t.irqVector >= 0;
}

/** What KVM at `lane` holds: its model's state (null for a lane that is not KVM). */
export interface KvmLevelsState {
  kvms: (KvmState | null)[];
  tx: (KvmTx | null)[];
}

/** The KVM states of a new run: every KVM lane, its virtual NMIs as the level below offers them. */
export function initialKvms(c: CompiledScenario): KvmLevelsState {
  // On AMD the processor has vNMI (CPUID 8000_000A EDX[25], svm/cpuid.ts): kvm_amd.vnmi decides.
  let vnmi = c.scenario.arch === 'svm' ? true : c.scenario.features.vmx.virtualNmis;
  const kvms = c.lanes.map((l) => {
    if (l.kind !== 'kvm') return null;
    const level = c.scenario.levels[l.level];
    // kvm_intel.vnmi is forced off when the (virtual) processor has no virtual NMIs
    // (vmx.c hardware_setup); KVM offers its guest virtual NMIs only when it uses them.
    vnmi = vnmi && level.kind === 'kvm' && level.options.vnmi;
    return createKvm(vnmi);
  });
  return {
    kvms,
    tx: c.lanes.map((l, i) =>
      // A hypervisor model above L0 (KVM, or Xen) runs its decisions as transactions.
      (l.kind === 'kvm' || l.kind === 'xen') && i > 0
        ? { main: newTx(), irq: newTx(), irqVector: -1, inbox: [] }
        : null,
    ),
  };
}

export interface KvmStepOutcome {
  /** 'recorded': h.out holds the step's record; 'wait': nothing to do until an event; 'stopped'. */
  r: 'recorded' | 'wait' | 'stopped';
  /** The record is a decision (it costs KVM_DECISION_CYCLES). */
  decision: boolean;
}

export class KvmLevels {
  private readonly contexts: (KvmContext | null)[];
  private readonly hardware: HardwarePort;
  private readonly svmHardware: SvmHardwarePort;
  private readonly caps: VmxCaps[];

  constructor(
    private readonly c: CompiledScenario,
    private readonly h: Hart,
    /** The state the engine runs now (rebound by the engine when it changes). */
    private s: KvmLevelsState & { lane: number; vmx: { nonRoot: boolean }; svm: { guest: boolean } },
  ) {
    this.hardware = new HardwarePort(h);
    this.svmHardware = new SvmHardwarePort(h);
    this.contexts = c.lanes.map(() => null);
    // The VMX capabilities each level reads: the processor's at L0; above, what the KVM below
    // offers (nested_vmx_setup_ctls_msrs).
    this.caps = [];
    let caps = vmxCaps(c.scenario.features.vmx);
    c.lanes.forEach((_, i) => {
      this.caps[i] = caps;
      const kvm = this.s.kvms[i];
      if (kvm) caps = nestedVmxCaps(kvm, caps);
    });
  }

  /** The engine's state changed (a seek restored another). */
  bind(s: KvmLevelsState & { lane: number; vmx: { nonRoot: boolean }; svm: { guest: boolean } }): void {
    this.s = s;
  }

  kvmAt(lane: number): KvmState | null {
    return this.s.kvms[lane] ?? null;
  }

  /** The lane a VMCS of `owner` runs (context.ts laneRunBy, on the current state). */
  laneRunBy = (owner: number, vmcsAddr: number): number => laneRunBy(this.s.kvms, owner, vmcsAddr);

  private context(lane: number, kvm: KvmState): KvmContext {
    let ctx = this.contexts[lane];
    if (!ctx) {
      const c = this.c;
      const level = c.scenario.levels[c.lanes[lane].level];
      const guestLane = lane + 1;
      const guestInfo = c.lanes[guestLane];
      const guest =
        guestInfo.kind === 'kvm'
          ? kvmStubs()
          : guestInfo.kind === 'xen'
            ? xenStubs()
            : c.programs[guestInfo.program];
      const opts = level.kind === 'kvm' ? level.options : null;
      ctx = {
        h: this.h,
        ops: c.scenario.arch === 'svm' ? SVM_OPS : VMX_OPS,
        port: this.hardware,
        svmPort: c.scenario.arch === 'svm' ? this.svmHardware : null,
        lane,
        laneRunBy: this.laneRunBy,
        kvm,
        guestLane,
        hostIdt: lane > 0 ? kvmStubs().idtBase : 0,
        guest,
        guestMemory: c.scenario.levels[guestInfo.level].memory,
        tscHz: c.scenario.features.tscHz,
        immediateExit: opts ? opts.immediateExit : 'preemption-timer',
        era: opts ? opts.era : 'current',
        nested: opts
          ? {
              immediateExit: opts.nestedImmediateExit,
              reevaluateOnEntry: opts.nestedReevaluateOnEntry,
              ackOnExit: opts.nestedAckOnExit,
              pretendL2Ran: opts.pretendL2Ran,
            }
          : CURRENT_NESTED,
        shadowVmcs: opts ? opts.shadowVmcs : true,
        step: 0,
      };
      this.contexts[lane] = ctx;
    }
    ctx.kvm = kvm;
    return ctx;
  }

  /** KVM at L0, in root operation: one decision on the hardware. */
  stepRoot(step: number): KvmStepOutcome {
    const kvm = this.kvmAt(0)!;
    const ctx = this.context(0, kvm);
    ctx.port = this.hardware;
    ctx.step = step;
    // vcpu->arch.regs: the guest's registers as the exit left them, before KVM touches any.
    if (kvm.phase === KvmPhase.EXITED && !kvm.regsSaved) {
      kvm.guestRegs.set(this.h.cpu.regs);
      kvm.regsSaved = true;
    }
    const r = kvmStep(ctx);
    return { r, decision: r === 'recorded' && this.h.out.kind === EventKind.DECISION };
  }

  /**
   * KVM above L0, running in VMX non-root operation: its interrupt handler when the processor
   * delivered an interrupt through its IDT, else the next decision of its run loop, as a
   * transaction: an instruction that traps ends the step with the VM exit, and the decision
   * is run again, with the instructions already done replayed, once KVM resumes.
   */
  stepGuest(lane: number, step: number, memory: Uint8Array): KvmStepOutcome {
    const s = this.s;
    const h = this.h;
    const tx = s.tx[lane]!;
    // In the interrupt handler: delivered just now (RIP at its entry), or resuming after its
    // EOI trapped.
    if (tx.irqVector < 0) tx.irqVector = irqVectorAt(h.cpu.rip);
    const vector = tx.irqVector;
    const t = vector >= 0 ? tx.irq : tx.main;
    const hostRip = stubAddr('vmx_vmexit');
    let committed = s.kvms[lane]!;
    let captureRegs = false;
    if (t.pending) {
      const p = t.pending;
      // Back from its guest: after VMLAUNCH/VMRESUME at HOST_RIP; after VMRUN (which the level
      // below always emulates) past it.
      const entered =
        ((p.op === PortOp.VMLAUNCH || p.op === PortOp.VMRESUME) && h.cpu.rip === hostRip) ||
        p.op === PortOp.VMRUN;
      if (h.cpu.rip !== p.resume && !entered && vector < 0) {
        // Not yet back from the instruction (the level below has not resumed KVM after it).
        throw new Error(`KVM at L${lane} resumed at 0x${h.cpu.rip.toString(16)}, not after its instruction`);
      }
      if (entered && !committed.regsSaved) {
        // Back from its guest: the guest's registers as the exit left them. After VMRUN they
        // are taken once the decision has been run again: svm_vcpu_run wrote RAX and RSP into
        // the VMCB from the registers it had, and its replay must write the same.
        if (p.op === PortOp.VMRUN) captureRegs = true;
        else {
          committed.guestRegs.set(h.cpu.regs);
          committed.regsSaved = true;
        }
      }
      t.log.push({ op: p.op, arg: p.arg, arg2: p.arg2, result: trappedResult(h, p, hostRip) });
      t.pending = null;
    }
    const work = cloneKvm(committed);
    const port = new GuestPort(h, t, lane, this.caps[lane], memory);
    const ctx = this.context(lane, work);
    ctx.port = port;
    if (ctx.svmPort) ctx.svmPort = port;
    ctx.step = step;
    try {
      let r: KvmStepOutcome['r'];
      if (vector >= 0) {
        r = kvmHostIrq(ctx, vector);
        port.handlerIret();
      } else {
        r = kvmStep(ctx);
        if (r === 'wait') {
          // kvm_vcpu_block with nothing to do: the host idles (STI; HLT), which traps.
          port.idle();
          r = decide(h, Fn.kvm_vcpu_block);
        }
      }
      // (regsSaved stays as the replayed decision left it, false, as after the capture above.)
      if (captureRegs) work.guestRegs.set(h.cpu.regs);
      s.kvms[lane] = work;
      committed = work;
      t.log = [];
      if (vector >= 0) tx.irqVector = -1;
      if (!inProgress(tx)) this.deliverInbox(tx, work);
      return { r, decision: true };
    } catch (e) {
      if (e !== Trap.instance) throw e;
      return { r: 'recorded', decision: false };
    }
  }

  /** The earliest deadline of a KVM hrtimer (vmcs12's preemption timer), or Infinity. */
  nextHrtimer(): number {
    let t = Infinity;
    for (const k of this.s.kvms) {
      const d = k ? k.nested.preemptionTimerDeadline : -1;
      if (d >= 0 && d < t) t = d;
    }
    return t;
  }

  /** The lane of a KVM whose hrtimer is due at `time`, or -1. */
  hrtimerDue(time: number): number {
    const kvms = this.s.kvms;
    for (let i = 0; i < kvms.length; i++) {
      const d = kvms[i] ? kvms[i]!.nested.preemptionTimerDeadline : -1;
      if (d >= 0 && d <= time) return i;
    }
    return -1;
  }

  /** The events that waited for a KVM's decision to complete. */
  private deliverInbox(tx: KvmTx, kvm: KvmState): void {
    for (const e of tx.inbox) {
      if (e.timer) expireTimer(kvm);
      else if (e.nmi) kvmInjectNmi(kvm);
      else kvmApicSetIrq(kvm, e.vector);
    }
    tx.inbox = [];
  }

  /**
   * vmx_preemption_timer_fn: the hrtimer that emulates vmcs12's timer fires:
   * preemption_timer_expired, KVM_REQ_EVENT, kvm_vcpu_kick. Fills h.out.
   */
  fireHrtimer(lane: number): void {
    const kvm = this.kvmAt(lane)!;
    kvm.nested.preemptionTimerDeadline = -1;
    const tx = this.s.tx[lane];
    if (tx && inProgress(tx)) tx.inbox.push({ vector: 0, nmi: false, timer: true });
    else expireTimer(kvm);
    const kicked = this.kick(lane);
    decide(this.h, Fn.vmx_preemption_timer_fn, kicked ? 1 : 0);
  }

  /**
   * kvm_vcpu_kick for the vCPU of KVM at `lane`: an IPI (the reschedule vector) to the CPU it
   * runs on, unless KVM itself runs there now and will see the request. At L0 that CPU is the
   * processor (only while in non-root operation); above, it is the virtual CPU of `lane`, whose
   * APIC the KVM below emulates — so the kick is an interrupt raised there, kicking in turn.
   */
  kick(lane: number): boolean {
    if (lane === 0) {
      // The vCPU runs its guest: VMX non-root operation, or an SVM guest (VMRUN).
      if (!this.s.vmx.nonRoot && !this.s.svm.guest) return false;
      requestInterrupt(this.h.apic, RESCHEDULE_VECTOR);
      return true;
    }
    if (this.s.lane === lane) return false;
    this.raiseAt(lane, RESCHEDULE_VECTOR, false);
    return true;
  }

  /** An interrupt (or NMI) at the APIC of `level` > 0, which the KVM below emulates. */
  raiseAt(level: number, vector: number, nmi: boolean): boolean {
    const kvm = this.kvmAt(level - 1)!;
    const tx = this.s.tx[level - 1];
    if (tx && inProgress(tx)) tx.inbox.push({ vector, nmi, timer: false });
    else if (nmi) kvmInjectNmi(kvm);
    else kvmApicSetIrq(kvm, vector);
    return this.kick(level - 1);
  }
}

/** The hrtimer's expiry: preemption_timer_expired and KVM_REQ_EVENT. */
function expireTimer(kvm: KvmState): void {
  kvm.nested.preemptionTimerExpired = true;
  kvm.reqEvent = true;
}

/** KVM's instruction stubs and IDT, loaded into the memory of a KVM level (or Xen's copy). */
export function loadKvmImage(bytes: Uint8Array, p = kvmStubs()): void {
  bytes.set(p.image, p.origin);
}
