// "Why, with causes" (causes/causes.ts): the reads the models note where they decide, the value
// each read, and the step that set it — checked against the trace and against the palette's
// independent "when did this change" search.
import { describe, expect, it } from 'vitest';
import { type CauseInput, type CausesView, causesOf } from '../../../src/core/causes/causes';
import { runQuery, sessionRun } from '../../../src/core/engine/search';
import { type LabSession, openSession } from '../../../src/core/engine/session';
import { EventKind } from '../../../src/core/engine/view';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { CHECKPOINT_INTERVAL } from '../../../src/core/engine/simulation';
import { SEARCH_INTERVALS } from '../../../src/core/causes/causes';
import { run } from '../helpers';

function open(doc: unknown, params: Record<string, boolean | number | string> = {}): LabSession {
  const r = openSession({ doc }, params);
  if (!r.ok) throw new Error(r.error.message);
  return r.session;
}

/** Steps (1-based) whose event passes `test`. */
function stepsWhere(s: LabSession, test: (i: number) => boolean): number[] {
  const t = s.sim.trace;
  const out: number[] = [];
  for (let i = 0; i < t.length; i++) if (test(i)) out.push(i + 1);
  return out;
}

function exitSteps(s: LabSession, reason: number, level?: number): number[] {
  const t = s.sim.trace;
  return stepsWhere(
    s,
    (i) =>
      t.kind[i] === EventKind.VMEXIT &&
      (t.d0[i] & 0xffff) === reason &&
      (level === undefined || t.level[i] === level),
  );
}

function input(v: CausesView, label: string): CauseInput {
  const x = v.inputs.find((i) => i.label === label);
  if (!x) throw new Error(`no input '${label}' in ${v.inputs.map((i) => i.label).join(', ')}`);
  return x;
}

/** The last step before `step` at which the palette's change search saw `query` change. */
function lastChangeBefore(s: LabSession, query: string, step: number): number | null {
  const a = runQuery(sessionRun(s), query);
  if (!a.ok || a.kind !== 'results') throw new Error(`${query}: ${JSON.stringify(a)}`);
  const before = a.steps.filter((n) => n < step);
  return before.length ? before[before.length - 1] : null;
}

describe('soft-vNMI: the interrupt-window exit (exit 7)', () => {
  const s = open(findBuiltin('soft-vnmi'));
  const t = s.sim.trace;
  const n = exitSteps(s, 7)[0];
  const v = causesOf(s, n);

  it('names the deciding bit, RFLAGS.IF and the interruptibility it read, with their values', () => {
    expect(v.recorded).toBe(true);
    const bit = input(v, 'CPU_BASED_VM_EXEC_CONTROL.INTR_WINDOW_EXITING of vmcs01');
    expect(bit).toMatchObject({ value: '1', decides: true, by: 'processor' });
    expect(bit.what).toMatchObject({ k: 'vmcs', owner: 0, enc: 0x4002, mask: 4 });
    expect(input(v, 'RFLAGS.IF of L1')).toMatchObject({ value: '1', decides: true });
    expect(input(v, 'blocking_by_sti of L1')).toMatchObject({ value: '0', decides: true });
    expect(input(v, 'blocking_by_mov_ss of L1')).toMatchObject({ value: '0', decides: true });
    // The higher-priority checks were read and found nothing due: listed, not deciding.
    expect(input(v, 'NMI pending (processor)')).toMatchObject({ value: '0', decides: false });
    expect(input(v, 'CPU_BASED_VM_EXEC_CONTROL.NMI_WINDOW_EXITING of vmcs01')).toMatchObject({
      value: '0',
      decides: false,
    });
  });

  it('links the window bit to the KVM decision that armed it, as the change search finds it', () => {
    const bit = input(v, 'CPU_BASED_VM_EXEC_CONTROL.INTR_WINDOW_EXITING of vmcs01');
    const set = bit.setBy!;
    expect(set.step).toBe(lastChangeBefore(s, bit.query!, n));
    expect(t.kind[set.step - 1]).toBe(EventKind.DECISION);
    expect(t.d0[set.step - 1]).toBe(Fn.kvm_check_and_inject_events);
    expect(set.actor).toMatch(/^kvm_check_and_inject_events \(.*enable_irq_window.*\) \(KVM L0\)$/);
    expect([set.from, set.to]).toEqual(['0', '1']);
  });

  it("links IF to the guest's IRET that set it", () => {
    const set = input(v, 'RFLAGS.IF of L1').setBy!;
    expect(set.step).toBe(lastChangeBefore(s, 'RFLAGS.IF of L1', n));
    expect(t.kind[set.step - 1]).toBe(EventKind.IRET);
    expect(set.actor).toBe('`iretq` at L1');
  });

  it('an input unchanged since the run began has no setter', () => {
    expect(input(v, 'blocking_by_mov_ss of L1').setBy).toBeNull();
  });

  it('an instruction step records no reads, and explaining leaves the run as it was', () => {
    const instr = stepsWhere(s, (i) => t.kind[i] === EventKind.INSTR)[3];
    expect(causesOf(s, instr)).toMatchObject({ recorded: false, inputs: [] });
    const before = s.view(n);
    for (const m of exitSteps(s, 7).slice(0, 3)) causesOf(s, m);
    expect(s.view(n)).toEqual(before);
    expect(s.sim.trace.length).toBe(s.totalSteps);
  });
});

