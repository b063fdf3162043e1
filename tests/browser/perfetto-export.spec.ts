// "Export Perfetto JSON" in a real browser: the download is the run as trace-event JSON that
// passes the format check, with the same events the command line writes; nothing in the top
// bar is clipped at 1024x768 with the extra button.
import { readFile } from 'node:fs/promises';
import { checkTraceEvents } from '../../src/core/export/trace-event-check';
import { expect, openLab, pickScenario, test } from './helpers/lab';
import { cliTrace } from './helpers/oracle';

test('Export Perfetto JSON downloads a valid trace-event file of the run', async ({ page }) => {
  const trace = await cliTrace('soft-vnmi');
  await openLab(page);
  await pickScenario(page, 'soft-vnmi', trace.totalSteps);
  const downloading = page.waitForEvent('download');
  await page.getByTestId('trace-menu').click();
  await page.getByTestId('export-perfetto').click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('soft-vnmi.perfetto.json');
  const file = JSON.parse(await readFile((await download.path())!, 'utf8'));
  expect(checkTraceEvents(file)).toEqual([]);
  const threads = file.traceEvents
    .filter((e: { name: string }) => e.name === 'thread_name')
    .map((e: { args: { name: string } }) => e.args.name);
  expect(threads).toEqual(['L0 · KVM', 'L1 · guest kernel']);
  const exits = file.traceEvents.filter(
    (e: { cat?: string; ph: string }) => e.ph === 'X' && e.cat === 'vmexit',
  );
  expect(exits.length).toBe(trace.events.filter((e) => e.kind === 'vmexit').length);
  const flows = file.traceEvents.filter(
    (e: { ph: string; name: string }) => e.ph === 's' && e.name === 'VM exit',
  );
  expect(flows.length).toBe(exits.length);
});

test('the top bar keeps every control in view at 1024x768', async ({ page }) => {
  await page.setViewportSize({ width: 1024, height: 768 });
  await openLab(page);
  await expect(page.getByTestId('trace-menu')).toBeVisible();
  for (const id of ['trace-menu', 'share-button', 'help-button']) {
    const box = (await page.getByTestId(id).boundingBox())!;
    expect(box.x + box.width, id).toBeLessThanOrEqual(1024);
  }
  await page.getByTestId('trace-menu').click();
  const item = (await page.getByTestId('export-perfetto').boundingBox())!;
  expect(item.x + item.width).toBeLessThanOrEqual(1024);
  await page.screenshot({ path: 'test-results/perfetto-topbar-1024.png' });
});

test('Import trace shows the fixture read-only, and "explain this exit" opens the closest built-in', async ({
  page,
}) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await openLab(page);
  await page.getByTestId('import-trace-file').setInputFiles('tests/fixtures/kvm-vmx.trace-cmd.txt');
  const dialog = page.getByTestId('imported-trace');
  await expect(dialog).toBeVisible();
  await expect(page.getByTestId('imported-summary')).toContainText('23 KVM events on 2 vCPUs, 6 exits');
  await expect(page.getByTestId('imported-lane-1').locator('rect')).toHaveCount(4);
  // line 10: vCPU 1's INTERRUPT_WINDOW exit.
  await page.getByTestId('imported-mark-10').click();
  await expect(page.getByTestId('explain-exit')).toContainText('INTERRUPT_WINDOW (7)');
  await page.screenshot({ path: 'test-results/imported-trace-1280.png' });
  const trace = await cliTrace('kut-intr-window');
  await page.getByTestId('explain-open-kut-intr-window').click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${trace.totalSteps}`);
});

test('an imported SVM trace is searched with the palette words, matches marked and stepped through', async ({
  page,
}) => {
  await openLab(page);
  await page.getByTestId('import-trace-file').setInputFiles('tests/fixtures/kvm-svm.trace.txt');
  await expect(page.getByTestId('imported-trace')).toBeVisible();
  const input = page.getByTestId('imported-search');
  // The SVM trace: exit 0 is the #GP intercept (0x4d) and the NMI exits (0x61) KVM handles as
  // EXCEPTION_NMI; `exit 0x61` only the NMI ones.
  await input.fill('exit 0x61');
  await input.press('Enter');
  await expect(page.getByTestId('imported-search-count')).toHaveText('1 of 3');
  await expect(page.locator('[data-testid="imported-trace"] rect[data-match="true"]')).toHaveCount(3);
  await expect(page.getByTestId('imported-selected')).toContainText('kvm_exit (line 23');
  await input.press('Enter');
  await expect(page.getByTestId('imported-selected')).toContainText('kvm_nested_vmexit (line 24');
  await input.fill('vcpu');
  await input.press('Enter');
  await expect(page.getByTestId('imported-search-error')).toContainText('column 1');
  await page.screenshot({ path: 'test-results/imported-search-1280.png' });
});
