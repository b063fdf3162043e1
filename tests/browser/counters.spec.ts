// Counter tracks in the browser: soft-vnmi, a track added for RFLAGS.IF of L1 (a bit) and one
// for vnmi_blocked_time (a number), drawn under the lanes on the timeline's own axis: the
// track's playhead stands where the timeline's does, before and after zooming; a click on the
// track goes to a step.
import type { Page } from '@playwright/test';
import { blur, expect, openLab, pickScenario, test, waitForStep } from './helpers/lab';
import { cliTrace } from './helpers/oracle';

const NAME = 'soft-vnmi';

async function addTrack(page: Page, query: string) {
  if ((await page.getByTestId('counter-input').count()) === 0)
    await page.getByTestId('counter-add-open').click();
  await page.getByTestId('counter-input').fill(query);
  await page.getByTestId('counter-submit').click();
}

async function playheadXs(page: Page): Promise<[number, number]> {
  const timeline = await page.getByTestId('playhead-line').boundingBox();
  const track = await page.locator('[data-testid="counter-track"] .counter-playhead').first().boundingBox();
  if (!timeline || !track) throw new Error('a playhead is not drawn');
  return [timeline.x + timeline.width / 2, track.x + track.width / 2];
}

test('soft-vnmi: counter tracks under the lanes, aligned with the timeline', async ({ page }) => {
  const trace = await cliTrace(NAME);
  await openLab(page);
  await pickScenario(page, NAME, trace.totalSteps);

  await addTrack(page, 'RFLAGS.IF of L1');
  const bit = page.locator('[data-testid="counter-track"][data-label="RFLAGS.IF of L1"]');
  await expect(bit).toHaveAttribute('data-shape', 'bit');
  expect(Number(await bit.getAttribute('data-changes'))).toBeGreaterThan(0);
  await addTrack(page, 'vnmi_blocked_time');
  const value = page.locator('[data-testid="counter-track"][data-label="vnmi_blocked_time of L0"]');
  await expect(value).toHaveAttribute('data-shape', 'value');
  await blur(page);

  const mid = Math.floor(trace.totalSteps / 2);
  await page.evaluate((s) => window.__nestlab!.store.getState().seek(s), mid);
  await waitForStep(page, mid);
  let [a, b] = await playheadXs(page);
  expect(Math.abs(a - b)).toBeLessThan(1.5);

  // Zoom in on the timeline around the playhead: the tracks follow its axis.
  const svg = page.getByTestId('timeline-svg');
  const box = (await svg.boundingBox())!;
  await page.mouse.move(a, box.y + box.height / 2);
  for (let i = 0; i < 4; i++) await page.mouse.wheel(0, -300);
  await expect
    .poll(async () => (await page.evaluate(() => window.__nestlab!.store.getState().timelineZoom.k)) > 1)
    .toBe(true);
  [a, b] = await playheadXs(page);
  expect(Math.abs(a - b)).toBeLessThan(1.5);

  // A click on a track goes to the step under it.
  const trackBox = (await bit.locator('svg').boundingBox())!;
  await page.mouse.click(trackBox.x + trackBox.width * 0.25, trackBox.y + trackBox.height / 2);
  await expect.poll(() => page.evaluate(() => window.__nestlab!.store.getState().view?.step)).not.toBe(mid);
  [a, b] = await playheadXs(page);
  expect(Math.abs(a - b)).toBeLessThan(1.5);
  expect(Math.abs(a - (trackBox.x + trackBox.width * 0.25))).toBeLessThan(12);
});
