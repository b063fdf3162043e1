// svm_complete_interrupts (arch/x86/kvm/svm/svm.c, facts §3.7): after a #VMEXIT that interrupted
// the delivery of an event, EXITINTINFO holds it and KVM queues it again, to be re-injected
// first through EVENTINJ (kvm_check_and_inject_events). The lab's KVM guests rarely exit during
// a delivery (no nested page faults), so these tests drive the hooks on a processor whose vmcb01
// holds the EXITINTINFO a real exit would leave, through the same port KVM uses at L0.
import { describe, expect, it } from 'vitest';
import { createApic } from '../../../src/core/cpu/apic';
import type { Hart } from '../../../src/core/cpu/hart';
import { newStepRecord } from '../../../src/core/cpu/hart';
import { createCpu } from '../../../src/core/cpu/state';
import { CURRENT_NESTED, Inject, type KvmContext } from '../../../src/core/hypervisors/kvm/context';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { HardwarePort } from '../../../src/core/hypervisors/kvm/port';
import { kvmStep } from '../../../src/core/hypervisors/kvm/run-loop';
import { KvmPhase, createKvm } from '../../../src/core/hypervisors/kvm/state';
import { SVM_OPS } from '../../../src/core/hypervisors/kvm/svm-ops';
import { SvmHardwarePort } from '../../../src/core/hypervisors/svm-port';
import { createSvm } from '../../../src/core/svm/state';
import { vmxCaps } from '../../../src/core/vmx/capabilities';
import { EventKind } from '../helpers';
import { EVTINJ, INTERCEPT, KVM_SVM_HOST, SvmExit, VMCB } from './kvm-svm-helpers';
import { interceptMask, interceptOffset } from '../../../src/core/svm/bits';

/** KVM at L0 on a bare processor, its vCPU just out of a #VMEXIT (phase EXITED). */
function exited(code: number, exitIntInfo: number, err = 0, vnmi = false) {
  const h = {
    cpu: createCpu(),
    apic: createApic(),
    svm: createSvm(true),
    mem: { bytes: new Uint8Array(0x10000), stackLimit: 0 },
    out: newStepRecord(),
    tsc: 0,
  } as unknown as Hart;
  (h as { caps: unknown }).caps = vmxCaps({
    virtualNmis: true,
    preemptionTimer: true,
    preemptionTimerRate: 5,
    vmcsShadowing: true,
    vmwriteAnyField: true,
    stiBlocksNmiInjection: false,
  });
  const kvm = createKvm(vnmi);
  const c = {
    h,
    ops: SVM_OPS,
    port: new HardwarePort(h),
    svmPort: new SvmHardwarePort(h),
    lane: 0,
    laneRunBy: () => 1,
    kvm,
    guestLane: 1,
    hostIdt: 0,
    guest: { entry: 0x1000, idtBase: 0 },
    guestMemory: 0x10000,
    tscHz: 2e9,
    immediateExit: 'self-ipi',
    era: 'current',
    nested: CURRENT_NESTED,
    shadowVmcs: false,
    step: 0,
  } as unknown as KvmContext;
  // svm_hardware_enable and init_vmcb, as KVM does them.
  kvmStep(c);
  kvmStep(c);
  const port = c.svmPort!;
  const vmcb = KVM_SVM_HOST.VMCB01;
  port.write(vmcb, VMCB.EXIT_CODE, 4, code);
  port.write(vmcb, VMCB.EXIT_INT_INFO, 4, exitIntInfo);
  port.write(vmcb, VMCB.EXIT_INT_INFO_ERR, 4, err);
  port.write(vmcb, VMCB.RFLAGS, 8, 0x202);
  kvm.phase = KvmPhase.EXITED;
  kvm.reqEvent = false;
  h.svm.gif = false; // #VMEXIT cleared GIF
  return c;
}

function step(c: KvmContext) {
  c.h.out.kind = 0;
  const r = kvmStep(c);
  return { r, kind: c.h.out.kind, fn: c.h.out.d0, d1: c.h.out.d1, d2: c.h.out.d2 };
}

