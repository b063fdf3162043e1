// The Xen level of a stack, as the engine runs it: the Xen model with its context and its SVM
// port — the hardware at L0; above L0 (Xen under KVM on SVM) its trapping stubs, run as a
// transaction like KVM's above L0 (kvm-levels.ts) —, the events that arrive for its vCPU
// (vlapic_set_irq, an NMI at the vLAPIC) and the kick that brings a running vCPU out of its guest
// (vcpu_kick: EVENT_CHECK_VECTOR, an IPI to the CPU Xen runs on).
import type { Hart } from '../cpu/hart';
import type { CompiledScenario } from '../scenario/load';
import { type XenContext, type XenOptions } from '../hypervisors/xen/context';
import { EVENT_CHECK_VECTOR } from '../hypervisors/xen/functions';
import { XenSvmPort } from '../hypervisors/xen/port';
import { XenGuestPort } from '../hypervisors/xen/port-guest';
import { GuestPort, PortOp, Trap, trappedResult } from '../hypervisors/kvm/port-guest';
import { irqVectorAt, xenStubs } from '../hypervisors/kvm/stubs';
import { decide } from '../hypervisors/xen/context';
import { XenFn } from '../hypervisors/xen/functions';
import { cloneXen } from '../hypervisors/xen/state';
import { requestInterrupt } from '../cpu/apic';
import { vmxCaps } from '../vmx/capabilities';
import { type KvmTx, inProgress } from './kvm-levels';
import { xenStep } from '../hypervisors/xen/run-loop';
import { type XenState, XenPhase, createXen } from '../hypervisors/xen/state';
import { cpuHasSvmVnmi } from '../hypervisors/xen/vmcb-setup';
import { vlapicAcceptNmi, vlapicSetIrq } from '../hypervisors/xen/vlapic';
import { svmFeatureBits } from '../svm/cpuid';
import { EventKind } from './view';

const DEFAULT_OPTIONS: XenOptions = { vnmi: true, vnmiShortCircuit: true, nmiIntercept: true };

/** The Xen level of the stack (its lane), or -1. */
export function xenLane(c: CompiledScenario): number {
  return c.lanes.findIndex((l) => l.kind === 'xen');
}

/**
 * The Xen state of a new run (null without a Xen level). Above L0 the processor Xen sees is
 * what the KVM below offers it: vNMI when that KVM uses it (kvm_amd.vnmi).
 */
export function initialXen(c: CompiledScenario): XenState | null {
  const lane = xenLane(c);
  if (lane < 0) return null;
  const level = c.scenario.levels[c.lanes[lane].level];
  if (level.kind !== 'xen') return null;
  let cpuVnmi = cpuHasSvmVnmi(svmFeatureBits(c.scenario.features.svm));
  for (let i = 0; i < lane; i++) {
    const below = c.scenario.levels[c.lanes[i].level];
    if (below.kind === 'kvm') cpuVnmi &&= below.options.vnmi;
  }
  // construct_vmcb: vnmi_enable = cpu_has_svm_vnmi (the option turns the 86a203ab8d use off).
  return createXen(level.options.vnmi && cpuVnmi);
}

export interface XenStepOutcome {
  r: 'recorded' | 'wait' | 'stopped';
  /** The record is a decision (it costs the decision cycles). */
  decision: boolean;
}

/** Xen's STGI after the #VMEXIT ends the step: an interrupt for Xen comes in before its handler. */
const YIELD_AFTER_STGI: ReadonlySet<number> = new Set([PortOp.STGI]);

type XenLevelsState = { xen: XenState | null; svm: { guest: boolean }; tx: (KvmTx | null)[]; lane: number };

export class XenLevels {
  private ctx: XenContext | null = null;
  /** Xen's lane (0 at L0). */
  readonly lane: number;
  /** The level below Xen, which emulates its APIC above L0 (KVM): the kick goes there. */
  below: EventRaiser | null = null;

  constructor(
    private readonly c: CompiledScenario,
    private readonly h: Hart,
    private s: XenLevelsState,
  ) {
    this.lane = Math.max(0, xenLane(c));
  }

  bind(s: XenLevelsState): void {
    this.s = s;
  }

  private context(xen: XenState): XenContext {
    let ctx = this.ctx;
    if (!ctx) {
      const c = this.c;
      const level = c.scenario.levels[c.lanes[this.lane].level];
      const guestLane = this.lane + 1;
      ctx = {
        h: this.h,
        port: new XenSvmPort(this.h, this.lane),
        xen,
        options: level.kind === 'xen' ? level.options : DEFAULT_OPTIONS,
        guest: c.programs[c.lanes[guestLane].program],
        guestMemory: c.scenario.levels[c.lanes[guestLane].level].memory,
      };
      this.ctx = ctx;
    }
    ctx.xen = xen;
    return ctx;
  }

  /** Xen at L0, the guest not running: one decision, the VMRUN, or waiting. */
  stepRoot(): XenStepOutcome {
    const r = xenStep(this.context(this.s.xen!));
    return { r, decision: r === 'recorded' && this.h.out.kind === EventKind.DECISION };
  }

