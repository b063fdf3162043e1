// Nested SVM in the browser: kvm-svm-nested-intr (KVM at L0 on AMD emulating VMRUN for a
// hypervisor at L1). At svm_check_nested_events' emulated #VMEXIT(INTR) the VMCB tab lists
// vmcb01, vmcb02 and vmcb12; vmcb12 (in L1's memory) has EXITCODE 0x60 marked changed; vmcb02's
// fields carry where they came from (intercepts 01+12, RIP 12). Without the INTR intercept the
// nested exit never comes. Steps and values come from the CLI's trace and views.
import type { Page } from '@playwright/test';
import { Fn } from '../../src/core/hypervisors/kvm/functions';
import { blur, expect, openLab, pickScenario, test, waitForStep } from './helpers/lab';
import { cliTrace, cliView, type Trace } from './helpers/oracle';

const NAME = 'kvm-svm-nested-intr';
const SVM_EXIT_INTR = 0x60;

const decisionsOf = (t: Trace, fn: number) =>
  t.events.filter((e) => e.kind === 'decision' && e.data.function === fn);

async function showVmcbs(page: Page) {
  const tab = page.getByTestId('state-tab-vmx');
  if ((await tab.count()) > 0) await tab.click();
  await blur(page);
  await expect(page.getByTestId('vmcb-vmcb02')).toBeVisible();
}

async function seek(page: Page, step: number) {
  await page.evaluate((s) => window.__nestlab!.store.getState().seek(s), step);
  await waitForStep(page, step);
}

test('kvm-svm-nested-intr: the emulated #VMEXIT(INTR) in vmcb12, vmcb02 tagged by origin', async ({
  page,
}) => {
  const [trace, noIntercept] = await Promise.all([cliTrace(NAME), cliTrace(NAME, { intercept_intr: false })]);
  // The premise, from the CLI: one emulated #VMEXIT(INTR), none without the intercept.
  const exits = decisionsOf(trace, Fn.svm_check_nested_events);
  expect(exits.map((e) => e.data.a)).toEqual([SVM_EXIT_INTR]);
  expect(decisionsOf(noIntercept, Fn.svm_check_nested_events)).toEqual([]);
  const run = decisionsOf(trace, Fn.nested_svm_vmrun)[0];
  const view = await cliView(NAME, exits[0].step);
  const vmcb12 = view.svm!.vmcbs.find((v) => v.role === 'vmcb12')!;
  expect(vmcb12.fields.find((f) => f.name === 'exit_code')!.prevHex).toBe('0x00000000');

  await openLab(page);
  await pickScenario(page, NAME, trace.totalSteps);

  await test.step('after nested_svm_vmrun: vmcb02 is built, each field tagged with its source', async () => {
    await seek(page, run.step);
    await showVmcbs(page);
    await expect(page.getByTestId('vmcb-index')).toBeVisible();
    const vmcb02 = page.getByTestId('vmcb-vmcb02');
    await expect(vmcb02.getByTestId('vmcb-origin-legend')).toBeVisible();
    await expect(vmcb02.getByTestId('vmcb-origin-intercept')).toHaveAttribute('data-origin', '01+12');
    await expect(vmcb02.getByTestId('vmcb-origin-int_ctl')).toHaveAttribute('data-origin', '01+12');
    await expect(page.getByTestId('explanation')).toContainText('nested_svm_vmrun');
    // The KVM panel's nested SVM row: L2 on vmcb02, the nested run pending.
    const tab0 = page.getByTestId('state-tab-level-0');
    if ((await tab0.count()) > 0) await tab0.click();
    await blur(page);
    await expect(page.getByTestId('kvm-svm-nested-guest-mode')).toHaveText(/L2 on vmcb02/);
    await expect(page.getByTestId('kvm-svm-nested-run-pending')).toHaveAttribute('data-on', 'true');
  });

  await test.step('at svm_check_nested_events: vmcb12 has EXITCODE 0x60, marked changed', async () => {
    await seek(page, exits[0].step);
    await showVmcbs(page);
    const panel = page.getByTestId('vmcb-vmcb12');
    await expect(panel.getByTestId('vmcb-value-exit_code')).toHaveText('0x00000060');
    await expect(panel.getByTestId('vmcb-value-exit_code')).toHaveAttribute('data-changed', 'true');
    await expect(panel.getByTestId('vmcb-summary-exit_code')).toContainText('INTR');
    await expect(page.getByTestId('explanation')).toContainText('svm_check_nested_events');
  });

  await test.step('without the INTR intercept the run has no emulated exit for the interrupt', async () => {
    await page.getByTestId('param-intercept_intr').click();
    await expect(page.getByTestId('step-counter')).toHaveText(
      new RegExp(`^step \\d+ / ${noIntercept.totalSteps}$`),
    );
  });
});

test('xen-svm-vnmi under_kvm: Xen as L1 under KVM, three lanes, the same guest assertions', async ({
  page,
}) => {
  const [bare, nested] = await Promise.all([
    cliTrace('xen-svm-vnmi'),
    cliTrace('xen-svm-vnmi', { under_kvm: true }),
  ]);
  expect(nested.assertions.map((a) => a.passed)).toEqual(bare.assertions.map((a) => a.passed));
  await openLab(page);
  await pickScenario(page, 'xen-svm-vnmi', bare.totalSteps);
  await expect(page.getByTestId('timeline-lane')).toHaveCount(2);
  await page.getByTestId('param-under_kvm').click();
  await expect(page.getByTestId('step-counter')).toHaveText(new RegExp(`^step \\d+ / ${nested.totalSteps}$`));
  await expect(page.getByTestId('timeline-lane')).toHaveCount(3);
  // Seek to Xen's first VMRUN emulated by KVM: the explanation names nested_svm_vmrun.
  const run = decisionsOf(nested, Fn.nested_svm_vmrun)[0];
  await seek(page, run.step);
  await expect(page.getByTestId('explanation')).toContainText('nested_svm_vmrun');
});
