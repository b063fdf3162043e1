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
  const button = page.getByTestId('export-perfetto');
  await expect(button).toBeVisible();
  for (const id of ['export-perfetto', 'share-button', 'help-button']) {
    const box = (await page.getByTestId(id).boundingBox())!;
    expect(box.x + box.width, id).toBeLessThanOrEqual(1024);
  }
  await page.screenshot({ path: 'test-results/perfetto-topbar-1024.png' });
});
