// Nesting in the browser: the built-ins nested-intr and immediate-exit (KVM at L0, a hypervisor
// at L1, its guest at L2) opened from the picker, read against the command line: three lanes,
// each exit of L2 that L0 turned into an exit to L1 drawn as a link to L0's entry into L1 with
// the reason L1 sees, L1's trapped instructions folded (and shown again), vmcs02's fields tagged
// with where they came from, the waiting levels' VMCS areas and KVM's nested state; variants
// toggled (ack_on_exit, pretend_l2_ran). Screenshots at both window sizes.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { blur, expect, openLab, pickScenario, press, test, waitForStep } from './helpers/lab';
import { cliTrace, cliView, REPO, type Trace } from './helpers/oracle';

const DIR = join(REPO, 'test-results', 'screenshots');
const VALID = 0x80000000;
/** nested_vmx_reflect_vmexit and vmx_check_nested_events (core functions.ts ids 36 and 37). */
const EMULATED_EXIT = new Set([36, 37]);
/** Exit reasons of the instructions L0 emulates for L1 (VMX instructions, RDMSR/WRMSR, CPUID). */
const TRAPPED = new Set([10, 19, 21, 22, 23, 25, 26, 27, 31, 32]);

/**
 * The emulated exits of a run, read off the trace: the KVM at level h emulates an exit to h+1;
 * the exit of a guest above h+1 that started it (the last thing done from h+1 up), and the
 * VM entry into h+1 after it.
 */
function reflections(trace: Trace) {
  const ev = trace.events;
  return ev.flatMap((e, i) => {
    if (e.kind !== 'decision' || !EMULATED_EXIT.has(e.data.function)) return [];
    const to = e.level + 1;
    const before = ev
      .slice(0, i)
      .reverse()
      .find((x) => x.level >= to);
    const exit = before?.kind === 'vmexit' && before.level > to ? before.step : null;
    const after = ev.slice(i + 1);
    const into = after.findIndex((x) => x.level >= to);
    const entry =
      into > 0 && after[into - 1].kind === 'vmentry' && after[into].level === to
        ? after[into - 1].step
        : null;
    return [{ decision: e.step, to, reason: e.data.a, intrInfo: e.data.b >>> 0, exit, entry }];
  });
}

/**
 * The round trips the KVM levels below a guest handle alone for its trapped instructions: the
 * exit, then only KVM work below the guest (decisions, exits, entries that inject nothing), then
 * the guest again. A fold inside another belongs to it. [exit step, entry step, lane].
 */
function folds(trace: Trace, kvm: boolean[]): [number, number, number][] {
  const ev = trace.events;
  const out: [number, number, number][] = [];
  let coveredTo = 0;
  ev.forEach((e, i) => {
    if (e.kind !== 'vmexit' || e.level === 0 || e.step <= coveredTo || !TRAPPED.has(e.data.reason)) return;
    let j = i + 1;
    for (; j < ev.length && ev[j].level < e.level; j++) {
      const x = ev[j];
      if (!kvm[x.level] || !['decision', 'vmexit', 'vmentry', 'instruction'].includes(x.kind)) return;
      if (x.kind === 'vmentry' && x.data.injected & VALID) return;
    }
    const entry = ev[j - 1];
    if (j >= ev.length || ev[j].level !== e.level || entry.kind !== 'vmentry' || j - 1 <= i) return;
    out.push([e.step, entry.step, e.level]);
    coveredTo = entry.step;
  });
  return out;
}

/** Exits of L1 folded in a run with KVM at L0 only. */
function foldedExits(trace: Trace): number[] {
  return folds(trace, [true, false, false]).map(([exit]) => exit);
}

const inFold = (step: number, fs: [number, number, number][]) => fs.some(([a, b]) => step >= a && step <= b);

const marks = (page: Page, kind: string) =>
  page.locator(`[data-testid="timeline-svg"] [data-mark="${kind}"]`);

async function seek(page: Page, step: number) {
  await page.evaluate((s) => window.__nestlab!.store.getState().seek(s), step);
  await waitForStep(page, step);
}

