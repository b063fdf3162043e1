// @vitest-environment jsdom
import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { EventKind, type TimelineData } from '../../src/core/engine/view';
import { Fn } from '../../src/core/hypervisors/kvm/functions';
import { nestingOf } from '../../src/app/timeline/nesting';
import { foldSummary, foldTitle, linkTitle, nestingMarks } from '../../src/app/timeline/nesting-marks';
import { laneSubLabel } from '../../src/app/timeline/timeline-scale';
import type { TransitionColumns } from '../../src/worker/protocol';
import { nestedRun } from './fake-nested-run';
import { timelineOf, transitionsOf } from './fake-run';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

const VALID = 0x80000000;

function marks(kind: string): Element[] {
  return [...screen.getByTestId('timeline-svg').querySelectorAll(`[data-mark="${kind}"]`)];
}

/** A hand-made run: [level, kind, d0, d1, d2] per step (d0..d2 only for transitions). */
function run(events: [number, number, number?, number?, number?][]): {
  data: TimelineData;
  tr: TransitionColumns;
} {
  const data: TimelineData = {
    totalSteps: events.length,
    steps: events.map((_, i) => i + 1),
    times: events.map((_, i) => (i + 1) * 10),
    levels: events.map((e) => e[0]),
    kinds: events.map((e) => e[1]),
    vectors: events.map(() => -1),
    types: events.map(() => -1),
  };
  const tr: TransitionColumns = { steps: [], d0: [], d1: [], d2: [] };
  events.forEach(([, kind, d0 = 0, d1 = 0, d2 = 0], i) => {
    if (kind !== EventKind.VMEXIT && kind !== EventKind.VMENTRY && kind !== EventKind.DECISION) return;
    tr.steps.push(i + 1);
    tr.d0.push(d0);
    tr.d1.push(d1);
    tr.d2.push(d2);
  });
  return { data, tr };
}

const { VMEXIT: EXIT, VMENTRY: ENTRY, DECISION: DECIDE, INSTR } = EventKind;
/** KVM at L0, programs above it; and KVM at L0 and L1 below two programs. */
const KVM3 = [true, false, false];
const KVM4 = [true, true, false, false];

