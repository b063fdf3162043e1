// svm_vmexit_handler's "Event delivery caused this intercept? Queue for redelivery.": an
// EXITINTINFO that hvm_event_needs_reinjection accepts is copied to EVENTINJ. With Xen's
// intercepts (#MC only, no nested paging in the lab) no exit of the model interrupts a
// delivery, so the test writes EXITINTINFO into the VMCB after a real #VMEXIT and lets Xen
// handle it.
import { describe, expect, it } from 'vitest';
import { Stepper, cloneState } from '../../../src/core/engine/machine';
import { XEN_HOST } from '../../../src/core/hypervisors/xen/port';
import { ExitDid } from '../../../src/core/hypervisors/xen/exits';
import { VMCB } from '../../../src/core/svm/vmcb';
import { EventKind, rows } from '../helpers';
import { runXen } from './xen-helpers';

function handleWithIntInfo(intInfo: number): { d2: number; eventInj: number } {
  const s = runXen(
    ['start:  sti', '        work 3000', '        cli', '        hlt'],
    [{ at: { time: 1000 }, target: 1, irq: 0x30 }],
  );
  const exit = rows(s).find((r) => r.kind === EventKind.VMEXIT && r.d0 === 0x60)!;
  const st = cloneState(s.sim.stateAt(exit.step));
  const b = st.mems[0].bytes;
  const at = XEN_HOST.VMCB + VMCB.EXIT_INT_INFO;
  new DataView(b.buffer, b.byteOffset).setUint32(at, intInfo, true);
  const stepper = new Stepper(s.compiled, st);
  for (let i = 0; i < 4; i++) {
    stepper.step();
    const o = stepper.hart.out;
    if (o.kind === EventKind.DECISION && o.d1 === 0x60) {
      const eventInj = new DataView(b.buffer, b.byteOffset).getUint32(XEN_HOST.VMCB + VMCB.EVENT_INJ, true);
      return { d2: o.d2, eventInj };
    }
  }
  throw new Error('svm_vmexit_handler did not run');
}

describe('re-injection from EXITINTINFO', () => {
  it('an external interrupt, an NMI and a #GP are queued again in EVENTINJ', () => {
    for (const info of [0x80000030, 0x80000202, 0x80000b0d]) {
      const r = handleWithIntInfo(info);
      expect(r.d2 & ExitDid.REINJECT).toBe(ExitDid.REINJECT);
      expect(r.eventInj >>> 0).toBe(info);
    }
  });

  it('a software interrupt, #BP and #OF are not (the guest re-executes the instruction)', () => {
    for (const info of [0x80000480, 0x80000303, 0x80000304]) {
      const r = handleWithIntInfo(info);
      expect(r.d2 & ExitDid.REINJECT).toBe(0);
      expect(r.eventInj & 0x80000000).toBe(0);
    }
  });
});
