// The timeline: one lane per level, a mark per delivery / IRET / assertion at its step,
// dragging the playhead and clicking the lanes go to a step (and the panel shows what the
// CLI shows there), the wheel zooms and Fit undoes it.
import type { Locator, Page } from '@playwright/test';
import {
  currentStep,
  expect,
  expectPanelToShow,
  openLab,
  pickScenario,
  test,
  waitForStep,
} from './helpers/lab';
import { cliTrace, cliView, stepsOf } from './helpers/oracle';

const NAME = 'apic-priority';

async function centre(locator: Locator): Promise<{ x: number; y: number }> {
  const box = await locator.boundingBox();
  if (!box) throw new Error('not drawn');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** The axis labels as drawn: [value, x] pairs, left to right. */
async function axisTicks(page: Page): Promise<[number, number][]> {
  const labels = page.locator('[data-testid="timeline-svg"] .axis-label');
  const out: [number, number][] = [];
  for (const label of await labels.all()) {
    const box = await label.boundingBox();
    if (box) out.push([Number((await label.textContent())?.replace(/,/g, '')), box.x + box.width / 2]);
  }
  return out;
}

const markAt = (page: Page, kind: string, step: number) =>
  page.locator(`[data-testid="timeline-svg"] [data-mark="${kind}"][data-step="${step}"]`);

test('drag the playhead, click the lanes, zoom with the wheel (apic-priority)', async ({ page }) => {
  const trace = await cliTrace(NAME);
  const deliveries = stepsOf(trace, 'delivery');
  const irets = stepsOf(trace, 'iret');
  const [dragTo, clickAt] = [deliveries[1], irets[1]];
  const viewsReady = Promise.all([cliView(NAME, dragTo), cliView(NAME, clickAt), cliView(NAME, 0)]);

  await openLab(page);
  await pickScenario(page, NAME, trace.totalSteps);
  const [dragView, clickView, view0] = await viewsReady;

  await test.step('lanes and marks', async () => {
    await expect(page.getByTestId('timeline-lane')).toHaveCount(view0.levels.length);
    await expect(page.getByTestId('timeline-lane').first()).toHaveAttribute('data-level', '0');
    const stepsOfMarks = (kind: string) =>
      page
        .locator(`[data-testid="timeline-svg"] [data-mark="${kind}"]`)
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-step'))).sort((a, b) => a - b));
    await expect.poll(() => stepsOfMarks('delivery')).toEqual(deliveries);
    await expect.poll(() => stepsOfMarks('iret')).toEqual(irets);
    await expect.poll(() => stepsOfMarks('assert')).toEqual(trace.assertions.map((a) => a.step));
  });

  await test.step(`drag the playhead onto the delivery at step ${dragTo}`, async () => {
    const playhead = page.getByTestId('playhead');
    await expect(playhead).toHaveAttribute('data-step', '0');
    const from = await centre(playhead);
    const to = await centre(markAt(page, 'delivery', dragTo));
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    // Half-way, the page already follows the drag.
    await page.mouse.move((from.x + to.x) / 2, from.y, { steps: 4 });
    await expect.poll(() => currentStep(page)).toBeGreaterThan(0);
    const half = await currentStep(page);
    expect(half).toBeLessThan(dragTo);
    await page.mouse.move(to.x, from.y, { steps: 4 });
    await page.mouse.up();
    await waitForStep(page, dragTo);
    await expect(playhead).toHaveAttribute('data-step', String(dragTo));
    await expectPanelToShow(page, dragView);
  });

  await test.step(`click the lane at the IRET of step ${clickAt}`, async () => {
    const iret = await centre(markAt(page, 'iret', clickAt));
    const lane = await centre(page.getByTestId('timeline-lane').first());
    await page.mouse.click(iret.x, lane.y);
    await waitForStep(page, clickAt);
    await expectPanelToShow(page, clickView);
    // Clicking on the lane labels (left of the axis) goes nowhere.
    const svg = (await page.getByTestId('timeline-svg').boundingBox())!;
    await page.mouse.click(svg.x + 10, lane.y);
    await page.waitForTimeout(100);
    expect(await currentStep(page)).toBe(clickAt);
  });

  await test.step('the wheel zooms in around the pointer; Fit shows the whole run again', async () => {
    const fit = page.getByTestId('timeline-fit');
    await expect(fit).toBeDisabled();
    const whole = await axisTicks(page);
    expect(whole[0][0]).toBe(0);
    const status = page.getByTestId('timeline-status');
    await expect(status).toHaveText(`${trace.totalSteps} events in view`);

    const lane = await centre(page.getByTestId('timeline-lane').first());
    const at = await centre(markAt(page, 'iret', clickAt));
    await page.mouse.move(at.x, lane.y);
    await page.mouse.wheel(0, -400);
    await expect(fit).toBeEnabled();
    await expect(status).toHaveText(/^×\d+(\.\d)? · \d+ events in view$/);
    const zoomed = await axisTicks(page);
    // Fewer steps across the same width: the labels are closer in value, and the step under
    // the pointer is in view (zoom keeps it where it was).
    const span = (t: [number, number][]) => (t[t.length - 1][0] - t[0][0]) / (t[t.length - 1][1] - t[0][1]);
    expect(span(zoomed)).toBeLessThan(span(whole) / 1.5);
    expect(zoomed[0][0]).toBeGreaterThan(0);
    expect(zoomed[0][0]).toBeLessThan(clickAt);
    expect(zoomed[zoomed.length - 1][0]).toBeGreaterThan(clickAt);
    const inView = Number(/· (\d+) events/.exec((await status.textContent()) ?? '')?.[1]);
    expect(inView).toBeLessThan(trace.totalSteps);
    // Marks outside the range are not drawn; the IRET under the pointer is.
    await expect(markAt(page, 'delivery', deliveries[0])).toHaveCount(0);
    await expect(markAt(page, 'iret', clickAt)).toHaveCount(1);
    const after = await centre(markAt(page, 'iret', clickAt));
    expect(Math.abs(after.x - at.x)).toBeLessThan(3);

    await fit.click();
    await expect(fit).toBeDisabled();
    await expect(status).toHaveText(`${trace.totalSteps} events in view`);
    expect(await axisTicks(page)).toEqual(whole);
    // Zooming moved nothing but the view.
    expect(await currentStep(page)).toBe(clickAt);
  });
});