describe('nesting on the timeline (pure)', () => {
  it('shortens a lane label that would run into the lanes', () => {
    expect(laneSubLabel('L2 · guest of L1', 72)).toBe('guest of L1');
    expect(laneSubLabel('L1 · KVM (a guest hypervisor)', 72)).toBe('KVM (a gue…');
  });

  const canned = nestedRun();
  const data = timelineOf(canned);
  const tr = transitionsOf(canned);

  it('links the exit of L2 to L0’s decision and its entry into L1, with the reason L1 sees', () => {
    const { reflections } = nestingOf(data, tr, KVM3);
    expect(reflections).toHaveLength(1);
    const r = reflections[0];
    expect(data.steps[r.exitIndex]).toBe(12);
    expect(r).toMatchObject({
      fromLane: 2,
      toLane: 1,
      decisionStep: 14,
      fn: 'vmx_check_nested_events',
      reason: 1,
    });
    expect(data.steps[r.entryIndex]).toBe(15);
    const title = linkTitle({ reflection: r, x0: 0, x1: 10, emulatedOnly: false, step: 14 }, data);
    expect(title).toContain('Emulated VM exit L2 → L1: L1 sees reason 1 EXTERNAL_INTERRUPT');
    expect(title).toContain("step 12: L2's VM exit to L0 (the hardware exit)");
    expect(title).toContain('step 15: VM entry into L1');
  });

  it('folds L1’s trapped VMWRITE and VMREAD, not its VMLAUNCH', () => {
    const { folds, folded } = nestingOf(data, tr, KVM3);
    expect(folds.map((f) => [data.steps[f.exitIndex], data.steps[f.entryIndex], f.instruction])).toEqual([
      [1, 3, 'VMWRITE'],
      [4, 6, 'VMREAD'],
    ]);
    expect(folds.map((f) => f.functions)).toEqual([['handle_vmwrite'], ['handle_vmread']]);
    expect(folds.map((f) => f.handlers)).toEqual([[0], [0]]);
    expect(folds[1].followsFold).toBe(true);
    expect([...folded].slice(0, 9)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0]);
  });

  it('does not fold a round trip whose entry injects, nor one that ends in an emulated exit', () => {
    const { data: d, tr: t } = run([
      [1, EXIT, 32],
      [0, DECIDE, Fn.x2apic_msr_write],
      [0, DECIDE, Fn.kvm_check_and_inject_events],
      [0, ENTRY, VALID | 0x30],
      [2, EXIT, 10],
      [0, DECIDE, Fn.nested_vmx_reflect_vmexit, 10],
      [0, ENTRY, 0],
      [1, INSTR],
    ]);
    const n = nestingOf(d, t, KVM3);
    expect(n.folds).toEqual([]);
    expect(n.reflections).toHaveLength(1);
    expect(n.reflections[0]).toMatchObject({
      reason: 10,
      fromLane: 2,
      toLane: 1,
      exitIndex: 4,
      entryIndex: 6,
    });
  });

  it('an exit L0 emulates without L2 having run has no hardware exit (pretend_l2_ran)', () => {
    const { data: d, tr: t } = run([
      [1, EXIT, 20],
      [0, DECIDE, Fn.nested_vmx_run, 1],
      [0, DECIDE, Fn.vmx_check_nested_events, 1, 0],
      [0, ENTRY, 0],
      [1, INSTR],
    ]);
    const [r] = nestingOf(d, t, KVM3).reflections;
    expect(r).toMatchObject({ exitIndex: -1, fromLane: 2, toLane: 1, entryIndex: 3 });
    const [link] = nestingMarks(nestingOf(d, t, KVM3), d, (i) => i * 20, [0, 1000], true).links;
    expect(link.emulatedOnly).toBe(true);
    expect(linkTitle(link, d)).toContain('no hardware exit: L2 did not run since L1');
  });

  it('in a stack of two KVMs, reflects one exit of L3 twice and folds what L1 emulates for L2', () => {
    const { data: d, tr: t } = run([
      [3, EXIT, 18], // 1: L3's VMCALL
      [0, DECIDE, Fn.nested_vmx_reflect_vmexit, 18], // 2: L0 reflects it to L1
      [0, ENTRY, 0], // 3
      [1, DECIDE, Fn.vmx_vcpu_run], // 4: L1's KVM handles the exit
      [1, EXIT, 23], // 5: its VMREAD traps to L0
      [0, DECIDE, Fn.handle_vmread], // 6
      [0, ENTRY, 0], // 7
      [1, DECIDE, Fn.nested_vmx_reflect_vmexit, 18], // 8: L1 reflects it to L2
      [1, EXIT, 24], // 9: L1's VMRESUME traps to L0
      [0, DECIDE, Fn.nested_vmx_run], // 10
      [0, ENTRY, 0], // 11: into L2
      [2, INSTR], // 12
      [2, EXIT, 25], // 13: L2's VMWRITE, which L1 emulates
      [0, DECIDE, Fn.nested_vmx_reflect_vmexit, 25], // 14
      [0, ENTRY, 0], // 15
      [1, DECIDE, Fn.handle_vmwrite], // 16
      [1, EXIT, 24], // 17
      [0, DECIDE, Fn.nested_vmx_run], // 18
      [0, ENTRY, 0], // 19
      [2, INSTR], // 20
    ]);
    const n = nestingOf(d, t, KVM4);
    expect(
      n.reflections.map((r) => [r.exitIndex + 1, r.decisionStep, r.entryIndex + 1, r.fromLane, r.toLane]),
    ).toEqual([
      [1, 2, 3, 3, 1],
      [1, 8, 11, 3, 2],
      [13, 14, 15, 2, 1],
    ]);
    expect(
      n.folds.map((f) => [f.exitIndex + 1, f.entryIndex + 1, f.lane, f.instruction, f.handlers]),
    ).toEqual([
      [5, 7, 1, 'VMREAD', [0]],
      [13, 19, 2, 'VMWRITE', [0, 1]],
    ]);
    // Folded, the reflection inside L2's round trip goes with it; unfolded it is drawn.
    const x = (i: number) => (i + 1) * 20;
    expect(nestingMarks(n, d, x, [0, 1000], true).links.map((l) => l.step)).toEqual([2, 8]);
    expect(nestingMarks(n, d, x, [0, 1000], false).links.map((l) => l.step)).toEqual([2, 8, 14]);
    const [, l2] = nestingMarks(n, d, x, [0, 1000], true).folds;
    expect(foldTitle(l2)).toContain('L1 emulates them, L0 below it handling its own traps');
    // With L1 a program, its work for L2 is not folded away (its own trapped VMREAD still is).
    expect(nestingOf(d, t, [true, false, false, false]).folds.map((f) => f.lane)).toEqual([1]);
  });

  it('draws adjacent folds as one mark with their count, and apart when zoomed in', () => {
    const n = nestingOf(data, tr, KVM3);
    const near = nestingMarks(n, data, (i) => data.steps[i] * 5, [0, 1000], true);
    expect(near.folds).toHaveLength(1);
    expect(near.folds[0]).toMatchObject({ lane: 1, handlers: [0], count: 2, firstStep: 1, lastStep: 6 });
    expect(foldSummary(near.folds[0])).toBe('VMWRITE, VMREAD');
    expect(foldTitle(near.folds[0])).toContain('2 trapped instructions folded (steps 1–6)');
    expect(foldTitle(near.folds[0])).toContain(
      'that L1 sees only the result of: L0 handles them itself (handle_vmwrite, handle_vmread)',
    );
    const far = nestingMarks(n, data, (i) => data.steps[i] * 60, [0, 2000], true);
    expect(far.folds.map((f) => f.count)).toEqual([1, 1]);
    expect(nestingMarks(n, data, (i) => data.steps[i] * 5, [0, 1000], false).folds).toEqual([]);
  });
});

