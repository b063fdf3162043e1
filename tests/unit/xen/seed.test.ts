// Seed 004 (xen-svm-vnmi): every variant teaches its lesson because the Xen model and the SVM
// hardware model behave that way (seed-scenarios.md E.6).
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { Assist, IntBlk } from '../../../src/core/hypervisors/xen/functions';
import { INT_CTL } from '../../../src/core/svm/bits';
import { VMCB } from '../../../src/core/svm/vmcb';
import { EventKind, EventType, deliveries, open, rows } from '../helpers';
import { exitCodes, guestInstructions, guestLabel, guestQ, vmcb32, xenDecisions } from './xen-helpers';

function seed(params: Record<string, ParamValue> = {}) {
  return open(findBuiltin('xen-svm-vnmi'), params);
}
const passed = (s: ReturnType<typeof seed>) => s.assertions.map((a) => a.passed);
const nmiExits = (s: ReturnType<typeof seed>) => exitCodes(s).filter((c) => c === 0x74 || c === 0x64);
/** NMIs delivered through the guest's IDT: by the processor (V_NMI) or injected at VMRUN (EVENTINJ). */
function nmis(s: ReturnType<typeof seed>): { step: number; handler: number }[] {
  const out: { step: number; handler: number }[] = [];
  for (const r of rows(s)) {
    if (r.kind === EventKind.DELIVER && ((r.d0 >>> 8) & 7) === EventType.NMI)
      out.push({ step: r.step, handler: r.d2 });
    if (r.kind === EventKind.VMENTRY && r.d0 >>> 0 === 0x80000202) out.push({ step: r.step, handler: r.d2 });
  }
  return out;
}
const V_NMI = INT_CTL.V_NMI_PENDING_MASK;
const V_MASK = INT_CTL.V_NMI_BLOCKING_MASK;
const IRET_INTERCEPT = 1 << 20;
const VINTR_INTERCEPT = 1 << 4;

describe('xen-svm-vnmi, E-legacy (vnmi off): EVENTINJ and the IRET intercept', () => {
  const s = seed({ vnmi: false });

  it('both NMIs are injected through EVENTINJ (0x80000202) and run the handler one after the other', () => {
    expect(nmis(s)).toHaveLength(2);
    const inj = rows(s).filter((r) => r.kind === EventKind.VMENTRY && r.d0 === 0x80000202);
    expect(inj).toHaveLength(2);
    expect(passed(s)).toEqual([true, true, true]);
  });

  it('exits: the kicks (0x60), then IRET 0x74 and VINTR 0x64 between the deliveries, then IRET again', () => {
    expect(exitCodes(s)).toEqual([0x60, 0x60, 0x74, 0x64, 0x74, 0x78]);
    const [first, second] = nmis(s);
    const between = rows(s).filter(
      (r) => r.kind === EventKind.VMEXIT && r.step > first.step && r.step < second.step,
    );
    expect(between.map((r) => r.d0)).toEqual([0x60, 0x74, 0x64]);
  });

  it('the IRET exit comes before the IRET executes (RIP at the iretq); NMI #2 only after it retired', () => {
    const iretExit = rows(s).find((r) => r.kind === EventKind.VMEXIT && r.d0 === 0x74)!;
    const iretAddr = s.compiled.programs[1].instrs.find((i) => i.text === 'iretq')!.addr;
    expect(iretExit.rip).toBe(iretAddr);
    const iretRetired = rows(s).find((r) => r.kind === EventKind.IRET && r.step > iretExit.step)!;
    const second = nmis(s)[1];
    expect(second.step).toBeGreaterThan(iretRetired.step);
    expect(second.handler).toBe(guestLabel(s, 'nmi_handler'));
  });

  it('Xen: the IRET intercept is its NMI mask while a handler runs; after the IRET exit, the fake shadow', () => {
    const dec = xenDecisions(s);
    const inject = dec.find((x) => x.fn === 'svm_intr_assist' && x.d1 & Assist.NMI_EVENTINJ)!;
    expect(vmcb32(s, VMCB.INTERCEPT, inject.step) & IRET_INTERCEPT).not.toBe(0);
    expect(vmcb32(s, VMCB.EVENT_INJ, inject.step)).toBe(0x80000202);
    const iretHandled = dec.find((x) => x.fn === 'svm_vmexit_handler' && x.d1 === 0x74)!;
    expect(vmcb32(s, VMCB.INTERCEPT, iretHandled.step) & IRET_INTERCEPT).toBe(0);
    expect(vmcb32(s, VMCB.INT_STATE, iretHandled.step)).toBe(1);
    // NMI #2 waited: svm_enable_intr_window did nothing while the IRET intercept was set ...
    expect(dec.some((x) => x.fn === 'svm_intr_assist' && x.d1 === Assist.WINDOW_IRET)).toBe(true);
    // ... then, blocked by the fake shadow, opened a VINTR window: V_IRQ, vector 0, V_IGN_TPR, VINTR.
    const win = dec.find((x) => x.fn === 'svm_intr_assist' && x.step > iretHandled.step)!;
    expect(win.d1).toBe(Assist.WINDOW_VINTR);
    expect((win.d2 >>> 8) & 0xff).toBe(IntBlk.shadow);
    const intCtl = vmcb32(s, VMCB.INT_CTL, win.step);
    expect(intCtl & INT_CTL.V_IRQ_MASK).not.toBe(0);
    expect(intCtl & INT_CTL.V_IGN_TPR_MASK).not.toBe(0);
    expect(vmcb32(s, VMCB.INT_VECTOR, win.step)).toBe(0);
    expect(vmcb32(s, VMCB.INTERCEPT, win.step) & VINTR_INTERCEPT).not.toBe(0);
    // VMEXIT_VINTR drops them again.
    const vintr = dec.find((x) => x.fn === 'svm_vmexit_handler' && x.d1 === 0x64)!;
    expect(vmcb32(s, VMCB.INT_CTL, vintr.step) & INT_CTL.V_IRQ_MASK).toBe(0);
    expect(vmcb32(s, VMCB.INTERCEPT, vintr.step) & VINTR_INTERCEPT).toBe(0);
  });
});

