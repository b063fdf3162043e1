// The kvm-unit-tests style built-ins for pending events and the monitor trap flag
// (kut-pending-event, kut-mtf): each passes its own asserts, and the facts they teach are checked
// here from the trace — exit reasons in order, saved guest RIPs, deliveries, VMCS fields.
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { EventType, deliveries, label, open } from '../helpers';
import { entries, exits, field } from './vmx-helpers';

function builtin(name: string, params: Record<string, ParamValue> = {}) {
  const doc = findBuiltin(name);
  if (!doc) throw new Error(`no built-in ${name}`);
  return open(doc, params);
}

type Session = ReturnType<typeof builtin>;

/** No run error, every assert passed or was skipped, and the host reached its final `cli; hlt`. */
function expectClean(s: Session, passes: number, skips = 0) {
  expect(s.runError()).toBeNull();
  expect(s.sim.endReason).toBe('halted');
  expect(s.assertions.filter((a) => !a.passed && !a.skipped).map((a) => a.message)).toEqual([]);
  expect(s.assertions.filter((a) => a.passed)).toHaveLength(passes);
  expect(s.assertions.filter((a) => a.skipped)).toHaveLength(skips);
  expect(s.expectedEnd()).toMatchObject({ label: 'tests_done', reached: true });
}

/** A VMCS field as the exit at index `i` left it. */
const at = (s: Session, i: number, name: string) => field(s, name, exits(s)[i].step);

describe('kut-pending-event', () => {
  it.each([false, true])(
    'guest_hlt=%s: the self-IPI pending at entry exits before any guest instruction',
    (hlt) => {
      const s = builtin('kut-pending-event', { guest_hlt: hlt });
      expectClean(s, hlt ? 9 : 8);
      const x = exits(s);
      const e = entries(s);
      expect(x.map((r) => [r.reason, r.intrInfo])).toEqual([
        [18, 0],
        [1, 0],
        [18, 0],
      ]);
      // the exit is the step right after the VM entry: no guest instruction ran in between
      expect(x[1].step).toBe(e[1].step + 1);
      expect(x[1].rip).toBe(label(s, 'guest_body'));
      expect(at(s, 1, 'GUEST_ACTIVITY_STATE')).toBe(hlt ? 1 : 0);
      // the vector stayed in the IRR through the exit, and the host took it after STI's shadow
      expect(s.view(x[1].step).levels[0].apic).toMatchObject({ irr: [0xf1], isr: [] });
      const d = deliveries(s);
      expect(d.map((r) => [s.sim.trace.level[r.step - 1], r.vector, r.type])).toEqual([
        [0, 0xf1, EventType.EXTINT],
      ]);
      expect(d[0].step).toBeGreaterThan(x[1].step);
      expect(d[0].step).toBeLessThan(e[2].step);
      // then the guest runs its body to the last VMCALL
      expect(x[2].rip).toBe(label(s, 'guest_body') + 11);
      expect(s.view(s.totalSteps).levels[0].apic).toMatchObject({ irr: [], isr: [] });
    },
  );
});

