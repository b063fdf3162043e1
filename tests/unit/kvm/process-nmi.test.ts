// process_nmi (arch/x86/kvm/x86.c): NMIs raised for the vCPU are counted in nmi_queued
// (kvm_inject_nmi, KVM_REQ_NMI) and moved to nmi_pending on the next vcpu_enter_guest, keeping
// at most two when NMIs are unmasked and none is in flight, else one (facts §3.9).
import { describe, expect, it } from 'vitest';
import type { EventSpec } from '../helpers';
import { EventKind } from '../helpers';
import {
  Fn,
  Inject,
  NMI_INFO,
  decisions,
  firstAfter,
  glabel,
  guestEvents,
  guestQ,
  injections,
  kvmAt,
  runKvm,
  type KvmDocSpec,
} from './kvm-helpers';

/** A guest that counts its NMIs; the handler takes a while (the NMI stays blocked meanwhile). */
const COUNTING_GUEST = [
  '        .intgate 2, nmi',
  'start:  sti',
  '        work 200000',
  'done:   cli',
  '        hlt',
  '        jmp done',
  'nmi:    inc qword [count]',
  '        work 20000',
  '        iretq',
  'count:  .dq 0',
];

const nmiAt = (time: number, n = 1): EventSpec[] =>
  Array.from({ length: n }, () => ({ at: { time }, target: 1, nmi: true as const }));

function run(events: EventSpec[], spec: KvmDocSpec = {}) {
  const s = runKvm(COUNTING_GUEST, { ...spec, events });
  return { s, count: guestQ(s, glabel(s, 'count')), pn: decisions(s, Fn.process_nmi) };
}

describe('kvm_inject_nmi → nmi_queued, process_nmi → nmi_pending', () => {
  it('a raised NMI waits in nmi_queued with KVM_REQ_NMI until process_nmi moves it', () => {
    const { s, pn } = run(nmiAt(5000));
    const raise = guestEvents(s, EventKind.RAISE)[0];
    expect(kvmAt(s, raise.step - 1)).toMatchObject({ nmiQueued: 0, nmiPending: 0, reqNmi: false });
    expect(kvmAt(s, raise.step)).toMatchObject({ nmiQueued: 1, nmiPending: 0, reqNmi: true });
    expect(pn).toHaveLength(1);
    expect(pn[0]).toMatchObject({ d1: 1, d2: 0 });
    expect(kvmAt(s, pn[0].step)).toMatchObject({
      nmiQueued: 0,
      nmiPending: 1,
      reqNmi: false,
      reqEvent: true,
    });
    // The next decision injects it.
    const inj = firstAfter(decisions(s), pn[0].step)!;
    expect(inj.d0).toBe(Fn.kvm_check_and_inject_events);
    expect(inj.d1 & Inject.NMI).toBeTruthy();
    expect(kvmAt(s, inj.step)).toMatchObject({ nmiPending: 0, nmiInjected: true });
  });
});

describe('process_nmi limits', () => {
  it('keeps two of three NMIs raised together while NMIs are unmasked; the guest sees two', () => {
    const { s, count, pn } = run(nmiAt(5000, 3));
    expect(pn[0]).toMatchObject({ d1: 2, d2: 1 }); // 2 pending, 1 dropped
    // One is injected at once, and an NMI window is requested for the other.
    const inj = firstAfter(decisions(s, Fn.kvm_check_and_inject_events), pn[0].step)!;
    expect(inj.d1 & Inject.NMI).toBeTruthy();
    expect(inj.d1 & Inject.NMI_WINDOW).toBeTruthy();
    expect(kvmAt(s, inj.step).nmiPending).toBe(1);
    expect(injections(s, NMI_INFO)).toHaveLength(2);
    expect(count).toBe(2n);
  });

  it('keeps one while NMIs are masked (the guest is in its NMI handler, virtual-NMI blocking)', () => {
    const { s, count, pn } = run([...nmiAt(1000), ...nmiAt(5000, 3)]);
    expect(pn).toHaveLength(2);
    expect(pn[1]).toMatchObject({ d1: 1, d2: 2 });
    expect(injections(s, NMI_INFO)).toHaveLength(2);
    expect(count).toBe(2n);
  });

  it('keeps one while soft_vnmi_blocked masks NMIs (no virtual NMIs)', () => {
    const { s, count, pn } = run([...nmiAt(1000), ...nmiAt(5000, 3)], { cpu: { virtualNmis: false } });
    expect(kvmAt(s, pn[1].step - 1).softVnmiBlocked).toBe(true);
    expect(pn[1]).toMatchObject({ d1: 1, d2: 2 });
    expect(injections(s, NMI_INFO)).toHaveLength(2);
    expect(count).toBe(2n);
  });

  it('keeps one while an NMI is in flight (nmi_injected), then re-injects it first', () => {
    // Find when KVM injects NMI #1, then raise two more NMIs between that decision and the
    // VM entry: process_nmi runs again with nmi_injected set.
    const probe = run(nmiAt(5000)).s;
    const first = decisions(probe, Fn.kvm_check_and_inject_events).find((d) => d.d1 & Inject.NMI)!;
    const { s, count, pn } = run([...nmiAt(5000), ...nmiAt(first.time - 50, 2)]);
    expect(pn).toHaveLength(2);
    expect(kvmAt(s, pn[1].step - 1).nmiInjected).toBe(true);
    expect(pn[1]).toMatchObject({ d1: 1, d2: 1 });
    // kvm_check_and_inject_events: re-injection first; the pending NMI must wait (-EBUSY → an
    // immediate exit).
    const again = firstAfter(decisions(s, Fn.kvm_check_and_inject_events), pn[1].step)!;
    expect(again.d1 & Inject.REINJECT_NMI).toBeTruthy();
    expect(again.d1 & Inject.NMI).toBe(0);
    expect(again.d1 & Inject.IMMEDIATE_EXIT).toBeTruthy();
    // The guest gets NMI #1 and one more: two.
    expect(injections(s, NMI_INFO)).toHaveLength(2);
    expect(count).toBe(2n);
  });
});
