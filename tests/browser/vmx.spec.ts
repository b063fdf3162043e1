// VMX in the browser: soft-vnmi (KVM at L0 runs a guest kernel at L1) stepped by hypervisor
// decision and by VM transition, its exits drawn on the timeline with their reasons, the VMCS
// and KVM panels read against `sim soft-vnmi --at N --json`, and the virtual_nmis toggle
// turning the interrupt-window exit (7) between the two NMI injections into an NMI-window
// exit (8). Screenshots at a VM exit at both window sizes go to test-results/screenshots/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import type { StepView } from '../../src/core/engine/view';
import { blur, expect, openLab, pickScenario, press, test, waitForStep } from './helpers/lab';
import { cliTrace, cliView, REPO, type Trace, type TraceEvent } from './helpers/oracle';

const NAME = 'soft-vnmi';
const VALID = 0x80000000;
const NMI_TYPE = 2;
/** CPU_BASED_NMI_WINDOW_EXITING (SDM "Processor-Based VM-Execution Controls", bit 22). */
const NMI_WINDOW_BIT = 22;

const isNmiInjection = (e: TraceEvent) =>
  e.kind === 'vmentry' && (e.data.injected & VALID) !== 0 && ((e.data.injected >>> 8) & 7) === NMI_TYPE;

/** The steps that matter, read off the CLI's trace (never hard-coded). */
function landmarks(trace: Trace) {
  const injections = trace.events.filter(isNmiInjection).map((e) => e.step);
  expect(injections.length, 'two NMIs are injected').toBeGreaterThanOrEqual(2);
  const decisions = trace.events.filter((e) => e.kind === 'decision').map((e) => e.step);
  const exits = trace.events.filter((e) => e.kind === 'vmexit');
  // The decision that injects the second NMI: the last one before its VM entry.
  const secondDecision = decisions.filter((s) => s < injections[1]).at(-1)!;
  const exitAfter = exits.find((e) => e.step > secondDecision)!;
  const between = exits.filter((e) => e.step > injections[0] && e.step < injections[1]);
  return { injections, decisions, exits, secondDecision, exitAfter, between };
}

function fieldOf(view: StepView, name: string): number {
  const f = view.vmx.vmcs.find((v) => v.current)?.fields.find((x) => x.name === name);
  if (!f) throw new Error(`the CLI's view has no ${name}`);
  return f.value;
}

const hex8 = (n: number) => '0x' + n.toString(16).padStart(8, '0');

/** Shows the VMCS panel: a tab at 1280 px, a column of its own when the window is wide. */
async function showVmcs(page: Page) {
  const tab = page.getByTestId('state-tab-vmx');
  if ((await tab.count()) > 0) await tab.click();
  await blur(page);
  await expect(page.getByTestId('vmcs-vmcs01')).toBeVisible();
}

/** The exit marks on the timeline, once their reasons have arrived: step → reason. */
async function timelineExits(page: Page, count: number): Promise<Record<number, number>> {
  const marks = page.locator('[data-testid="timeline-svg"] [data-mark="exit"]');
  await expect(marks).toHaveCount(count);
  await expect(page.locator('[data-testid="timeline-svg"] [data-mark="exit"][data-reason]')).toHaveCount(
    count,
  );
  return marks.evaluateAll((els) =>
    Object.fromEntries(
      els.map((el) => [Number(el.getAttribute('data-step')), Number(el.getAttribute('data-reason'))]),
    ),
  );
}

