// SVM in the browser: svm-vnmi (a program hypervisor on AMD SVM). Stepped by VM transition to
// the VMRUN that enters the guest and on past the virtual NMI's delivery, the VMCB panel shows
// int_ctl as the CLI's view does, and V_NMI → V_NMI_MASK marked changed bit by bit; the level
// panels show GIF and EFER.SVME. Toggling `legacy` changes the exits on the timeline (the IRET
// intercept, 0x74, appears) and the VMCB names the exit code. Steps come from the CLI's trace.
import type { Page } from '@playwright/test';
import type { StepView } from '../../src/core/engine/view';
import { blur, expect, openLab, pickScenario, press, test, waitForStep } from './helpers/lab';
import { cliTrace, cliView, type Trace } from './helpers/oracle';

const NAME = 'svm-vnmi';
const SVM_EXIT_IRET = 0x74;
const SVM_EXIT_VMMCALL = 0x81;

const transitions = (t: Trace) => t.events.filter((e) => e.kind === 'vmentry' || e.kind === 'vmexit');
const exitCodes = (t: Trace) => t.events.filter((e) => e.kind === 'vmexit').map((e) => e.data.reason);

function intCtl(view: StepView): string {
  const f = view.svm!.vmcbs[0].fields.find((x) => x.name === 'int_ctl');
  if (!f) throw new Error("the CLI's view has no int_ctl");
  return f.hex;
}

/** Shows the VMCB panel: a tab at 1280 px, a column of its own when the window is wide. */
async function showVmcb(page: Page) {
  const tab = page.getByTestId('state-tab-vmx');
  if ((await tab.count()) > 0) await tab.click();
  await blur(page);
  await expect(page.getByTestId('vmcb-vmcb01')).toBeVisible();
}

async function timelineExits(page: Page, count: number): Promise<number[]> {
  const marks = page.locator('[data-testid="timeline-svg"] [data-mark="exit"][data-reason]');
  await expect(marks).toHaveCount(count);
  return marks.evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-reason'))));
}

test('svm-vnmi: V_NMI → V_NMI_MASK in the VMCB panel; legacy adds the IRET intercept exit', async ({
  page,
}) => {
  const [vnmi, legacy] = await Promise.all([cliTrace(NAME), cliTrace(NAME, { legacy: true })]);
  // The premise, from the CLI: vNMI exits once after the failed VMRUN (VMMCALL); legacy adds 0x74.
  expect(exitCodes(vnmi)).toEqual([0xffffffff, SVM_EXIT_VMMCALL]);
  expect(exitCodes(legacy)).toContain(SVM_EXIT_IRET);
  const entry = vnmi.events.find((e) => e.kind === 'vmentry')!;
  const delivery = vnmi.events.find((e) => e.kind === 'delivery' && e.step > entry.step)!;
  const [entryView, deliveryView] = await Promise.all([
    cliView(NAME, entry.step),
    cliView(NAME, delivery.step),
  ]);

  await openLab(page);
  await pickScenario(page, NAME, vnmi.totalSteps);

  await test.step('x goes to the VMRUN that enters the guest; int_ctl holds V_NMI', async () => {
    await press(page, 'x', transitions(vnmi).filter((e) => e.step <= entry.step).length);
    await waitForStep(page, entry.step);
    await showVmcb(page);
    await expect(page.getByTestId('svm-mode')).toHaveText('guest runs (VMRUN)');
    await expect(page.getByTestId('vmcb-value-int_ctl')).toHaveText(intCtl(entryView));
    await expect(page.getByTestId('vmcb-summary-int_ctl')).toHaveText('V_NMI V_NMI_ENABLE');
    const bits = page.getByTestId('vmcb-bits-int_ctl');
    await expect(bits.locator('[data-bit="V_NMI"]')).toHaveAttribute('data-set', 'true');
    await expect(bits.locator('[data-bit="V_NMI_MASK"]')).toHaveAttribute('data-set', 'false');
  });

  await test.step('past the delivery: V_NMI cleared, V_NMI_MASK set, both marked changed', async () => {
    await press(page, 'ArrowRight', delivery.step - entry.step);
    await waitForStep(page, delivery.step);
    await expect(page.getByTestId('vmcb-value-int_ctl')).toHaveText(intCtl(deliveryView));
    await expect(page.getByTestId('vmcb-value-int_ctl')).toHaveAttribute('data-changed', 'true');
    await expect(page.getByTestId('vmcb-summary-int_ctl')).toContainText(
      `V_NMI_MASK V_NMI_ENABLE was ${intCtl(entryView)}`,
    );
    const bits = page.getByTestId('vmcb-bits-int_ctl');
    for (const [name, set] of [
      ['V_NMI', 'false'],
      ['V_NMI_MASK', 'true'],
    ]) {
      await expect(bits.locator(`[data-bit="${name}"]`)).toHaveAttribute('data-set', set);
      await expect(bits.locator(`[data-bit="${name}"]`)).toHaveAttribute('data-changed', 'true');
    }
    await expect(bits.locator('[data-bit="V_NMI_ENABLE"]')).not.toHaveAttribute('data-changed', 'true');
    await expect(bits.locator('[data-bit="V_NMI_MASK"]')).toHaveAttribute('title', /NMI Virtualization/);
  });

  await test.step('the levels show GIF and EFER.SVME', async () => {
    const tab0 = page.getByTestId('state-tab-level-0');
    if ((await tab0.count()) > 0) await tab0.click();
    const host = page.getByTestId('level-0');
    await expect(host.getByTestId('mode-badge')).toHaveText('SVM host');
    await expect(host.getByTestId('level-gif')).toHaveText('GIF=1');
    await expect(host.getByTestId('level-svme')).toHaveText('EFER.SVME=1');
    await blur(page);
  });

  await test.step('the timeline draws the vNMI run’s exits; legacy adds the IRET intercept', async () => {
    expect(await timelineExits(page, vnmi.events.filter((e) => e.kind === 'vmexit').length)).toEqual(
      exitCodes(vnmi),
    );
    await page.getByTestId('param-legacy').click();
    await expect(page.getByTestId('step-counter')).toHaveText(
      new RegExp(`^step \\d+ / ${legacy.totalSteps}$`),
    );
    expect(await timelineExits(page, legacy.events.filter((e) => e.kind === 'vmexit').length)).toEqual(
      exitCodes(legacy),
    );
  });

  await test.step('legacy: at the IRET intercept the VMCB names exit code 0x74', async () => {
    const iret = legacy.events.find((e) => e.kind === 'vmexit' && e.data.reason === SVM_EXIT_IRET)!;
    await page.evaluate((s) => window.__nestlab!.store.getState().seek(s), iret.step);
    await waitForStep(page, iret.step);
    await showVmcb(page);
    await expect(page.getByTestId('vmcb-value-exit_code')).toHaveText('0x00000074');
    await expect(page.getByTestId('vmcb-summary-exit_code')).toContainText('IRET');
    await expect(page.getByTestId('vmcb-value-exit_code')).toHaveAttribute('data-changed', 'true');
  });
});