describe('xen-svm-vnmi, E-vNMI (the default): V_NMI, V_NMI_MASK, no NMI-related exit', () => {
  const s = seed();

  it('no IRET or VINTR exit, fewer exits than legacy; EVENTINJ never written', () => {
    expect(exitCodes(s)).toEqual([0x60, 0x60, 0x78]);
    expect(nmiExits(s)).toEqual([]);
    expect(exitCodes(s).length).toBeLessThan(exitCodes(seed({ vnmi: false })).length);
    for (let n = 0; n <= s.totalSteps; n++) expect(vmcb32(s, VMCB.EVENT_INJ, n)).toBe(0);
    expect(nmis(s)).toHaveLength(2);
    expect(passed(s)).toEqual([true, true, true]);
  });

  it('V_NMI/V_NMI_MASK go (1,0) → (0,1) → (1,1) → IRET: (1,0) for one boundary → (0,1) → IRET → (0,0)', () => {
    const seen: string[] = [];
    for (let n = 0; n <= s.totalSteps; n++) {
      const st = s.sim.stateAt(n);
      const c = st.svm.guest ? st.svm.intCtl : vmcb32(s, VMCB.INT_CTL, n);
      const pair = `${c & V_NMI ? 1 : 0}${c & V_MASK ? 1 : 0}`;
      if (seen[seen.length - 1] !== pair) seen.push(pair);
    }
    expect(seen).toEqual(['00', '10', '01', '11', '10', '01', '00']);
  });

  it('the second NMI: hvm_interrupt_blocked short-circuits V_NMI_MASK and svm_inject_nmi sets V_NMI', () => {
    const dec = xenDecisions(s).filter((x) => x.fn === 'svm_intr_assist' && x.d1 & Assist.NMI_VNMI);
    expect(dec.map((x) => x.d1)).toEqual([Assist.NMI_VNMI, Assist.NMI_VNMI | Assist.SHORT_CIRCUIT]);
  });
});

describe("xen-svm-vnmi, E-v2 (if0): an interrupted IF = 0 holds Xen's NMI window", () => {
  it("legacy: NMI #2 waits for the guest's STI (the V_IRQ window needs IF = 1); the checkpoint assert fails", () => {
    const s = seed({ vnmi: false, if0: true });
    expect(passed(s)).toEqual([false, true, true]);
    const sti = s.compiled.programs[1].instrs.filter((i) => i.text === 'sti')[1].addr;
    const stiStep = rows(s).find((r) => r.kind === EventKind.INSTR && r.rip === sti)!.step;
    const second = nmis(s)[1];
    expect(second.step).toBeGreaterThan(stiStep);
    const checkpoint = guestLabel(s, 'checkpoint');
    const check = rows(s).find((r) => r.kind === EventKind.ASSERT && r.rip === checkpoint)!;
    expect(second.step).toBeGreaterThan(check.step);
  });

  it("vNMI: NMI #2 is delivered at the first handler's IRET whatever IF; every assert passes", () => {
    const s = seed({ if0: true });
    expect(passed(s)).toEqual([true, true, true]);
    expect(nmiExits(s)).toEqual([]);
  });
});

