// Compare and fork in Chromium (issue 11, item 6): soft-vnmi with virtual_nmis off and on side
// by side, the first divergence marked and gone to, the cursors in step; a fork at step 30 that
// clears blocking by NMI, its new future beside the original; fork edits and links that cannot
// be read change nothing.
import { expect, openLab, test, waitForStep } from './helpers/lab';
import type { Page } from '@playwright/test';

async function goTo(page: Page, step: number) {
  await page.keyboard.press('Control+k');
  const input = page.getByTestId('palette-input');
  await expect(input).toBeFocused();
  await input.fill(`step ${step}`);
  await input.press('Enter');
  await waitForStep(page, step);
}

const side = (page: Page, s: 'a' | 'b') => page.getByTestId(`compare-side-${s}`);

test('compare virtual_nmis off and on: the first divergence, marked and gone to', async ({ page }) => {
  await openLab(page, '/#builtin=soft-vnmi');
  await page.getByTestId('compare-menu').click();
  await page.getByTestId('compare-with-virtual_nmis').click();
  await expect(page.getByTestId('compare-view')).toBeVisible();
  await expect(page.getByTestId('compare-summary')).toContainText(
    'First divergence: A step 28 · B step 28; 27 events in common before it.',
  );
  // The other side is in the link (format version 2).
  await expect.poll(() => page.evaluate(() => window.location.hash)).toContain('v=2&builtin=soft-vnmi');
  await expect.poll(() => page.evaluate(() => window.location.hash)).toContain('cmp=virtual_nmis~1');
  // Both timelines mark the divergence.
  await expect(side(page, 'a').getByTestId('timeline-marker-divergence')).toHaveAttribute('data-step', '28');
  await expect(side(page, 'b').getByTestId('timeline-marker-divergence')).toHaveAttribute('data-step', '28');

  await page.getByTestId('go-to-divergence').click();
  await waitForStep(page, 28);
  await expect(side(page, 'a')).toHaveAttribute('data-step', '28');
  await expect(side(page, 'b')).toHaveAttribute('data-step', '28');
  await expect(side(page, 'a').getByTestId('explanation')).toContainText('vmx_recover_nmi_blocking');
  await expect(side(page, 'b').getByTestId('explanation')).toContainText('handle_external_interrupt_irqoff');
  // KVM's soft-vNMI accounting differs in the panels' diff.
  await expect(page.getByTestId('compare-diff-row').first()).toBeVisible();

  // The cursor moves A; B follows through the alignment (A's 29 is B's 28: the same decision).
  await page.keyboard.press('ArrowRight');
  await waitForStep(page, 29);
  await expect(side(page, 'b')).toHaveAttribute('data-step', '28');
  await page.keyboard.press('ArrowRight');
  await waitForStep(page, 30);
  await expect(side(page, 'b')).toHaveAttribute('data-step', '29');

  await page.getByTestId('close-compare').click();
  await expect(page.getByTestId('compare-view')).toHaveCount(0);
  await expect(page.getByTestId('level-0')).toBeVisible();
  await page.goBack();
  await expect(page.getByTestId('compare-view')).toBeVisible();
});