describe('kut-mtf', () => {
  it('MTF after one instruction, over a TF trap (BS saved), a pending BS exiting as #DB with BS, after #GP (MOV CR3) and INT1 delivery, injected type 7, after an injected #DB', () => {
    const s = builtin('kut-mtf');
    expectClean(s, 28);
    const x = exits(s);
    const e = entries(s);
    const mtf = x.filter((r) => r.reason === 37);
    expect(mtf.map((r) => r.rip)).toEqual([
      label(s, 'test_mtf1'),
      label(s, 'test_mtf2'),
      label(s, 'guest_gp'),
      label(s, 'guest_db'),
      label(s, 'test_mtf4'),
      label(s, 'guest_db'),
    ]);
    // stage 2: TF=1 too, the MTF exit wins and BS (bit 14) is saved as pending
    const s2 = x.indexOf(mtf[1]);
    expect(at(s, s2, 'GUEST_PENDING_DBG_EXCEPTIONS')).toBe(0x4000);
    expect(at(s, s2, 'GUEST_RFLAGS') & 0x100).toBe(0x100);
    // stage 3: the pending trap is raised before any instruction and the #DB exit consumes it
    const s3 = x[s2 + 1];
    expect([s3.reason, s3.intrInfo, s3.rip]).toEqual([0, 0x80000301, label(s, 'test_mtf2')]);
    expect(at(s, s2 + 1, 'EXIT_QUALIFICATION')).toBe(0x4000);
    expect(at(s, s2 + 1, 'GUEST_PENDING_DBG_EXCEPTIONS')).toBe(0);
    expect(s3.step).toBe(e[s2 + 1].step + 1);
    // stages 4 and 5: the #GP(0) of the MOV CR3 and INT1's #DB are delivered, then the MTF exit
    const guestDeliveries = deliveries(s).filter((d) => s.sim.trace.level[d.step - 1] === 1);
    expect(guestDeliveries.map((d) => [d.vector, d.type, d.errorCode])).toEqual([
      [13, EventType.HW_EXCEPTION, 0],
      [1, EventType.PRIV_SW_EXCEPTION, 0],
    ]); // stage 7's #DB is delivered by the VM entry itself (its record's guest RIP)
    expect(guestDeliveries[0].rip).toBe(label(s, 'mtf_movcr3')); // a fault: the MOV CR3
    expect(guestDeliveries[1].rip).toBe(label(s, 'test_mtf3') + 4); // a trap: after the INT1
    // stage 6: type 7 vector 0 injected with the MTF control 0: the exit is the next step
    const s6 = e.find((r) => r.injected === 0x80000700)!;
    expect(mtf[4].step).toBe(s6.step + 1);
    // stage 7: the injected #DB's delivery is followed by the MTF exit at its handler
    const s7 = e.find((r) => r.injected === 0x80000301)!;
    expect([s7.guestRip, mtf[5].step]).toEqual([label(s, 'guest_db'), s7.step + 1]);
  });
});

describe('kut-event-delivery', () => {
  it('#NP exits with the INT, the external interrupt and the injected NMI in IDT-vectoring information; each re-injected once; #DF has none', () => {
    const s = builtin('kut-event-delivery');
    expectClean(s, 29);
    const x = exits(s);
    expect(x.map((r) => [r.reason, r.intrInfo, r.vectoring])).toEqual([
      [0, 0x80000b0b, 0x80000440],
      [18, 0, 0],
      [0, 0x80000b0b, 0x80000050],
      [18, 0, 0],
      [0, 0x80000b0b, 0x80000202],
      [18, 0, 0],
      [0, 0x80000b08, 0],
    ]);
    expect([0, 2, 4].map((i) => at(s, i, 'VM_EXIT_INTR_ERROR_CODE'))).toEqual([0x202, 0x283, 0x13]);
    expect(at(s, 0, 'VM_EXIT_INSTRUCTION_LEN')).toBe(2);
    // the re-injections: each the IDT-vectoring word, delivered to the handler the gate names
    const e = entries(s);
    expect(e.map((r) => r.injected)).toEqual([0, 0x80000440, 0, 0x80000050, 0x80000202, 0x80000202, 0]);
    expect([e[1].guestRip, e[3].guestRip, e[5].guestRip]).toEqual([
      label(s, 'guest_int40'),
      label(s, 'guest_irq50'),
      label(s, 'guest_nmi'),
    ]);
    expect(field(s, 'VM_ENTRY_INSTRUCTION_LEN', e[1].step)).toBe(2);
    // the injected NMI's delivery failed at the entry: the exit is the next step
    expect(x[4].step).toBe(e[4].step + 1);
    expect(x[4].rip).toBe(label(s, 'guest_nmi_at'));
    // the external interrupt was accepted by the guest before its delivery faulted
    expect(s.view(x[2].step).levels[0].apic).toMatchObject({ irr: [], isr: [0x50] });
    expect(s.view(s.totalSteps).levels[0].apic).toMatchObject({ irr: [], isr: [] });
    // #GP(0) of the RDMSR, no gate: #NP, contributory on contributory: #DF, exit without vectoring
    expect(x[6].rip).toBe(label(s, 'guest_rdmsr'));
  });
});