describe('xen-svm-vnmi, E-v1 (iret_faults): the first handler’s IRET faults', () => {
  /** The step the #GP from the first handler's IRET is delivered. */
  function gpWindow(s: ReturnType<typeof seed>) {
    return { gp: rows(s).find((r) => r.kind === EventKind.DELIVER && (r.d0 & 0xff) === 13)!.step };
  }

  it('legacy: Xen dropped its mask at the IRET exit, so NMI #2 goes in at the #GP handler’s CPUID exit — nested', () => {
    const s = seed({ vnmi: false, iret_faults: true });
    expect(passed(s)).toEqual([true, true, false]);
    // IRET intercept (0x74), then the IRET faults: #GP in the guest, with the NMI not yet returned.
    const gp = gpWindow(s).gp;
    expect(exitCodes(s)).toContain(0x74);
    const inject = nmis(s)[1];
    expect(inject.step).toBeGreaterThan(gp);
    expect(inject.handler).toBe(guestLabel(s, 'nmi_handler'));
    // Injected right after the #GP handler's CPUID exit (0x72), before the faulting IRET retired.
    const cpuidExit = rows(s).filter((r) => r.kind === EventKind.VMEXIT && r.d0 === 0x72 && r.step > gp)[0];
    expect(cpuidExit.step).toBeLessThan(inject.step);
    const nmiIret = guestLabel(s, 'nmi_iret');
    const retired = rows(s).filter((r) => r.kind === EventKind.INSTR && r.rip === nmiIret);
    expect(retired.every((r) => r.step > inject.step)).toBe(true);
    expect(guestQ(s, guestLabel(s, 'max_depth'))).toBe(2n);
  });

  it('vNMI: the faulting IRET leaves V_NMI_MASK set; NMI #2 waits for the next IRET that completes, the #GP handler’s', () => {
    const s = seed({ iret_faults: true });
    expect(passed(s)).toEqual([true, true, true]);
    expect(nmiExits(s)).toEqual([]);
    const gp = gpWindow(s).gp;
    expect(vmcb32(s, VMCB.INT_CTL, gp) & V_MASK).not.toBe(0);
    // Not at the #GP handler's CPUID exit: Xen finds the NMI blocked (V_NMI_MASK) and leaves it
    // parked in V_NMI; the processor delivers it after the #GP handler's IRET (any IRET clears
    // the mask, as it ends blocking by NMI on the processor itself).
    const cpuidExit = rows(s).filter((r) => r.kind === EventKind.VMEXIT && r.d0 === 0x72 && r.step > gp)[0];
    const handler = guestLabel(s, 'gp_handler');
    const iretAddr = s.compiled.programs[1].instrs.find((i) => i.addr > handler && i.text === 'iretq')!.addr;
    const gpIret = rows(s).find((r) => r.rip === iretAddr && r.step > cpuidExit.step)!;
    const second = nmis(s)[1];
    expect(second.step).toBe(gpIret.step + 1);
    expect(guestQ(s, guestLabel(s, 'max_depth'))).toBe(1n);
  });
});

describe('xen-svm-vnmi, E-v3 (short_circuit off)', () => {
  it('Xen opens a VINTR window for an NMI the hardware masks: one VINTR exit more, after the IRET', () => {
    const s = seed({ short_circuit: false });
    expect(exitCodes(s)).toEqual([0x60, 0x60, 0x64, 0x78]);
    const blocked = xenDecisions(s).find((x) => x.fn === 'svm_intr_assist' && x.d1 === Assist.WINDOW_VINTR)!;
    expect((blocked.d2 >>> 8) & 0xff).toBe(IntBlk.nmi_iret);
    expect(passed(s)).toEqual([true, true, true]);
  });
});

describe('xen-svm-vnmi, E-v4 (nmi_intercept off)', () => {
  it('V_NMI_ENABLE without the NMI intercept: VMEXIT_INVALID at the first VMRUN, no guest instruction, domain_crash', () => {
    const s = seed({ nmi_intercept: false });
    expect(exitCodes(s)).toEqual([0xffffffff]);
    expect(vmcb32(s, VMCB.EXIT_CODE)).toBe(0xffffffff);
    expect(vmcb32(s, VMCB.EXIT_CODE_HI)).toBe(0xffffffff);
    expect(guestInstructions(s)).toBe(0);
    expect(deliveries(s)).toHaveLength(0);
    expect(xenDecisions(s).at(-1)!.fn).toBe('domain_crash');
    expect(s.sim.endReason).toBe('stopped');
  });

  it('without vNMI the same intercepts are legal: VMRUN enters the guest', () => {
    const s = seed({ nmi_intercept: false, vnmi: false });
    expect(exitCodes(s)[0]).not.toBe(0xffffffff);
    expect(passed(s)).toEqual([true, true, true]);
  });
});

describe('the CPU feature', () => {
  it('features.svm.vnmi = false: CPUID 8000_000A EDX[25] clear, so Xen uses EVENTINJ and the IRET intercept', () => {
    const doc = JSON.parse(JSON.stringify(findBuiltin('xen-svm-vnmi'))) as Record<string, unknown>;
    doc.features = { svm: { vnmi: false } };
    const s = open(doc);
    expect(s.sim.stateAt(0).svm.features & (1 << 25)).toBe(0);
    const construct = xenDecisions(s).find((x) => x.fn === 'construct_vmcb')!;
    expect(construct.d2 & INT_CTL.V_NMI_ENABLE_MASK).toBe(0);
    expect(nmiExits(s)).toEqual([0x74, 0x64, 0x74]);
  });
});