test('soft-vnmi: step to the exit after the second NMI injection; virtual_nmis turns exit 7 into exit 8', async ({
  page,
}) => {
  const [plain, vnmi] = await Promise.all([cliTrace(NAME), cliTrace(NAME, { virtual_nmis: true })]);
  const a = landmarks(plain);
  const b = landmarks(vnmi);
  // The premise, from the CLI: between the injections, an interrupt-window exit without
  // virtual NMIs, an NMI-window exit with them.
  expect(a.between.map((e) => e.data.reason)).toContain(7);
  expect(a.between.map((e) => e.data.reason)).not.toContain(8);
  expect(b.between.map((e) => e.data.reason)).toContain(8);
  expect(b.between.map((e) => e.data.reason)).not.toContain(7);
  const exitView = cliView(NAME, a.exitAfter.step);

  await openLab(page);
  await pickScenario(page, NAME, plain.totalSteps);

  await test.step('d goes decision by decision to the second NMI injection', async () => {
    await press(page, 'd', a.decisions.indexOf(a.secondDecision) + 1);
    await waitForStep(page, a.secondDecision);
    await expect(page.getByTestId('explanation-text')).toContainText('vmx_inject_nmi');
  });

  await test.step('x goes on to the first VM exit, whose reason the page shows as the CLI does', async () => {
    const transitions = plain.events.filter(
      (e) =>
        (e.kind === 'vmentry' || e.kind === 'vmexit') &&
        e.step > a.secondDecision &&
        e.step <= a.exitAfter.step,
    );
    await press(page, 'x', transitions.length);
    await waitForStep(page, a.exitAfter.step);
    const view = await exitView;
    const reason = fieldOf(view, 'VM_EXIT_REASON');
    expect(reason).toBe(a.exitAfter.data.reason);
    await expect(page.getByTestId('event-chip')).toContainText(`L1 · vmexit · reason ${reason} `);
    await expect(page.getByTestId('explanation-text')).toHaveText(view.explanation.text);
    await showVmcs(page);
    await expect(page.getByTestId('vmcs-value-VM_EXIT_REASON')).toHaveText(hex8(reason));
    await expect(page.getByTestId('vmcs-summary-VM_EXIT_REASON')).toContainText(`${reason} `);
    await expect(page.getByTestId('vmcs-value-GUEST_RIP')).toHaveText(
      '0x' + fieldOf(view, 'GUEST_RIP').toString(16),
    );
    await expect(page.getByTestId('vmx-operation')).toHaveText(
      view.vmx.nonRoot ? 'non-root operation' : 'root operation',
    );
  });

  await test.step('the timeline draws every exit with the CLI’s reason; 7 between the injections', async () => {
    const shown = await timelineExits(page, a.exits.length);
    expect(shown).toEqual(Object.fromEntries(a.exits.map((e) => [e.step, e.data.reason])));
    const exit7 = a.between.find((e) => e.data.reason === 7)!;
    const mark = page.locator(`[data-testid="timeline-svg"] [data-mark="exit"][data-step="${exit7.step}"]`);
    await expect(mark).toHaveAttribute('data-lane', '1');
    await expect(mark).toHaveAttribute('data-target', '0');
    for (const step of a.injections) {
      await expect(
        page.locator(`[data-testid="timeline-svg"] [data-mark="entry"][data-step="${step}"]`),
      ).toHaveAttribute('data-injected', 'nmi');
    }
  });

  await test.step('virtual_nmis: the run changes, an NMI-window exit (8) between the injections', async () => {
    await page.getByTestId('param-virtual_nmis').click();
    await expect(page.getByTestId('step-counter')).toHaveText(new RegExp(`^step \\d+ / ${vnmi.totalSteps}$`));
    const shown = await timelineExits(page, b.exits.length);
    expect(shown).toEqual(Object.fromEntries(b.exits.map((e) => [e.step, e.data.reason])));
    const between = Object.entries(shown)
      .filter(([s]) => Number(s) > b.injections[0] && Number(s) < b.injections[1])
      .map(([, r]) => r);
    expect(between).toContain(8);
    expect(between).not.toContain(7);
  });

  await test.step('the VMCS panel shows the NMI-window bit KVM armed, set and changed', async () => {
    // The decision that arms NMI-window exiting: where the CLI's CPU_BASED control gains bit 22.
    const candidates = b.decisions.filter((s) => s > b.injections[0] && s < b.injections[1]);
    const views = await Promise.all(candidates.map((s) => cliView(NAME, s, { virtual_nmis: true })));
    const armedAt = views.find((v) => (fieldOf(v, 'CPU_BASED_VM_EXEC_CONTROL') >>> NMI_WINDOW_BIT) & 1);
    expect(armedAt, 'a decision arms NMI-window exiting').toBeTruthy();
    const armed = armedAt!;
    const before = await cliView(NAME, armed.step - 1, { virtual_nmis: true });
    expect((fieldOf(before, 'CPU_BASED_VM_EXEC_CONTROL') >>> NMI_WINDOW_BIT) & 1).toBe(0);

    await press(page, 'Home');
    await waitForStep(page, 0);
    await press(page, 'd', b.decisions.indexOf(armed.step) + 1);
    await waitForStep(page, armed.step);
    await expect(page.getByTestId('explanation-text')).toHaveText(armed.explanation.text);
    await showVmcs(page);
    const value = page.getByTestId('vmcs-value-CPU_BASED_VM_EXEC_CONTROL');
    await expect(value).toHaveText(hex8(fieldOf(armed, 'CPU_BASED_VM_EXEC_CONTROL')));
    await expect(value).toHaveAttribute('data-changed', 'true');
    await expect(page.getByTestId('vmcs-summary-CPU_BASED_VM_EXEC_CONTROL')).toContainText(
      'NMI_WINDOW_EXITING',
    );
    await page.getByTestId('vmcs-field-CPU_BASED_VM_EXEC_CONTROL').click();
    const bit = page
      .getByTestId('vmcs-bits-CPU_BASED_VM_EXEC_CONTROL')
      .locator('[data-bit="CPU_BASED_NMI_WINDOW_EXITING"]');
    await expect(bit).toHaveAttribute('data-set', 'true');
    await expect(bit).toHaveAttribute('data-changed', 'true');
    await expect(bit).toHaveAttribute('title', /Processor-Based VM-Execution Controls/);
    const hlt = page
      .getByTestId('vmcs-bits-CPU_BASED_VM_EXEC_CONTROL')
      .locator('[data-bit="CPU_BASED_HLT_EXITING"]');
    await expect(hlt).toHaveAttribute(
      'data-set',
      String(((fieldOf(armed, 'CPU_BASED_VM_EXEC_CONTROL') >>> 7) & 1) === 1),
    );
    await expect(hlt).not.toHaveAttribute('data-changed', 'true');

    // One step on, the bit is still set but no longer new.
    await blur(page);
    await press(page, 'ArrowRight');
    await waitForStep(page, armed.step + 1);
    await expect(bit).toHaveAttribute('data-set', 'true');
    await expect(bit).not.toHaveAttribute('data-changed', 'true');
  });
});