describe('a KVM decision: injecting the NMI with soft vNMI', () => {
  const s = open(findBuiltin('soft-vnmi'));
  const t = s.sim.trace;
  // The first kvm_check_and_inject_events that injected an NMI (d1 bit 4: Inject.NMI).
  const n = stepsWhere(
    s,
    (i) =>
      t.kind[i] === EventKind.DECISION && t.d0[i] === Fn.kvm_check_and_inject_events && (t.d1[i] & 4) !== 0,
  )[0];
  const v = causesOf(s, n);

  it('reads nmi_pending (set by process_nmi) and the soft NMI-blocked flag', () => {
    const pending = input(v, 'nmi_pending of KVM L0');
    expect(pending).toMatchObject({ value: '1', decides: true, by: 'KVM L0' });
    expect(t.d0[pending.setBy!.step - 1]).toBe(Fn.process_nmi);
    expect(pending.setBy!.actor).toBe('process_nmi (KVM L0)');
    expect(input(v, 'soft_vnmi_blocked of KVM L0')).toMatchObject({ value: '0' });
    expect(input(v, 'enable_vnmi of KVM L0')).toMatchObject({ value: '0', setBy: null });
  });

  it("__vmx_handle_exit's unblocking reads soft_vnmi_blocked and the guest's IF from the VMCS", () => {
    const m = stepsWhere(
      s,
      (i) => t.kind[i] === EventKind.DECISION && t.d0[i] === Fn.vmx_handle_exit && t.d1[i] === 1,
    )[0];
    const w = causesOf(s, m);
    const soft = input(w, 'soft_vnmi_blocked of KVM L0');
    expect(soft.value).toBe('1');
    expect(soft.setBy!.step).toBe(n);
    expect(soft.setBy!.actor).toMatch(/vmx_inject_nmi/);
    const rflagsIf = input(w, 'GUEST_RFLAGS.IF of vmcs01');
    expect(rflagsIf.value).toBe('1');
    // Saved into the VMCS by the exit that preceded the decision.
    expect(t.kind[rflagsIf.setBy!.step - 1]).toBe(EventKind.VMEXIT);
  });
});