/** Shows a tab of the machine state when the panels are tabs (a wide window shows columns). */
async function showTab(page: Page, id: string) {
  const tab = page.getByTestId(`state-tab-${id}`);
  if ((await tab.count()) > 0) await tab.click();
  await blur(page);
}

test('nested-intr: three lanes, the exit of L2 linked to the entry into L1, trapped instructions folded', async ({
  page,
}) => {
  const trace = await cliTrace('nested-intr');
  const view0 = await cliView('nested-intr', 0);
  const [r] = reflections(trace);
  expect(r, 'vmx_check_nested_events emulates an exit of L2 to L1').toBeDefined();
  expect(r.exit).not.toBeNull();
  const folded = foldedExits(trace);
  const exits = trace.events.filter((e) => e.kind === 'vmexit');
  expect(folded.length).toBeGreaterThan(10);

  await openLab(page);
  await pickScenario(page, 'nested-intr', trace.totalSteps);
  const lanes = page.getByTestId('timeline-lane');
  await expect(lanes).toHaveCount(3);
  await expect(lanes.locator('title')).toHaveText(view0.levels.map((l) => l.name));

  const link = marks(page, 'reflection');
  await expect(link).toHaveCount(1);
  await expect(link).toHaveAttribute('data-reason', String(r.reason));
  await expect(link).toHaveAttribute('data-exit-step', String(r.exit));
  await expect(link).toHaveAttribute('data-entry-step', String(r.entry));
  await expect(link).toHaveAttribute('data-from-lane', '2');
  await expect(link).toHaveAttribute('data-to-lane', '1');
  await expect(link.getByTestId('link-label')).toHaveText('→ L1 · 1 EXTERNAL_INTERRUPT');
  // The hardware arrows stay: the exit of L2 goes to L0, L0's entry goes to L1.
  await expect(marks(page, 'exit').and(page.locator(`[data-step="${r.exit}"]`))).toHaveAttribute(
    'data-target',
    '0',
  );
  await expect(marks(page, 'entry').and(page.locator(`[data-step="${r.entry}"]`))).toHaveAttribute(
    'data-target',
    '1',
  );

  // Folded by default: L1's trapped round trips are fold marks on L1's lane, not arrows.
  await expect(page.getByTestId('timeline-fold')).toBeChecked();
  await expect(marks(page, 'exit')).toHaveCount(exits.length - folded.length);
  const counts = await marks(page, 'fold').evaluateAll((els) =>
    els.map((el) => Number(el.getAttribute('data-count'))),
  );
  expect(counts.reduce((a, b) => a + b, 0)).toBe(folded.length);
  await expect(marks(page, 'fold').first()).toHaveAttribute('data-lane', '1');

  // The step keys still stop inside a fold.
  await seek(page, folded[3] - 1);
  await press(page, 'ArrowRight');
  await waitForStep(page, folded[3]);
  await expect(page.getByTestId('explanation-text')).toContainText('VM exit, reason');

  await page.getByTestId('timeline-fold').click();
  await expect(page.getByTestId('timeline-fold')).toHaveAttribute('aria-checked', 'false');
  // The step keys still work after the click on the switch.
  await press(page, 'ArrowRight');
  await waitForStep(page, folded[3] + 1);
  await expect(marks(page, 'exit')).toHaveCount(exits.length);
  await expect(marks(page, 'fold')).toHaveCount(0);
});

test('nested-intr with ack_on_exit: L1 sees the vector in VM_EXIT_INTR_INFO', async ({ page }) => {
  const trace = await cliTrace('nested-intr', { ack_on_exit: true });
  const [r] = reflections(trace);
  expect(r.intrInfo).toBe(0x80000030);

  await openLab(page);
  await pickScenario(page, 'nested-intr', (await cliTrace('nested-intr')).totalSteps);
  await page.getByTestId('param-ack_on_exit').click();
  await expect(page.getByTestId('param-ack_on_exit')).toHaveAttribute('aria-checked', 'true');
  await expect(page.getByTestId('step-counter')).toHaveText(new RegExp(`/ ${trace.totalSteps}$`));
  const link = marks(page, 'reflection');
  await expect(link).toHaveAttribute('data-step', String(r.decision));
  await expect(link.locator('title')).toContainText(
    'L1 sees reason 1 EXTERNAL_INTERRUPT, VM_EXIT_INTR_INFO 0x80000030 (external interrupt vector 0x30)',
  );
});

