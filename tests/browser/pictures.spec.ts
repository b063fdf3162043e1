// Trace → "Picture of …": the timeline as PNG and a VMCS panel as SVG, downloaded; the PNG is a
// real image of the timeline's size, the SVG holds the panel's text.
import { readFileSync } from 'node:fs';
import { expect, openLab, pickScenario, press, test } from './helpers/lab';
import { cliTrace } from './helpers/oracle';

test('saves the timeline as PNG and the VMCS panel as SVG', async ({ page }) => {
  const trace = await cliTrace('soft-vnmi');
  await openLab(page);
  await pickScenario(page, 'soft-vnmi', trace.totalSteps);
  await press(page, 'ArrowRight', 6);
  const timeline = (await page.locator('section.timeline').boundingBox())!;

  await page.getByTestId('trace-menu').click();
  await expect(page.getByTestId('picture-target')).toHaveValue(/p\d+/);
  const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('picture-png').click()]);
  expect(png.suggestedFilename()).toBe('soft-vnmi-timeline-step6.png');
  const bytes = readFileSync((await png.path())!);
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  // IHDR: width and height at offsets 16 and 20, in device pixels (ratio 1 here).
  expect(bytes.readUInt32BE(16)).toBe(Math.round(timeline.width));
  expect(bytes.readUInt32BE(20)).toBe(Math.round(timeline.height));
  // The menu closed before the picture was taken.
  await expect(page.getByTestId('picture-target')).toHaveCount(0);

  await page.getByTestId('trace-menu').click();
  const select = page.getByTestId('picture-target');
  const vmcsOption = await select.locator('option', { hasText: 'VMCS panel vmcs01' }).getAttribute('value');
  await select.selectOption(vmcsOption!);
  const [svg] = await Promise.all([page.waitForEvent('download'), page.getByTestId('picture-svg').click()]);
  expect(svg.suggestedFilename()).toBe('soft-vnmi-vmcs-panel-vmcs01-step6.svg');
  const text = readFileSync((await svg.path())!, 'utf8');
  expect(text).toContain('<svg');
  expect(text).toContain('foreignObject');
  expect(text).toContain('GUEST_INTERRUPTIBILITY_INFO');
});

test('the timeline as SVG: its lanes and labels keep their colours (the page stylesheet is not in the picture)', async ({
  page,
}) => {
  await openLab(page);
  await page.getByTestId('trace-menu').click();
  const [svg] = await Promise.all([page.waitForEvent('download'), page.getByTestId('picture-svg').click()]);
  const text = readFileSync((await svg.path())!, 'utf8');
  const label = /<text class="lane-label"[^>]*style="([^"]*)"/.exec(text);
  expect(label, 'a lane label with its style inlined').not.toBeNull();
  expect(label![1]).toMatch(/fill:\s*rgb\(/);
  expect(label![1]).not.toMatch(/fill:\s*rgb\(0, 0, 0\)/);
  // The page's own elements got their style attributes back.
  expect(await page.locator('text.lane-label').first().getAttribute('style')).toBeNull();
});