describe('a delivery: IF, the PPR against the vector, the shadows', () => {
  const s = open(findBuiltin('apic-priority'));
  const t = s.sim.trace;
  const n = stepsWhere(s, (i) => t.kind[i] === EventKind.DELIVER)[0];
  const v = causesOf(s, n);

  it('reads the highest IRR vector and the PPR it beat, and IF', () => {
    const vector = t.d0[n - 1] & 0xff;
    const irr = input(v, "highest IRR vector of the processor's APIC");
    expect(irr).toMatchObject({ value: `vector ${vector}`, decides: true });
    const ppr = input(v, "PPR of the processor's APIC");
    expect(ppr.decides).toBe(true);
    expect(Number(ppr.value) & 0xf0).toBeLessThan(vector & 0xf0);
    expect(input(v, 'RFLAGS.IF of L0')).toMatchObject({ value: '1', decides: true });
    expect(input(v, 'RFLAGS.IF of L0').setBy!.actor).toBe('`sti` at L0');
  });

  it('the interrupt shadow gates the delivery: it decides too', () => {
    expect(input(v, 'blocking_by_sti of L0')).toMatchObject({ value: '0', decides: true });
    // The shadow STI left ended after the instruction that followed it.
    expect(input(v, 'blocking_by_sti of L0').setBy!.from).toBe('1');
  });

  it('a higher-priority check that found nothing is listed as not deciding', () => {
    expect(input(v, 'NMI pending (processor)')).toMatchObject({ value: '0', decides: false });
  });
});

describe('under nesting: why an exit of L2 went to L1 or stayed with L0', () => {
  const s = open(nestUnderKvm(findBuiltin('kut-intr-window')));
  const t = s.sim.trace;

  it('an interrupt-window exit of L2 is reflected to L1: vmcs12 asks for it', () => {
    const n = exitSteps(s, 7, 2)[0];
    const r = causesOf(s, n).routing!;
    expect(r).toMatchObject({ fn: 'nested_vmx_l1_wants_exit', to: 'L1' });
    expect(t.kind[r.step - 1]).toBe(EventKind.DECISION);
    expect(t.d0[r.step - 1]).toBe(Fn.nested_vmx_reflect_vmexit);
    const bit = r.inputs.find((i) => i.label === 'CPU_BASED_VM_EXEC_CONTROL.INTR_WINDOW_EXITING of vmcs12')!;
    expect(bit).toMatchObject({ value: '1', by: 'KVM L0' });
    expect(bit.what).toMatchObject({ k: 'vmcs', owner: 1 });
    expect(r.text).toContain('reflected to L1');
    expect(bit.setBy!.step).toBeLessThan(n);
  });

  it('a HLT of L2 that vmcs12 does not intercept is kept by L0', () => {
    const n = exitSteps(s, 12, 2)[0];
    const r = causesOf(s, n).routing!;
    expect(r).toMatchObject({ fn: 'nested_vmx_l1_wants_exit', to: 'L0' });
    expect(r.inputs.find((i) => i.label === 'CPU_BASED_VM_EXEC_CONTROL.HLT_EXITING of vmcs12')).toMatchObject(
      {
        value: '0',
      },
    );
    expect(r.text).toContain('kept by L0');
    // L0 emulated the HLT itself: its next decision is kvm_emulate_halt, not a reflection.
    expect(t.d0[r.step - 1]).toBe(Fn.kvm_emulate_halt);
  });

  it('an exit L0 always wants (its preemption timer) names nested_vmx_l0_wants_exit', () => {
    const e = open(findBuiltin('immediate-exit'));
    const n = exitSteps(e, 52, 2)[0];
    expect(n).toBeGreaterThan(0);
    expect(causesOf(e, n).routing).toMatchObject({ fn: 'nested_vmx_l0_wants_exit', to: 'L0' });
  });
});