// Seed 004 (Xen, 86a203ab8d): with vNMI the NMIs go through V_NMI with no NMI-related exit;
// turning `vnmi` off brings EVENTINJ, the IRET intercept (0x74) and the VINTR window (0x64)
// back, with more exits; at the IRET exit the VMCB names it and EVENTINJ has been used.
test('xen-svm-vnmi: toggling vnmi changes the exits and the VMCB bits', async ({ page }) => {
  const XEN = 'xen-svm-vnmi';
  const [vnmi, legacy] = await Promise.all([cliTrace(XEN), cliTrace(XEN, { vnmi: false })]);
  expect(exitCodes(vnmi)).not.toContain(SVM_EXIT_IRET);
  expect(exitCodes(legacy)).toEqual(expect.arrayContaining([SVM_EXIT_IRET, 0x64]));
  expect(exitCodes(legacy).length).toBeGreaterThan(exitCodes(vnmi).length);

  await openLab(page);
  await pickScenario(page, XEN, vnmi.totalSteps);
  expect(await timelineExits(page, exitCodes(vnmi).length)).toEqual(exitCodes(vnmi));

  // With vNMI: after the first NMI's delivery, int_ctl has V_NMI_MASK (and V_NMI_ENABLE) set.
  const entry = vnmi.events.find((e) => e.kind === 'vmentry')!;
  const nmi = vnmi.events.find((e) => e.kind === 'delivery' && e.step > entry.step && e.data.vector === 2)!;
  const nmiView = await cliView(XEN, nmi.step);
  await page.evaluate((s) => window.__nestlab!.store.getState().seek(s), nmi.step);
  await waitForStep(page, nmi.step);
  await showVmcb(page);
  await expect(page.getByTestId('vmcb-value-int_ctl')).toHaveText(intCtl(nmiView));
  const bits = page.getByTestId('vmcb-bits-int_ctl');
  await expect(bits.locator('[data-bit="V_NMI_MASK"]')).toHaveAttribute('data-set', 'true');
  await expect(bits.locator('[data-bit="V_NMI_ENABLE"]')).toHaveAttribute('data-set', 'true');

  // vnmi off: the legacy path's exits, and the IRET intercept exit named in the VMCB.
  await page.getByTestId('param-vnmi').click();
  await expect(page.getByTestId('step-counter')).toHaveText(new RegExp(`^step \\d+ / ${legacy.totalSteps}$`));
  expect(await timelineExits(page, exitCodes(legacy).length)).toEqual(exitCodes(legacy));
  const iret = legacy.events.find((e) => e.kind === 'vmexit' && e.data.reason === SVM_EXIT_IRET)!;
  await page.evaluate((s) => window.__nestlab!.store.getState().seek(s), iret.step);
  await waitForStep(page, iret.step);
  await showVmcb(page);
  await expect(page.getByTestId('vmcb-value-exit_code')).toHaveText('0x00000074');
  await expect(page.getByTestId('vmcb-bits-int_ctl').locator('[data-bit="V_NMI_ENABLE"]')).toHaveAttribute(
    'data-set',
    'false',
  );
});