test('immediate-exit: vmcs02 says where each field came from; the panels say where each level waits', async ({
  page,
}) => {
  const trace = await cliTrace('immediate-exit');
  const launch = trace.events.find((e) => e.kind === 'decision' && e.data.function === 35)!;
  const entry = trace.events.find((e) => e.kind === 'vmentry' && e.step > launch.step)!;
  const view = await cliView('immediate-exit', entry.step);
  const v02 = view.vmx.vmcs.find((v) => v.role === 'vmcs02')!;
  expect(v02.provenance).not.toBeNull();
  const text = (name: string) => v02.provenance![v02.fields.find((f) => f.name === name)!.encoding];
  expect(text('PIN_BASED_VM_EXEC_CONTROL')).toMatch(/^vmcs01 \| vmcs12.*: prepare_vmcs02_early$/);

  await openLab(page);
  await pickScenario(page, 'immediate-exit', trace.totalSteps);
  await seek(page, entry.step);
  await showTab(page, 'vmx');
  const panel = page.getByTestId('vmcs-vmcs02');
  await expect(panel.getByRole('heading', { level: 2 })).toContainText("vmcs02 · L0's VMCS for L2, merged");
  await expect(panel.getByTestId('vmcs-meta')).toContainText('held by the processor');
  await expect(panel.getByTestId('vmcs-origin-legend')).toBeVisible();
  const pin = panel.getByTestId('vmcs-origin-PIN_BASED_VM_EXEC_CONTROL');
  await expect(pin).toHaveText('01+12');
  await expect(pin).toHaveAttribute('title', /prepare_vmcs02_early\(\) — arch\/x86\/kvm\/vmx\/nested\.c/);
  await expect(panel.getByTestId('vmcs-origin-GUEST_RIP')).toHaveText('12');
  await expect(panel.getByTestId('vmcs-origin-HOST_RIP')).toHaveText('L0');
  const vmcs12 = page.getByTestId('vmcs-vmcs12');
  await expect(vmcs12.getByTestId('vmcs-meta')).toContainText(
    `held by ${view.vmx.vmcs.find((v) => v.role === 'vmcs12')!.heldBy}`,
  );

  // L2 runs: L1 waits in vmcs12's host-state area, L0 in vmcs02's.
  expect(view.levels[2].cpu.running).toBe(true);
  await showTab(page, 'level-1');
  await expect(page.getByTestId('level-1').getByTestId('waiting-note')).toContainText(
    view.levels[1].restingIn!,
  );
  await showTab(page, 'level-0');
  await expect(page.getByTestId('level-0').getByTestId('waiting-note')).toContainText(
    view.levels[0].restingIn!,
  );
  const nested = view.levels[0].kvm!.nested!;
  await expect(page.getByTestId('kvm-nested-guest-mode')).toHaveText(
    nested.guestMode ? 'L2 on vmcs02' : 'L1 on vmcs01',
  );
  await expect(page.getByTestId('kvm-nested-run-pending')).toHaveAttribute(
    'data-on',
    String(nested.runPending),
  );
  await expect(page.getByTestId('kvm-nested-vmptr')).toHaveText(
    `0x${nested.currentVmptr.toString(16)} (vmcs12)`,
  );
});