test('fork at step 30, clear blocking by NMI, see the new future beside the original', async ({ page }) => {
  await openLab(page, '/#builtin=soft-vnmi&virtual_nmis=1');
  await goTo(page, 30);
  await page.getByTestId('compare-menu').click();
  await expect(page.getByTestId('fork-step')).toHaveValue('30');

  // An edit that cannot be read: the message, and nothing changes.
  await page.getByTestId('fork-target').fill('GUEST_INTERRUPTIBILITY_INFOO.NMI');
  await page.getByTestId('fork-value').fill('0');
  await page.getByTestId('fork-submit').click();
  await expect(page.getByTestId('compare-error')).toContainText('closest names');
  await expect(page.getByTestId('compare-error')).toContainText('GUEST_INTERRUPTIBILITY_INFO');
  await expect(page.getByTestId('compare-view')).toHaveCount(0);
  await waitForStep(page, 30);

  await page.getByTestId('fork-target').fill('GUEST_INTERRUPTIBILITY_INFO.NMI');
  await page.getByTestId('fork-submit').click();
  await expect(page.getByTestId('compare-view')).toBeVisible();
  await expect(page.getByTestId('compare-summary')).toContainText('First divergence: A step 31 · B step 31');
  await expect
    .poll(() => page.evaluate(() => window.location.hash))
    .toContain('fork=30%3AGUEST_INTERRUPTIBILITY_INFO.NMI%3D0');
  // The fork's timeline marks the edit.
  await expect(side(page, 'b').getByTestId('timeline-marker-edit')).toHaveAttribute('data-step', '31');
  await expect(side(page, 'a').getByTestId('timeline-marker-edit')).toHaveCount(0);
  await page.getByTestId('go-to-divergence').click();
  await waitForStep(page, 31);
  await expect(side(page, 'b')).toHaveAttribute('data-step', '31');
  await expect(side(page, 'b').getByTestId('explanation')).toContainText('Edited by the user');
  await expect(side(page, 'a').getByTestId('explanation')).toContainText('VM entry (VMRESUME)');
  const changed = page.locator('[data-testid="compare-diff-row"].changed');
  await expect(changed.filter({ hasText: 'GUEST_INTERRUPTIBILITY_INFO' })).toContainText('0x8');

  // The original's NMI-window exit (step 37, after the handler's IRET) is the fork's step 33:
  // in the fork the window opens at once, before the IRET.
  await goTo(page, 37);
  await expect(side(page, 'b')).toHaveAttribute('data-step', '33');
  await expect(side(page, 'a').getByTestId('explanation')).toContainText('NMI_WINDOW');
  await expect(side(page, 'b').getByTestId('explanation')).toContainText('NMI_WINDOW');
  await expect(side(page, 'b').getByTestId('explanation')).toContainText('GUEST_RIP 0x1058');
  await expect(side(page, 'a').getByTestId('explanation')).toContainText('GUEST_RIP 0x1001');

  // The fork's link opens the same view in a fresh page.
  const url = page.url();
  const fresh = await page.context().newPage();
  await fresh.goto(url);
  await expect(fresh.getByTestId('compare-view')).toBeVisible();
  await expect(fresh.getByTestId('compare-summary')).toContainText('First divergence: A step 31 · B step 31');
  await expect(fresh.getByTestId('compare-side-b')).toHaveAttribute('data-step', '33');
});

test('a link with a fork edit that cannot be read changes nothing', async ({ page }) => {
  await openLab(page, '/#builtin=soft-vnmi');
  await goTo(page, 5);
  await page.goto('/#v=2&builtin=soft-vnmi&virtual_nmis=1&fork=x%3ARAX%3D1');
  await expect(page.getByTestId('link-error')).toContainText(
    "This link cannot be opened: field ‘fork (edit 1)’: edit 1 ('x:RAX=1'), column 1",
  );
  await expect(page.getByTestId('compare-view')).toHaveCount(0);
  await waitForStep(page, 5);

  // An edit the scenario rejects (a target it does not have): the run opens alone, with a notice.
  await page.goto('/#v=2&builtin=soft-vnmi&fork=3%3ANOPE%3D1');
  await expect(page.getByTestId('notice')).toContainText('The compare view cannot be opened');
  await expect(page.getByTestId('notice')).toContainText("'NOPE' is not something to edit");
  await expect(page.getByTestId('compare-view')).toHaveCount(0);
});

test('at 1024x768 the Compare button and its menu are in view', async ({ page }) => {
  await page.setViewportSize({ width: 1024, height: 768 });
  await openLab(page, '/#builtin=soft-vnmi');
  for (const id of ['compare-menu', 'trace-menu', 'help-button']) {
    const box = (await page.getByTestId(id).boundingBox())!;
    expect(box.x + box.width, id).toBeLessThanOrEqual(1024);
  }
  await page.getByTestId('compare-menu').click();
  const submit = (await page.getByTestId('fork-submit').boundingBox())!;
  expect(submit.x + submit.width).toBeLessThanOrEqual(1024);
  expect(submit.y + submit.height).toBeLessThanOrEqual(768);
});