  /**
   * vcpu_kick: a vCPU running in its guest is made to exit by an IPI to its CPU
   * (EVENT_CHECK_VECTOR, an INTR #VMEXIT); a blocked one is woken by its next step
   * (vcpu_unblock); Xen itself, running, sees the event at its next svm_intr_assist.
   */
  private kick(): boolean {
    if (this.lane > 0) {
      // Xen's CPU is the virtual CPU the level below emulates: the IPI is an interrupt raised at
      // its APIC (kicking in turn), unless Xen runs now and sees the event at its next check.
      if (this.s.lane === this.lane) return false;
      return this.below?.raiseAt(this.lane, EVENT_CHECK_VECTOR, false) ?? false;
    }
    if (!this.s.svm.guest) return false;
    requestInterrupt(this.h.apic, EVENT_CHECK_VECTOR);
    return true;
  }

  /**
   * Xen above L0, running as the guest of the KVM below: its host interrupt handler when the
   * level below delivered an interrupt through its IDT (do_IRQ: EOI, IRET), else its next
   * decision, as a transaction (an instruction that traps ends the step with the #VMEXIT; the
   * decision runs again, with what it already did replayed, once Xen resumes).
   */
  stepGuest(memory: Uint8Array): XenStepOutcome {
    const s = this.s;
    const h = this.h;
    const lane = this.lane;
    const tx = s.tx[lane]!;
    const stubs = xenStubs();
    if (tx.irqVector < 0) tx.irqVector = irqVectorAt(h.cpu.rip, stubs);
    const vector = tx.irqVector;
    const t = vector >= 0 ? tx.irq : tx.main;
    let captureRegs = false;
    if (t.pending) {
      const p = t.pending;
      // Back from VMRUN (always emulated below): the guest's registers are taken after the
      // replay, as for KVM (svm_asm_do_resume loaded them before VMRUN).
      if (p.op === PortOp.VMRUN) captureRegs = true;
      else if (h.cpu.rip !== p.resume && vector < 0)
        throw new Error(`Xen at L${lane} resumed at 0x${h.cpu.rip.toString(16)}, not after its instruction`);
      t.log.push({ op: p.op, arg: p.arg, arg2: p.arg2, result: trappedResult(h, p, 0) });
      t.pending = null;
    }
    const work = cloneXen(s.xen!);
    const g = new GuestPort(
      h,
      t,
      lane,
      vmxCaps(this.c.scenario.features.vmx),
      memory,
      stubs,
      YIELD_AFTER_STGI,
    );
    const ctx = this.context(work);
    ctx.port = new XenGuestPort(h, g, work, lane);
    try {
      let r: XenStepOutcome['r'];
      if (vector >= 0) {
        // do_IRQ (an EOI that traps) or do_nmi, then the handler's IRET.
        if (vector !== 2) g.hostEoi();
        r = decide(h, vector === 2 ? XenFn.do_nmi : XenFn.do_IRQ, vector);
        g.handlerIret();
      } else {
        r = xenStep(ctx);
        if (r === 'wait') {
          // Nothing to run: Xen's idle loop (STI; HLT), which traps to the level below.
          g.idle();
          r = decide(h, XenFn.idle_loop);
        }
      }
      if (captureRegs) work.guestRegs.set(h.cpu.regs);
      s.xen = work;
      t.log = [];
      if (vector >= 0) tx.irqVector = -1;
      if (!inProgress(tx)) this.deliverInbox(tx, work);
      return { r, decision: r === 'recorded' };
    } catch (e) {
      if (e !== Trap.instance) throw e;
      // Xen's STGI did not trap but ends the step (the processor's boundary checks come next):
      // the step is Xen's, recorded as entry.S's svm_stgi_label.
      if ((t.pending as { op: number } | null)?.op === PortOp.STGI) {
        decide(h, XenFn.svm_stgi_label);
        return { r: 'recorded', decision: true };
      }
      return { r: 'recorded', decision: false };
    }
  }

  private deliverInbox(tx: KvmTx, xen: XenState): void {
    for (const e of tx.inbox) {
      if (e.nmi) vlapicAcceptNmi(xen);
      else vlapicSetIrq(xen, e.vector);
    }
    tx.inbox = [];
  }

  /** An interrupt or NMI at the vCPU's vLAPIC (level 1). Returns whether the vCPU was kicked. */
  raiseAt(level: number, vector: number, nmi: boolean): boolean {
    const xen = this.s.xen!;
    if (level !== this.lane + 1 || xen.phase === XenPhase.DEAD) return false;
    // A decision of Xen's in progress above L0 goes on with the state it started from; the
    // event is applied when it completes (as KVM's inbox).
    const tx = this.s.tx[this.lane];
    if (tx && inProgress(tx)) {
      tx.inbox.push({ vector, nmi, timer: false });
      return this.kick();
    }
    const fresh = nmi ? vlapicAcceptNmi(xen) : vlapicSetIrq(xen, vector);
    return fresh ? this.kick() : false;
  }
}

/** Raises an event at the interrupt controller of a level above L0. */
export interface EventRaiser {
  raiseAt(level: number, vector: number, nmi: boolean): boolean;
}

/** The model below the target level emulates its interrupt controller: Xen's vLAPIC or KVM's. */
export function eventRaiser(c: CompiledScenario, kvm: EventRaiser, xen: EventRaiser): EventRaiser {
  return {
    raiseAt: (level, vector, nmi) =>
      c.lanes[level - 1]?.kind === 'xen' ? xen.raiseAt(level, vector, nmi) : kvm.raiseAt(level, vector, nmi),
  };
}
