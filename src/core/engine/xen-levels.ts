// The Xen level of a stack, as the engine runs it: the Xen model at L0 with its context and
// its SVM port, the events that arrive for its vCPU (vlapic_set_irq, an NMI at the vLAPIC) and
// the kick that brings a running vCPU out of its guest (vcpu_kick: EVENT_CHECK_VECTOR).
import type { Hart } from '../cpu/hart';
import type { CompiledScenario } from '../scenario/load';
import { type XenContext, type XenOptions } from '../hypervisors/xen/context';
import { EVENT_CHECK_VECTOR } from '../hypervisors/xen/functions';
import { XenSvmPort } from '../hypervisors/xen/port';
import { xenStep } from '../hypervisors/xen/run-loop';
import { type XenState, XenPhase, createXen } from '../hypervisors/xen/state';
import { cpuHasSvmVnmi } from '../hypervisors/xen/vmcb-setup';
import { vlapicAcceptNmi, vlapicSetIrq } from '../hypervisors/xen/vlapic';
import { svmFeatureBits } from '../svm/cpuid';
import { EventKind } from './view';

const DEFAULT_OPTIONS: XenOptions = { vnmi: true, vnmiShortCircuit: true, nmiIntercept: true };

/** The Xen state of a new run (null when L0 is not Xen). */
export function initialXen(c: CompiledScenario): XenState | null {
  const l0 = c.scenario.levels[0];
  if (l0.kind !== 'xen') return null;
  // construct_vmcb: vnmi_enable = cpu_has_svm_vnmi (the option turns the 86a203ab8d use off).
  return createXen(l0.options.vnmi && cpuHasSvmVnmi(svmFeatureBits(c.scenario.features.svm)));
}

export interface XenStepOutcome {
  r: 'recorded' | 'wait' | 'stopped';
  /** The record is a decision (it costs the decision cycles). */
  decision: boolean;
}

export class XenLevels {
  private ctx: XenContext | null = null;

  constructor(
    private readonly c: CompiledScenario,
    private readonly h: Hart,
    private s: { xen: XenState | null; svm: { guest: boolean } },
  ) {}

  bind(s: { xen: XenState | null; svm: { guest: boolean } }): void {
    this.s = s;
  }

  private context(xen: XenState): XenContext {
    let ctx = this.ctx;
    if (!ctx) {
      const c = this.c;
      const l0 = c.scenario.levels[0];
      const guestLane = 1;
      ctx = {
        h: this.h,
        port: new XenSvmPort(this.h, 0),
        xen,
        options: l0.kind === 'xen' ? l0.options : DEFAULT_OPTIONS,
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
    if (!this.s.svm.guest) return false;
    this.context(this.s.xen!).port.selfIpi(EVENT_CHECK_VECTOR);
    return true;
  }

  /** An interrupt or NMI at the vCPU's vLAPIC (level 1). Returns whether the vCPU was kicked. */
  raiseAt(level: number, vector: number, nmi: boolean): boolean {
    const xen = this.s.xen!;
    if (level !== 1 || xen.phase === XenPhase.DEAD) return false;
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