test('immediate-exit with pretend_l2_ran: L0 emulates the exit with no exit of L2', async ({ page }) => {
  const [base, broken] = await Promise.all([
    cliTrace('immediate-exit'),
    cliTrace('immediate-exit', { pretend_l2_ran: true }),
  ]);
  const before = reflections(base);
  const after = reflections(broken);
  expect(before[0].exit).not.toBeNull();
  expect(after[0].exit).toBeNull();

  await openLab(page);
  await pickScenario(page, 'immediate-exit', base.totalSteps);
  await expect(marks(page, 'reflection')).toHaveCount(before.length);
  await expect(marks(page, 'reflection').first()).not.toHaveAttribute('data-emulated-only');
  await page.getByTestId('param-pretend_l2_ran').click();
  await expect(page.getByTestId('step-counter')).toHaveText(new RegExp(`/ ${broken.totalSteps}$`));
  await expect(marks(page, 'reflection')).toHaveCount(after.length);
  const first = marks(page, 'reflection').first();
  await expect(first).toHaveAttribute('data-emulated-only', 'true');
  await expect(first).toHaveAttribute('data-step', String(after[0].decision));
  await expect(first.locator('title')).toContainText('no hardware exit: L2 did not run');
});

test('nested-preemption-timer: four lanes, an exit of L3 reflected to L1 and then to L2, what L1 emulates folded', async ({
  page,
}) => {
  const trace = await cliTrace('nested-preemption-timer');
  const view0 = await cliView('nested-preemption-timer', 0);
  const kvm = view0.levels.map((l) => l.kind === 'kvm');
  expect(kvm).toEqual([true, true, false, false]);
  const fs = folds(trace, kvm);
  const rs = reflections(trace);
  const l3exit = rs.find((r) => r.exit !== null && trace.events.find((e) => e.step === r.exit)!.level === 3)!;
  const twice = rs.filter((r) => r.exit === l3exit.exit);
  expect(twice.map((r) => r.to)).toEqual([1, 2]);
  expect(fs.some(([, , lane]) => lane === 1) && fs.some(([, , lane]) => lane === 2)).toBe(true);

  await openLab(page);
  await pickScenario(page, 'nested-preemption-timer', trace.totalSteps);
  await expect(page.getByTestId('timeline-lane')).toHaveCount(4);
  await expect(page.getByTestId('timeline-fold')).toBeChecked();
  // At 1280 wide the levels are tabs beside the VMCS column: short level names ("L2", or
  // "L2 · kvm-unit-tests" when the tabs have the whole width), none cut off, the whole name on hover.
  await page.setViewportSize({ width: 1280, height: 800 });
  for (const l of view0.levels) {
    const tab = page.getByTestId(`state-tab-level-${l.index}`);
    await expect(tab).toHaveAttribute('title', l.name);
    const label = tab.locator('.tab-label');
    await expect(label).toHaveText(new RegExp(`^L${l.index}( · \\S+)?$`));
    expect(
      await label.evaluate((el) => el.scrollWidth <= el.clientWidth),
      `L${l.index}'s tab is not cut`,
    ).toBe(true);
  }
  await expect(marks(page, 'reflection')).toHaveCount(rs.filter((r) => !inFold(r.decision, fs)).length);
  const fromL3 = page.locator(`[data-mark="reflection"][data-exit-step="${l3exit.exit}"]`);
  await expect(fromL3).toHaveCount(2);
  await expect(fromL3.nth(0)).toHaveAttribute('data-to-lane', '1');
  await expect(fromL3.nth(1)).toHaveAttribute('data-to-lane', '2');
  await expect(fromL3.nth(1)).toHaveAttribute('data-entry-step', String(twice[1].entry));
  const counts = await marks(page, 'fold').evaluateAll((els) =>
    els.map((el) => [Number(el.getAttribute('data-lane')), Number(el.getAttribute('data-count'))]),
  );
  for (const lane of [1, 2])
    expect(
      counts.filter(([l]) => l === lane).reduce((n, [, c]) => n + c, 0),
      `folds on L${lane}`,
    ).toBe(fs.filter(([, , l]) => l === lane).length);

  // Where L3 runs, vmcs13 (L1's merge of vmcs12 and vmcs23) tags its fields in the stack's names.
  const l3run = trace.events.find((e) => e.level === 3)!.step;
  const view = await cliView('nested-preemption-timer', l3run);
  expect(view.vmx.vmcs.find((v) => v.role === 'vmcs13')?.provenance).toBeTruthy();
  await seek(page, l3run);
  await showTab(page, 'vmx');
  await page.getByTestId('vmcs-index-vmcs13').click();
  const v13 = page.getByTestId('vmcs-vmcs13');
  await expect(v13.getByRole('heading', { level: 2 })).toContainText("vmcs13 · L1's VMCS for L3, merged");
  await expect(v13.getByTestId('vmcs-origin-PIN_BASED_VM_EXEC_CONTROL')).toHaveText('12+23');
  await expect(v13.getByTestId('vmcs-origin-GUEST_RIP')).toHaveText('23');
  await expect(v13.getByTestId('vmcs-origin-legend')).toContainText("vmcs23 (L2's)");
  await expect(
    page.getByTestId('vmcs-vmcs03').getByTestId('vmcs-origin-PIN_BASED_VM_EXEC_CONTROL'),
  ).toHaveText('01+13');
});

