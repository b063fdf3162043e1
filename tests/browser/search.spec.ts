// Go to and search in Chromium (issue 11, item 2): Ctrl+K, "exit 7" in soft-vnmi, jumping
// through the results with the keys and the transport, each result checked against the
// command line's trace; Back returns to the previous result (each move is a jump).
import { cliTrace } from './helpers/oracle';
import { blur, expect, openLab, press, test, waitForStep } from './helpers/lab';
import type { Page } from '@playwright/test';

async function search(page: Page, query: string) {
  await page.keyboard.press('Control+k');
  const input = page.getByTestId('palette-input');
  await expect(input).toBeFocused();
  await input.fill(query);
  await input.press('Enter');
}

test('search for "exit 7" in soft-vnmi and jump through the results', async ({ page }) => {
  const trace = await cliTrace('soft-vnmi');
  const exits7 = trace.events
    .filter((e) => e.kind === 'vmexit' && (e.data.reason & 0xffff) === 7)
    .map((e) => e.step);
  const exits = trace.events.filter((e) => e.kind === 'vmexit').map((e) => e.step);
  expect(exits7.length).toBeGreaterThan(0);
  expect(exits.length).toBeGreaterThan(2);

  await openLab(page, '/#builtin=soft-vnmi');
  await search(page, 'exit 7');
  await expect(page.getByTestId('palette-summary')).toContainText(`${exits7.length} result`);
  await expect(page.getByTestId('palette-result')).toHaveCount(exits7.length);
  await expect(page.getByTestId('palette-result').first()).toContainText('VM exit 7 INTERRUPT_WINDOW');
  await waitForStep(page, exits7[0]);
  await expect(page.getByTestId('event-chip')).toContainText('vmexit');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('palette')).toHaveCount(0);
  await expect(page.getByTestId('timeline-search-marks')).toHaveAttribute(
    'data-count',
    String(exits7.length),
  );
  await expect(page.getByTestId('search-position')).toHaveText(`1 of ${exits7.length}`);

  // Every VM exit, one after the other with ], back with [ and with the browser's Back.
  await press(page, 'Home');
  await waitForStep(page, 0);
  await search(page, 'vmexit');
  await waitForStep(page, exits[0]);
  await page.keyboard.press('Escape');
  await blur(page);
  for (const step of exits.slice(1)) {
    await press(page, ']');
    await waitForStep(page, step);
  }
  await press(page, '[');
  await waitForStep(page, exits[exits.length - 2]);
  await page.getByTestId('btn-next-result').click();
  await waitForStep(page, exits[exits.length - 1]);
  await page.goBack();
  await waitForStep(page, exits[exits.length - 2]);

  // A query that cannot be read says where, and the step stays.
  await search(page, 'exit 7 bogus');
  await expect(page.getByTestId('palette-error')).toContainText("'bogus' at column 8");
  await waitForStep(page, exits[exits.length - 2]);
});

test('go to a step and a time from the palette', async ({ page }) => {
  const trace = await cliTrace('soft-vnmi');
  await openLab(page, '/#builtin=soft-vnmi');
  await search(page, 'step 38');
  await waitForStep(page, 38);
  const t = trace.events[20].time;
  await search(page, `${t} cycles`);
  await waitForStep(page, trace.events.find((e) => e.time >= t)!.step);
});
