// The timeline at scale: a 300,000-step run (bench/dense-timer.json, a KVM guest taking a
// timer interrupt every 300 cycles) draws its dense layers on the canvas from the whole
// trace, so zooming in brings every instruction tick back; a click on a mark or its label
// selects exactly that event at any width; no label runs out of the timeline.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { currentStep, expect, openLab, pickScenario, test, waitForStep } from './helpers/lab';
import { cliTrace, REPO } from './helpers/oracle';

const DENSE = readFileSync(join(REPO, 'bench/dense-timer.json'), 'utf8');
const denseLink = (extra: string) => `/#v=1&s=${Buffer.from(DENSE, 'utf8').toString('base64url')}${extra}`;

type Lab = {
  store: {
    getState(): {
      timelineZoom: { k: number; x: number };
      timelineGeometry: { x0: number; x1: number } | null;
      info: { totalSteps: number } | null;
      view: { step: number } | null;
    };
  };
  client: { view(step: number): Promise<{ event: { kind: string; level: number } | null }> };
};

/** The steps in view on the step axis, from the store's zoom and the axis geometry. */
async function stepsInView(page: Page): Promise<[number, number]> {
  return page.evaluate(() => {
    const st = (window as unknown as { __nestlab: Lab }).__nestlab.store.getState();
    const { k, x } = st.timelineZoom;
    const { x0, x1 } = st.timelineGeometry!;
    const total = st.info!.totalSteps;
    const value = (X: number) => (((X - x) / k - x0) / (x1 - x0)) * total;
    return [Math.max(1, Math.ceil(value(x0))), Math.min(total, Math.floor(value(x1)))];
  });
}

/** Per lane, the instructions among steps [a, b], asked of the worker one step at a time. */
async function instructionsPerLane(page: Page, a: number, b: number): Promise<number[]> {
  return page.evaluate(
    async ([from, to]) => {
      const lab = (window as unknown as { __nestlab: Lab }).__nestlab;
      const out = [0, 0];
      for (let n = from; n <= to; n++) {
        const e = (await lab.client.view(n)).event;
        if (e && e.kind === 'instruction') out[e.level]++;
      }
      return out;
    },
    [a, b],
  );
}

const canvasTicks = async (page: Page) =>
  ((await page.getByTestId('timeline-canvas').getAttribute('data-ticks')) ?? '').split(',').map(Number);

test('a 300,000-step run: every instruction tick comes back when zoomed in; events in view are real events', async ({
  page,
}) => {
  test.setTimeout(180_000);
  await page.goto(denseLink('&step=250000&zoom=250001-250040'));
  await waitForStep(page, 250000);
  const status = page.getByTestId('timeline-status');
  await expect(status).toHaveText(/events in view$/);

  const [a, b] = await stepsInView(page);
  expect(b - a).toBeGreaterThan(20);
  expect(b - a).toBeLessThan(60);
  // Each step is an event: the count is the steps in view, not a thinned set.
  await expect(status).toHaveText(new RegExp(`· ${b - a + 1} events in view$`));
  const expected = await instructionsPerLane(page, a, b);
  expect(expected[1]).toBeGreaterThan(5);
  // Zoomed to about 40 steps over 1,150 px, each instruction has its own tick column.
  await expect.poll(() => canvasTicks(page)).toEqual(expected);

  // The whole run: ticks in every column of the guest's lane, and the marks as density bars.
  await page.getByTestId('timeline-fit').click();
  await expect(status).toHaveText('300,000 events in view');
  await expect
    .poll(async () =>
      Number((await page.getByTestId('timeline-canvas').getAttribute('data-bars'))?.split(',')[1]),
    )
    .toBeGreaterThan(500);
  await expect(page.locator('[data-testid="timeline-svg"] [data-mark]')).toHaveCount(0);

  // Wheel-zoom in, around the middle: the ticks come back at every zoom level.
  const svg = (await page.getByTestId('timeline-svg').boundingBox())!;
  const lane1 = page.getByTestId('timeline-lane').nth(1);
  const laneBox = (await lane1.boundingBox())!;
  await page.mouse.move(svg.x + svg.width * 0.6, laneBox.y + laneBox.height / 2);
  for (let i = 0; i < 40; i++) await page.mouse.wheel(0, -400);
  await expect(status).toHaveText(/^×[\d,.]+ · \d+ events in view$/);
  await page.waitForTimeout(300);
  const [c, d] = await stepsInView(page);
  expect(d - c).toBeLessThan(40);
  await expect.poll(() => canvasTicks(page)).toEqual(await instructionsPerLane(page, c, d));
});

