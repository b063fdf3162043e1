// "Why, with causes" in Chromium (issue 11, item 3): soft-vnmi's interrupt-window exit shows
// the control bit it read as deciding in the VMCS panel, and its cause link lands on the step
// that armed the window — checked against the command line's trace.
import type { Page } from '@playwright/test';
import { cliTrace } from './helpers/oracle';
import { blur, expect, openLab, test, waitForStep } from './helpers/lab';

async function search(page: Page, query: string) {
  await page.keyboard.press('Control+k');
  const input = page.getByTestId('palette-input');
  await expect(input).toBeFocused();
  await input.fill(query);
  await input.press('Enter');
}

test('exit 7: the deciding bit is highlighted and its cause link goes to the step that set it', async ({
  page,
}) => {
  const trace = await cliTrace('soft-vnmi');
  const exit7 = trace.events.find((e) => e.kind === 'vmexit' && (e.data.reason & 0xffff) === 7)!.step;

  await openLab(page, '/#builtin=soft-vnmi');
  await search(page, 'exit 7');
  await waitForStep(page, exit7);
  await page.keyboard.press('Escape');

  // The Why list names the interrupt-window control, deciding, with the step that set it.
  const label = 'CPU_BASED_VM_EXEC_CONTROL.INTR_WINDOW_EXITING of vmcs01';
  const input = page.locator(`[data-testid="why-input"][data-label="${label}"]`);
  await expect(input).toHaveAttribute('data-decides', 'true');
  await expect(input).toContainText('= 1 — set at step');
  const cause = input.getByTestId('cause-link');
  const setAt = Number(await cause.getAttribute('data-cause-step'));
  expect(setAt).toBeLessThan(exit7);
  // The oracle: the step that set it is KVM's decision that armed the window.
  const setter = trace.events[setAt - 1];
  expect(setter.kind).toBe('decision');

  // The VMCS panel marks the field and, bit by bit, the bit.
  const tab = page.getByTestId('state-tab-vmx');
  if ((await tab.count()) > 0) await tab.click();
  await blur(page);
  const panel = page.getByTestId('vmcs-vmcs01');
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId('vmcs-legend')).toContainText('read to decide this step');
  const field = panel.locator('li[data-field="CPU_BASED_VM_EXEC_CONTROL"]');
  await expect(field).toHaveAttribute('data-deciding', 'true');
  await field.getByTestId('vmcs-field-CPU_BASED_VM_EXEC_CONTROL').click();
  const bit = panel.locator(
    '[data-testid="vmcs-bits-CPU_BASED_VM_EXEC_CONTROL"] [data-bit="CPU_BASED_INTR_WINDOW_EXITING"]',
  );
  await expect(bit).toHaveAttribute('data-deciding', 'true');
  await expect(bit).toBeVisible();
  await page.screenshot({ path: 'test-results/causes-exit7.png' });

  // The cause link lands on the step that armed the window; there the bit changed 0 → 1.
  await input.getByTestId('step-link').click();
  await waitForStep(page, setAt);
  await expect(page.getByTestId('event-chip')).toContainText('decision');
  await expect(
    page.locator(
      '[data-testid="vmcs-vmcs01"] [data-testid="vmcs-bits-CPU_BASED_VM_EXEC_CONTROL"] [data-bit="CPU_BASED_INTR_WINDOW_EXITING"]',
    ),
  ).toHaveAttribute('data-changed', 'true');
  // Back returns to the exit (the link was a jump).
  await page.goBack();
  await waitForStep(page, exit7);
});