for (const size of [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
]) {
  test(`screenshots at ${size.width}x${size.height}: nested-intr at the emulated exit, immediate-exit with L2 running, four levels`, async ({
    page,
  }, testInfo) => {
    const [intr, imm] = await Promise.all([cliTrace('nested-intr'), cliTrace('immediate-exit')]);
    const [r] = reflections(intr);
    const launch = imm.events.find((e) => e.kind === 'decision' && e.data.function === 35)!;
    const entry = imm.events.find((e) => e.kind === 'vmentry' && e.step > launch.step)!;
    await page.setViewportSize(size);
    await openLab(page);
    mkdirSync(DIR, { recursive: true });
    const shot = async (name: string) => {
      const path = join(DIR, `${name}-${size.width}x${size.height}.png`);
      await page.screenshot({ path, fullPage: true });
      await testInfo.attach(`${name} at ${size.width}x${size.height}`, { path, contentType: 'image/png' });
    };

    await pickScenario(page, 'nested-intr', intr.totalSteps);
    await seek(page, r.decision - 1);
    await press(page, 'ArrowRight');
    await waitForStep(page, r.decision);
    await expect(marks(page, 'reflection')).toHaveCount(1);
    await showTab(page, 'vmx');
    await page.getByTestId('vmcs-index-vmcs12').click();
    await expect(page.getByTestId('vmcs-vmcs12').getByTestId('vmcs-value-VM_EXIT_REASON')).toHaveAttribute(
      'data-changed',
      'true',
    );
    await shot(`nested-intr-step${r.decision}`);

    await pickScenario(page, 'immediate-exit', imm.totalSteps);
    await seek(page, entry.step - 1);
    await press(page, 'ArrowRight');
    await waitForStep(page, entry.step);
    await showTab(page, 'vmx');
    await page.getByTestId('vmcs-index-vmcs02').click();
    await expect(page.getByTestId('vmcs-vmcs02').getByTestId('vmcs-origin-legend')).toBeVisible();
    await shot(`immediate-exit-step${entry.step}`);
    await showTab(page, 'level-0');
    await expect(page.getByTestId('kvm-nested')).toBeVisible();
    await shot(`immediate-exit-step${entry.step}-kvm`);

    // Four levels, where L3 runs: L1's KVM panel, then vmcs13 with its origin tags.
    const npt = await cliTrace('nested-preemption-timer');
    const l3run = npt.events.find((e) => e.level === 3)!.step;
    await pickScenario(page, 'nested-preemption-timer', npt.totalSteps);
    await seek(page, l3run - 1);
    await press(page, 'ArrowRight');
    await waitForStep(page, l3run);
    await showTab(page, 'level-1');
    await expect(page.getByTestId('level-1').getByTestId('kvm-nested')).toBeVisible();
    await shot(`nested-preemption-timer-step${l3run}-L1`);
    await showTab(page, 'vmx');
    await page.getByTestId('vmcs-index-vmcs13').click();
    await shot(`nested-preemption-timer-step${l3run}-vmcs13`);
  });
}