describe('SVM: the guest boundary notes int_ctl and the intercepts', () => {
  it("svm-virq's VINTR intercept (exit 0x64): V_IRQ, IF and the intercept decided", () => {
    const s = open(findBuiltin('svm-virq'));
    const n = exitSteps(s, 0x64)[0];
    const v = causesOf(s, n);
    const vmcb = "of L1's VMCB (as loaded by VMRUN)";
    expect(input(v, `int_ctl.V_IRQ ${vmcb}`)).toMatchObject({ value: '1', decides: true });
    expect(input(v, `INTERCEPT_VINTR ${vmcb}`)).toMatchObject({ value: '1', decides: true });
    expect(input(v, `int_ctl.V_INTR_PRIO ${vmcb}`)).toMatchObject({ value: '15', decides: true });
    const rflagsIf = input(v, 'RFLAGS.IF of L1');
    expect(rflagsIf).toMatchObject({ value: '1', decides: true });
    expect(rflagsIf.setBy!.actor).toBe('`sti` at L1');
    // VMRUN loaded the guest's int_ctl: the step that set V_IRQ is a VM entry.
    expect(s.sim.trace.kind[input(v, `int_ctl.V_IRQ ${vmcb}`).setBy!.step - 1]).toBe(EventKind.VMENTRY);
  });

  it("svm-intr-gif's INTR intercept (exit 0x60): the APIC's vector and INTERCEPT_INTR", () => {
    const s = open(findBuiltin('svm-intr-gif'));
    const n = exitSteps(s, 0x60)[0];
    const v = causesOf(s, n);
    expect(input(v, "INTERCEPT_INTR of L1's VMCB (as loaded by VMRUN)")).toMatchObject({
      value: '1',
      decides: true,
    });
    const irr = input(v, "highest IRR vector of the processor's APIC");
    expect(irr.decides).toBe(true);
    expect(s.sim.trace.kind[irr.setBy!.step - 1]).toBe(EventKind.RAISE);
  });
});

describe('an instruction that exits by a control', () => {
  it("soft-vnmi's HLT exit read HLT_EXITING of vmcs01, set when KVM created the vCPU", () => {
    const s = open(findBuiltin('soft-vnmi'));
    const n = exitSteps(s, 12)[0];
    const v = causesOf(s, n);
    const hlt = input(v, 'CPU_BASED_VM_EXEC_CONTROL.HLT_EXITING of vmcs01');
    expect(hlt).toMatchObject({ value: '1', decides: true, by: 'processor' });
    expect(hlt.setBy!.actor).toBe('vmx_vcpu_create (KVM L0)');
    // The boundary before it found nothing due: its reads are listed, not deciding.
    expect(v.inputs.filter((i) => i.decides).map((i) => i.label)).toEqual([
      'CPU_BASED_VM_EXEC_CONTROL.HLT_EXITING of vmcs01',
    ]);
    // An exit with no control (VMCALL in kut-intr-window) lists no processor reads at all.
    const k = open(findBuiltin('kut-intr-window'));
    const call = causesOf(k, exitSteps(k, 18)[0]);
    expect(call.inputs.filter((i) => i.by === 'processor')).toEqual([]);
  });
});

describe('a long run', () => {
  it('"set by" searches at most SEARCH_INTERVALS checkpoint intervals back, and says so', () => {
    // IF set at the start, then a loop of about 40 intervals, then an interrupt delivered.
    const iterations = Math.ceil(((SEARCH_INTERVALS + 8) * CHECKPOINT_INTERVAL) / 3);
    const s = run(
      [
        'start:  sti',
        '        xor ecx, ecx',
        `again:  inc rcx`,
        `        cmp rcx, ${iterations}`,
        '        jne again',
        '        hlt',
        '        cli',
        '        hlt',
        '.intgate 0x40, h',
        'h:      iretq',
      ],
      [{ at: { time: 3 * iterations + 100 }, irq: 0x40 }],
      {},
      { limits: { steps: 10_000_000 } },
    );
    const t = s.sim.trace;
    const n = stepsWhere(s, (i) => t.kind[i] === EventKind.DELIVER)[0];
    expect(n).toBeGreaterThan((SEARCH_INTERVALS + 4) * CHECKPOINT_INTERVAL);
    const rflagsIf = input(causesOf(s, n), 'RFLAGS.IF of L0');
    expect(rflagsIf.setBy).toBeNull();
    expect(rflagsIf.sameSince).toBeGreaterThan(0);
    expect(n - rflagsIf.sameSince).toBeLessThanOrEqual(SEARCH_INTERVALS * CHECKPOINT_INTERVAL);
    // The vector's IRR bit was set within reach: its raise is found.
    const irr = input(causesOf(s, n), "highest IRR vector of the processor's APIC");
    expect(t.kind[irr.setBy!.step - 1]).toBe(EventKind.RAISE);
  }, 60_000);
});