test('a click on a mark, or on its label, selects exactly that event at 1280 and at 700 px', async ({
  page,
}) => {
  const trace = await cliTrace('soft-vnmi');
  const exits = trace.events.filter((e) => e.kind === 'vmexit').map((e) => e.step);
  await openLab(page);
  await pickScenario(page, 'soft-vnmi', trace.totalSteps);
  for (const width of [1280, 700]) {
    await page.setViewportSize({ width, height: 800 });
    const fit = page.getByTestId('timeline-fit');
    if (await fit.isEnabled()) await fit.click();
    // Zoom until the exits are drawn one by one (SVG marks).
    const svgBox = (await page.getByTestId('timeline-svg').boundingBox())!;
    await page.mouse.move(svgBox.x + svgBox.width * 0.3, svgBox.y + 20);
    const exitMarks = page.locator('[data-testid="timeline-svg"] [data-mark="exit"]');
    for (let i = 0; i < 30 && (await exitMarks.count()) < 3; i++) await page.mouse.wheel(0, -200);
    const steps = await exitMarks.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-step'))));
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps) expect(exits).toContain(s);

    // The glyph of one exit.
    const target = steps[Math.floor(steps.length / 2)];
    const mark = page
      .locator(`[data-testid="timeline-svg"] [data-mark="exit"][data-step="${target}"] path`)
      .first();
    await mark.click({ force: true });
    await waitForStep(page, target);

    // The label of another (where there is room for one).
    const labels = page.locator(
      '[data-testid="timeline-svg"] [data-mark="exit"]:has([data-testid="exit-label"])',
    );
    if (width === 1280) expect(await labels.count()).toBeGreaterThan(0);
    if ((await labels.count()) > 0) {
      const labelled = labels.first();
      const step = Number(await labelled.getAttribute('data-step'));
      await page.keyboard.press('Home');
      await labelled.getByTestId('exit-label').click({ force: true });
      await waitForStep(page, step);
      expect(await currentStep(page)).toBe(step);
    }
  }
});

test('canvas hit-testing: a click on a density bar selects the event that bar stands for', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await page.goto(denseLink('&step=1&zoom=100000-160000'));
  await waitForStep(page, 1);
  await expect
    .poll(async () => (await page.getByTestId('timeline-canvas').getAttribute('data-bars')) ?? '')
    .toMatch(/[1-9]/);
  const lane0 = (await page.getByTestId('timeline-lane').first().boundingBox())!;
  const svg = (await page.getByTestId('timeline-svg').boundingBox())!;
  const x = svg.x + svg.width * 0.5;
  await page.mouse.click(x, lane0.y + lane0.height / 2);
  await expect
    .poll(() =>
      page.evaluate(() => (window as unknown as { __nestlab: Lab }).__nestlab.store.getState().view?.step),
    )
    .not.toBe(1);
  const step = await currentStep(page);
  const event = await page.evaluate(
    async (n) => (await (window as unknown as { __nestlab: Lab }).__nestlab.client.view(n)).event,
    step,
  );
  // A mark of L0 (KVM's decisions, exits as seen from the host), not an instruction.
  expect(event?.level).toBe(0);
  expect(event?.kind).not.toBe('instruction');
  // Where the playhead went is where the click was (within the 4-px slop).
  const head = (await page.getByTestId('playhead-line').boundingBox())!;
  expect(Math.abs(head.x - x)).toBeLessThan(5);
});

test('labels stay inside the timeline at 1024, 1280 and 1920 px; numbers have separators, cycles show time', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await page.goto(denseLink('&step=1'));
  await waitForStep(page, 1);
  for (const [width, height] of [
    [1024, 768],
    [1280, 800],
    [1920, 1080],
  ]) {
    await page.setViewportSize({ width, height });
    for (const axis of ['step', 'cycles']) {
      await page.getByTestId(`timeline-axis-${axis}`).click();
      const svg = (await page.getByTestId('timeline-svg').boundingBox())!;
      const labels = page.locator('[data-testid="timeline-svg"] text');
      await expect(labels.first()).toBeVisible();
      for (const box of await labels.evaluateAll((els) =>
        els.map((e) => {
          const r = e.getBoundingClientRect();
          return { left: r.left, right: r.right, text: e.textContent };
        }),
      )) {
        if (!box.text) continue;
        expect(box.left, `${box.text} at ${width}px`).toBeGreaterThanOrEqual(svg.x - 0.5);
        expect(box.right, `${box.text} at ${width}px`).toBeLessThanOrEqual(svg.x + svg.width + 0.5);
      }
      const texts = await page.locator('[data-testid="timeline-svg"] .axis-label').allTextContents();
      expect(texts.some((t) => /^\d{1,3}(,\d{3})+$/.test(t))).toBe(true);
      if (axis === 'cycles') {
        const times = await page.getByTestId('axis-time').allTextContents();
        expect(times.length).toBe(texts.length);
        // 2 GHz (features.tscHz's default): the last label is under the run's 8,215,783 cycles.
        expect(times.every((t) => /^\d+(\.\d+)? (ns|µs|ms|s)$/.test(t))).toBe(true);
        expect(times.some((t) => t.endsWith('ms'))).toBe(true);
      }
    }
  }
});