test('soft-vnmi: the KVM lane shows KVM’s state, the guest lane where it resumes', async ({ page }) => {
  const trace = await cliTrace(NAME);
  const { exitAfter } = landmarks(trace);
  const view = await cliView(NAME, exitAfter.step + 1);
  await openLab(page);
  await pickScenario(page, NAME, trace.totalSteps);
  await page.evaluate((s) => window.__nestlab!.store.getState().seek(s), exitAfter.step + 1);
  await waitForStep(page, exitAfter.step + 1);
  const kvm = view.levels[0].kvm!;
  const tab0 = page.getByTestId('state-tab-level-0');
  if ((await tab0.count()) > 0) await tab0.click();
  const lane = page.getByTestId('level-0');
  await expect(lane.getByTestId('mode-badge')).toHaveText('VMX root');
  await expect(lane.getByTestId('run-badge')).toHaveText(view.levels[0].cpu.running ? 'running' : 'waiting');
  await expect(lane.getByTestId('kvm-phase')).toHaveText(kvm.phase);
  await expect(lane.getByTestId('kvm-last-exit')).toContainText(new RegExp(`^${kvm.lastExitReason} `));
  await expect(lane.getByTestId('kvm-enable-vnmi')).toHaveText(kvm.enableVnmi ? '1' : '0');
  await expect(lane.getByTestId('kvm-soft-vnmi-blocked')).toHaveAttribute(
    'data-on',
    String(kvm.softVnmiBlocked),
  );
  await expect(lane.getByTestId('kvm-breakout-bar')).toHaveAttribute(
    'aria-valuenow',
    String(kvm.vnmiBlockedTimeNs),
  );

  const tab1 = page.getByTestId('state-tab-level-1');
  if ((await tab1.count()) > 0) await tab1.click();
  const guest = page.getByTestId('level-1');
  await expect(guest.getByTestId('mode-badge')).toHaveText('non-root guest');
  await expect(guest.getByTestId('run-badge')).toHaveText('waiting');
  await expect(guest.getByTestId('waiting-note')).toContainText(
    `GUEST_RIP 0x${fieldOf(view, 'GUEST_RIP').toString(16)}`,
  );
  await expect(guest.getByTestId('rip')).toContainText(view.levels[1].cpu.rip.toString(16));
  // The program shown is the guest's, at the line it resumes from.
  await expect(page.getByTestId('source-view')).toHaveAttribute('data-level', '1');
  await expect(page.locator('[data-testid="source-view"] [data-current="true"]')).toHaveAttribute(
    'data-line',
    String(view.levels[1].line),
  );
});

