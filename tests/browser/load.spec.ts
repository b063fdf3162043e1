// Opening the lab: the first built-in is loaded at step 0, its program is on screen, and the
// page says what the command line says about step 0. No console or page errors (the fixture).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, expectPanelToShow, openLab, test } from './helpers/lab';
import { cliList, cliTrace, cliView, REPO } from './helpers/oracle';

test('the lab opens on the first built-in at step 0, with its program shown', async ({ page }) => {
  const names = await cliList();
  expect(names).toEqual(expect.arrayContaining(['sti-hlt-shadow', 'nmi-blocking', 'apic-priority']));
  const first = names[0];
  const [trace, view0] = await Promise.all([cliTrace(first), cliView(first, 0)]);

  await openLab(page);

  await expect(page.getByTestId('scenario-picker')).toHaveValue(first);
  const options = await page
    .getByTestId('scenario-picker')
    .locator('option')
    .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(options).toEqual(names);
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${trace.totalSteps}`);
  await expectPanelToShow(page, view0);

  // The program, line for line, with the STI;HLT variant shown and the `gap` one dimmed.
  const doc = JSON.parse(readFileSync(join(REPO, 'src/core/scenario/builtins', `${first}.json`), 'utf8')) as {
    levels: { program: string[] }[];
  };
  const program = doc.levels[0].program;
  const lines = page.getByTestId('source-view').locator('[data-line]');
  await expect(lines).toHaveCount(program.length);
  const shown = await lines.evaluateAll((els) => els.map((e) => e.querySelector('code')?.textContent ?? ''));
  expect(shown.map((l) => l.trimEnd())).toEqual(program.map((l) => l.trimEnd()));
  const inactive = await page
    .getByTestId('source-view')
    .locator('[data-inactive="true"]')
    .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-line'))));
  const gapLines = program.flatMap((l, i) =>
    /^\s*nop\b|the interrupt was taken before HLT/.test(l) ? [i + 1] : [],
  );
  for (const n of gapLines) expect(inactive).toContain(n);
  await expect(page.getByTestId('source-view').locator('[data-current="true"]')).toHaveAttribute(
    'data-line',
    String(view0.levels[0].line),
  );

  // Step 0: nothing to step back to; the timeline has one lane per level.
  await expect(page.getByTestId('btn-step-back')).toBeDisabled();
  await expect(page.getByTestId('btn-start')).toBeDisabled();
  await expect(page.getByTestId('btn-step-forward')).toBeEnabled();
  await expect(page.getByTestId('timeline-lane')).toHaveCount(view0.levels.length);
  await expect(page.getByTestId('playhead')).toHaveAttribute('data-step', '0');
  await expect(page.getByTestId('assertions').getByTestId('assertion')).toHaveCount(trace.assertions.length);
});

test('the page names its icon and manifest, and both are served from the app itself', async ({ page }) => {
  await openLab(page);
  const icon = await page.locator('link[rel="icon"]').getAttribute('href');
  const manifestHref = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(icon).toBe('./icon.svg');
  const iconResponse = await page.request.get(new URL(icon!, page.url()).href);
  expect(iconResponse.ok()).toBe(true);
  expect(await iconResponse.text()).toContain('<svg');
  const manifestUrl = new URL(manifestHref!, page.url()).href;
  const manifest = (await (await page.request.get(manifestUrl)).json()) as {
    name: string;
    start_url: string;
    icons: { src: string; type: string }[];
  };
  expect(manifest.name).toMatch(/^nestlab/);
  expect(manifest.start_url).toBe('./');
  // Each icon the manifest lists resolves next to it.
  for (const i of manifest.icons) {
    expect((await page.request.get(new URL(i.src, manifestUrl).href)).ok()).toBe(true);
  }
});