async function openNested() {
  const app = await renderApp();
  await app.user.selectOptions(screen.getByTestId('scenario-picker'), 'nested-intr');
  await untilStep(app.store, 0);
  (document.activeElement as HTMLElement | null)?.blur();
  await waitFor(() => expect(marks('reflection')).toHaveLength(1));
  return app;
}

describe('timeline of a nested run', () => {
  it('draws three lanes and links the exit of L2 to the entry into L1', async () => {
    await openNested();
    expect(screen.getAllByTestId('timeline-lane').map((l) => l.querySelector('title')?.textContent)).toEqual([
      'L0 · KVM',
      'L1 · hypervisor',
      'L2 · guest of L1',
    ]);
    const [link] = marks('reflection');
    expect(link).toHaveAttribute('data-reason', '1');
    expect(link).toHaveAttribute('data-from-lane', '2');
    expect(link).toHaveAttribute('data-to-lane', '1');
    expect(link).toHaveAttribute('data-exit-step', '12');
    expect(link).toHaveAttribute('data-entry-step', '15');
    expect(link.querySelector('title')).toHaveTextContent('L1 sees reason 1 EXTERNAL_INTERRUPT');
    // The hardware arrows stay: L2 → L0, then L0 → L1.
    const exit = marks('exit').find((m) => m.getAttribute('data-step') === '12')!;
    expect(exit).toHaveAttribute('data-lane', '2');
    expect(exit).toHaveAttribute('data-target', '0');
    const entry = marks('entry').find((m) => m.getAttribute('data-step') === '15')!;
    expect(entry).toHaveAttribute('data-target', '1');
  });

  it('folds trapped instructions by default, and shows them when unticked; the keys still visit every step', async () => {
    const { user, store } = await openNested();
    const toggle = screen.getByTestId('timeline-fold');
    expect(toggle).toBeChecked();
    // At this width the two round trips are apart (52 px a step): one mark each.
    await waitFor(() => expect(marks('fold')).toHaveLength(2));
    const [first, second] = marks('fold');
    expect(first).toHaveAttribute('data-lane', '1');
    expect(first).toHaveAttribute('data-count', '1');
    expect(first.querySelector('title')).toHaveTextContent(
      '1 trapped instruction folded (steps 1–3): VMWRITE',
    );
    expect(second.querySelector('title')).toHaveTextContent('(steps 4–6): VMREAD');
    const exitSteps = () => marks('exit').map((m) => m.getAttribute('data-step'));
    expect(exitSteps()).toEqual(['8', '12']);
    expect(marks('decision').map((m) => m.getAttribute('data-step'))).toEqual(['9', '13', '14']);

    await user.keyboard('{ArrowRight}');
    await untilStep(store, 1);

    await user.click(toggle);
    expect(store.getState().foldTrapped).toBe(false);
    expect(toggle).not.toBeChecked();
    await waitFor(() => expect(marks('fold')).toHaveLength(0));
    expect(exitSteps()).toEqual(['1', '4', '8', '12']);
    // The switch keeps no keys: the next step key still steps (a checkbox would swallow it).
    expect(document.activeElement).toBe(toggle);
    await user.keyboard('{ArrowRight}');
    await untilStep(store, 2);
  });

  it('offers no fold toggle where nothing traps, and folds by default only in nested runs', async () => {
    const { user, store } = await renderApp();
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'kvm-nmi');
    await untilStep(store, 0);
    await waitFor(() => expect(store.getState().transitions).not.toBeNull());
    expect(screen.queryByTestId('timeline-fold')).toBeNull();
    expect(marks('reflection')).toHaveLength(0);
    store.getState().setFoldTrapped(false);
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'nested-intr');
    await untilStep(store, 0);
    // Another scenario starts from its default.
    expect(store.getState().foldTrapped).toBeNull();
    await waitFor(() => expect(screen.getByTestId('timeline-fold')).toBeChecked());
  });
});