test('a soft-vnmi link pasted into the tab (hashchange) loads it', async ({ page }) => {
  const [vnmi, nmi] = await Promise.all([cliTrace(NAME, { virtual_nmis: true }), cliTrace('nmi-blocking')]);
  await openLab(page);
  await pickScenario(page, NAME, (await cliTrace(NAME)).totalSteps);
  await page.getByTestId('param-virtual_nmis').click();
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${vnmi.totalSteps}`);
  await page.getByTestId('share-button').click();
  // The built-in by name, with the parameter that differs from its default (docs/links.md).
  await expect.poll(() => page.url()).toContain(`#v=1&builtin=${NAME}&virtual_nmis=1&step=0`);
  const link = page.url();
  await pickScenario(page, 'nmi-blocking', nmi.totalSteps);
  await expect.poll(() => page.url()).toContain('#v=1&builtin=nmi-blocking&step=0');

  await page.goto(link); // only the fragment differs: the same document, a hashchange
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${vnmi.totalSteps}`);
  await expect(page.getByTestId('scenario-picker')).toHaveValue(NAME);
  await expect(page.getByTestId('param-virtual_nmis')).toHaveAttribute('aria-checked', 'true');
});

for (const size of [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
]) {
  test(`screenshot at ${size.width}x${size.height}: soft-vnmi at the interrupt-window exit`, async ({
    page,
  }, testInfo) => {
    const trace = await cliTrace(NAME);
    const exit7 = trace.events.find((e) => e.kind === 'vmexit' && e.data.reason === 7)!;
    await page.setViewportSize(size);
    await openLab(page);
    await pickScenario(page, NAME, trace.totalSteps);
    const transitions = trace.events.filter(
      (e) => (e.kind === 'vmentry' || e.kind === 'vmexit') && e.step <= exit7.step,
    );
    await press(page, 'x', transitions.length);
    await waitForStep(page, exit7.step);
    await showVmcs(page);
    await expect(page.getByTestId('vmcs-value-VM_EXIT_REASON')).toHaveAttribute('data-changed', 'true');
    await page.getByTestId('vmcs-field-GUEST_INTERRUPTIBILITY_INFO').click();
    await blur(page);
    await timelineExits(page, trace.events.filter((e) => e.kind === 'vmexit').length);

    const dir = join(REPO, 'test-results', 'screenshots');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `soft-vnmi-exit${exit7.step}-${size.width}x${size.height}.png`);
    await page.screenshot({ path, fullPage: true });
    await testInfo.attach(`soft-vnmi step ${exit7.step} at ${size.width}x${size.height}`, {
      path,
      contentType: 'image/png',
    });
  });
}

// Issue 11 item 8: at 1280x800 KVM's panel and the VMCS panel are on screen together (the
// levels are tabs beside the VMCS column); at 1024x768 the VMCS becomes a tab of its own.
test('at 1280x800 the KVM panel and the VMCS panel show side by side, without a VMCS tab', async ({
  page,
}) => {
  const trace = await cliTrace('soft-vnmi');
  await openLab(page);
  await pickScenario(page, 'soft-vnmi', trace.totalSteps);
  await press(page, 'ArrowRight', 5);
  const inView = async (testId: string) => {
    const box = (await page.getByTestId(testId).boundingBox())!;
    expect(box.width, testId).toBeGreaterThan(300);
    expect(box.x + box.width, testId).toBeLessThanOrEqual(1280);
    expect(box.y, testId).toBeLessThan(800);
    return box;
  };
  await expect(page.getByTestId('kvm-panel')).toBeVisible();
  await expect(page.getByTestId('vmcs-vmcs01')).toBeVisible();
  const kvm = await inView('kvm-panel');
  const vmcs = await inView('vmcs-vmcs01');
  expect(vmcs.x).toBeGreaterThanOrEqual(kvm.x + kvm.width);
  await expect(page.getByTestId('state-tab-vmx')).toHaveCount(0);
  await expect(page.getByTestId('state-tab-level-1')).toBeVisible();

  await page.setViewportSize({ width: 1024, height: 768 });
  await expect(page.getByTestId('state-tab-vmx')).toBeVisible();
});