const eventInj = (c: KvmContext) => c.svmPort!.read(KVM_SVM_HOST.VMCB01, VMCB.EVENT_INJ, 4);

describe('svm_complete_interrupts re-queues the event EXITINTINFO holds', () => {
  it('an external interrupt: vcpu->arch.interrupt, then re-injected through EVENTINJ before anything new', () => {
    const info = (EVTINJ.SVM_EVTINJ_VALID | 0x41) >>> 0;
    const c = exited(SvmExit.EXCP_BASE + 6, info);
    const first = step(c);
    expect(first).toMatchObject({ kind: EventKind.DECISION, fn: Fn.svm_complete_interrupts, d1: info });
    expect(c.kvm.irqInjected).toBe(true);
    expect(c.kvm.irqVector).toBe(0x41);
    expect(c.kvm.reqEvent).toBe(true);
    // STGI came first: the host could take an interrupt again.
    expect(c.h.svm.gif).toBe(true);
    // The #UD exit's handler queues #UD; the re-injection of the interrupt still comes first
    // ("New events, other than exceptions, cannot be injected if KVM needs to re-inject").
    expect(step(c).fn).toBe(Fn.ud_interception);
    const inject = step(c);
    expect(inject.fn).toBe(Fn.kvm_check_and_inject_events);
    expect(inject.d1 & Inject.REINJECT_IRQ).toBeTruthy();
    expect(eventInj(c)).toBe(info);
  });

  it('an NMI: nmi_injected, re-injected as EVENTINJ NMI', () => {
    const info = (EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_NMI | 2) >>> 0;
    const c = exited(SvmExit.INTR, info);
    expect(step(c).fn).toBe(Fn.svm_complete_interrupts);
    expect(c.kvm.nmiInjected).toBe(true);
    expect(step(c).fn).toBe(Fn.intr_interception);
    const inject = step(c);
    expect(inject.d1 & Inject.REINJECT_NMI).toBeTruthy();
    expect(eventInj(c)).toBe((EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_NMI) >>> 0);
    // Without vNMI the re-injected NMI is masked in software again, with the IRET intercept.
    expect(c.kvm.svm.nmiMasked).toBe(true);
    const word = c.svmPort!.read(KVM_SVM_HOST.VMCB01, interceptOffset(INTERCEPT.INTERCEPT_IRET), 4);
    expect(word & interceptMask(INTERCEPT.INTERCEPT_IRET)).toBeTruthy();
  });

  it('an exception with its error code: kvm_requeue_exception, EVENTINJ with EV and event_inj_err', () => {
    const info =
      (EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_EXEPT | EVTINJ.SVM_EVTINJ_VALID_ERR | 13) >>> 0;
    const c = exited(SvmExit.INTR, info, 0x18);
    expect(step(c).d1).toBe(info);
    expect(c.kvm.exceptionInjected).toBe(true);
    expect(c.kvm.exceptionErrorCode).toBe(0x18);
    step(c); // intr_interception
    const inject = step(c);
    expect(inject.d1 & Inject.EXCEPTION).toBeTruthy();
    expect(eventInj(c)).toBe(info);
    expect(c.svmPort!.read(KVM_SVM_HOST.VMCB01, VMCB.EVENT_INJ_ERR, 4)).toBe(0x18);
  });

  it('nothing in EXITINTINFO: no decision, straight to the exit handler', () => {
    const c = exited(SvmExit.INTR, 0);
    expect(step(c).fn).toBe(Fn.intr_interception);
    expect(c.kvm.irqInjected || c.kvm.nmiInjected).toBe(false);
  });

  it('a host interrupt pending at the exit is taken after STGI, before svm_handle_exit', () => {
    const c = exited(SvmExit.INTR, 0);
    c.h.apic.irr[0xec >> 5] |= 1 << (0xec & 31);
    const host = step(c);
    expect(host.fn).toBe(Fn.host_irq);
    expect(host.d1).toBe(0xec);
    expect(step(c).fn).toBe(Fn.intr_interception);
  });
});
