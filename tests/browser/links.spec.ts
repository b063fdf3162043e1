// Step links in Chromium (issue 11, item 1): a link opened in a fresh browser lands on its
// step, with its parameters, at its zoom; the address follows the user; Back and Forward move
// between the places jumped to; a bookmark travels in the link.
import { cliTrace, cliView, stepsOf } from './helpers/oracle';
import {
  blur,
  expect,
  expectPanelToShow,
  openLab,
  PageProblems,
  press,
  test,
  waitForStep,
} from './helpers/lab';
import type { Page } from '@playwright/test';

/** The timeline's visible range of the axis, from the store's zoom and the axis's place on screen. */
function visibleRange(page: Page): Promise<{ from: number; to: number } | null> {
  return page.evaluate(() => {
    const s = window.__nestlab!.store.getState();
    const g = s.timelineGeometry;
    const z = s.timelineZoom;
    const max = s.timeAxis === 'step' ? (s.info?.totalSteps ?? 0) : (s.info?.endTime ?? 0);
    if (!g || (z.k === 1 && z.x === 0)) return null;
    const at = (px: number) => (((px - z.x) / z.k - g.x0) / (g.x1 - g.x0)) * max;
    return { from: at(g.x0), to: at(g.x1) };
  });
}

test('a step link opens in a fresh browser on that step, with its parameters, at that zoom', async ({
  browser,
}) => {
  const params = { virtual_nmis: true };
  const trace = await cliTrace('soft-vnmi', params);
  const step = 38;
  expect(trace.totalSteps).toBeGreaterThan(60);
  const view = await cliView('soft-vnmi', step, params);

  for (const size of [
    { width: 1280, height: 800 },
    { width: 1920, height: 1080 },
  ]) {
    const context = await browser.newContext({ viewport: size });
    const problems = new PageProblems(context);
    const page = await context.newPage();
    try {
      await page.goto(`/#v=1&builtin=soft-vnmi&virtual_nmis=1&step=${step}&zoom=20-60`);
      await waitForStep(page, step);
      await expect(page.getByTestId('step-counter')).toHaveText(`step ${step} / ${trace.totalSteps}`);
      await expect(page.getByTestId('scenario-picker')).toHaveValue('soft-vnmi');
      await expect(page.getByTestId('param-virtual_nmis')).toHaveAttribute('aria-checked', 'true');
      await expect(page.getByTestId('explanation-text')).toHaveText(view.explanation.text);
      await expect(page.getByTestId('playhead')).toHaveAttribute('data-step', String(step));
      await expect(page.getByTestId('playhead')).toBeVisible();
      const range = await visibleRange(page);
      expect(range?.from).toBeCloseTo(20, 0);
      expect(range?.to).toBeCloseTo(60, 0);
      // The axis's labels lie within the range.
      const ticks = (await page.locator('.axis .axis-label').allTextContents()).map(Number);
      expect(Math.min(...ticks)).toBeGreaterThanOrEqual(20);
      expect(Math.max(...ticks)).toBeLessThanOrEqual(60);
      await expect(page.getByTestId('link-error')).toHaveCount(0);
      expect(problems.unexpected()).toEqual([]);
    } finally {
      await context.close();
    }
  }
});

test('the address follows the steps; Back and Forward move between the places jumped to', async ({
  page,
}) => {
  const params = { extra_nmi: true };
  const trace = await cliTrace('nmi-blocking', params);
  const deliveries = stepsOf(trace, 'delivery');
  await page.goto('/#v=1&builtin=nmi-blocking&extra_nmi=1&step=0');
  await waitForStep(page, 0);
  await blur(page);

  await press(page, 'ArrowRight', 2);
  await waitForStep(page, 2);
  await expect.poll(() => new URL(page.url()).hash).toBe('#v=1&builtin=nmi-blocking&extra_nmi=1&step=2');
  await press(page, 'n'); // a jump: the next delivery
  await waitForStep(page, deliveries[0]);
  await expect.poll(() => new URL(page.url()).hash).toContain(`&step=${deliveries[0]}`);
  await press(page, 'n');
  await waitForStep(page, deliveries[1]);
  await press(page, 'ArrowRight'); // stepping rewrites this place's entry
  await waitForStep(page, deliveries[1] + 1);
  await expect.poll(() => new URL(page.url()).hash).toContain(`&step=${deliveries[1] + 1}`);

  await page.goBack();
  await waitForStep(page, deliveries[0]);
  await page.goBack();
  await waitForStep(page, 2);
  await page.goForward();
  await waitForStep(page, deliveries[0]);
  await page.goForward();
  await waitForStep(page, deliveries[1] + 1);
  await expectPanelToShow(page, await cliView('nmi-blocking', deliveries[1] + 1, params));

  // A reload keeps the place.
  await page.reload();
  await waitForStep(page, deliveries[1] + 1);
  await expect(page.getByTestId('param-extra_nmi')).toHaveAttribute('aria-checked', 'true');
});

test('a bookmark and an edited draft: the link opens beside the draft, the bookmark comes along', async ({
  page,
  browser,
}) => {
  const trace = await cliTrace('nmi-blocking');
  const nmi = stepsOf(trace, 'delivery', (e) => e.data.type === 2)[0];
  await openLab(page, '/#v=1&builtin=nmi-blocking&step=0');
  await blur(page);
  await press(page, 'ArrowRight', nmi);
  await waitForStep(page, nmi);
  await page.getByTestId('bookmarks-button').click();
  await page.getByTestId('bookmark-name').fill('first NMI');
  await page.getByTestId('bookmark-note').fill('blocking by NMI set from here');
  await page.getByTestId('bookmark-add').click();
  await expect(page.getByTestId('bookmark-go')).toHaveText(`${nmi}first NMIblocking by NMI set from here`);
  await page.keyboard.press('Escape');
  await expect.poll(() => new URL(page.url()).hash).toContain(`&bm=${nmi}~first%20NMI~blocking%20by%20NMI`);
  const link = page.url();

  // Another browser with a draft of its own (edited): the link opens beside it.
  const context = await browser.newContext();
  const problems = new PageProblems(context);
  const other = await context.newPage();
  try {
    await openLab(other);
    await other.getByTestId('tab-editor').click();
    const editor = other.getByTestId('editor-textarea');
    const doc = JSON.parse(await editor.inputValue()) as { title: string };
    doc.title = 'My own experiment';
    await editor.fill(JSON.stringify(doc, null, 2));
    await other.getByTestId('run-button').click();
    await expect(other.getByTestId('scenario-picker').locator('option:checked')).toHaveText(
      'Custom: My own experiment',
    );

    await other.goto(link);
    await waitForStep(other, nmi);
    await expect(other.getByTestId('notice')).toContainText('is kept');
    await other.getByTestId('bookmarks-button').click();
    await expect(other.getByTestId('bookmark-go')).toHaveText(`${nmi}first NMIblocking by NMI set from here`);
    await other.keyboard.press('Escape');
    await other.getByTestId('drafts-button').click();
    const rows = other.getByTestId('draft-row');
    await expect(rows).toHaveCount(2);
    await expect(rows.nth(0)).toContainText('edited: My own experiment');
    await rows.nth(0).getByTestId('draft-open').click();
    await expect(other.getByTestId('scenario-picker').locator('option:checked')).toHaveText(
      'Custom: My own experiment',
    );
    expect(problems.unexpected()).toEqual([]);
  } finally {
    await context.close();
  }
});
