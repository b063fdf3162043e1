// Full-page screenshots of the lab at an interesting step (nmi-blocking at its second NMI
// delivery), at the two window sizes the layout is made for. Saved under
// test-results/screenshots/ and attached to the report; a person looks at them.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cliTrace, cliView, REPO, stepsOf } from './helpers/oracle';
import { expect, expectPanelToShow, openLab, pickScenario, press, test, waitForStep } from './helpers/lab';

const DIR = join(REPO, 'test-results', 'screenshots');

for (const size of [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
]) {
  test(`screenshot at ${size.width}x${size.height}: nmi-blocking at the second NMI delivery`, async ({
    page,
  }, testInfo) => {
    const trace = await cliTrace('nmi-blocking');
    const nmiDeliveries = stepsOf(trace, 'delivery', (e) => e.data.type === 2);
    expect(nmiDeliveries.length).toBeGreaterThanOrEqual(2);
    const target = nmiDeliveries[1];
    const view = await cliView('nmi-blocking', target);

    await page.setViewportSize(size);
    await openLab(page);
    await pickScenario(page, 'nmi-blocking', trace.totalSteps);
    // n goes delivery by delivery: the interrupt, the first NMI, the second NMI.
    const deliveries = stepsOf(trace, 'delivery');
    await press(page, 'n', deliveries.indexOf(target) + 1);
    await waitForStep(page, target);
    await expectPanelToShow(page, view);
    // The comparison basis (step - 1) has arrived: the changed fields are highlighted.
    await expect(page.getByTestId('level-0').getByTestId('rip')).toHaveAttribute('data-changed', 'true');
    await expect(page.getByTestId('assertion')).toHaveCount(trace.assertions.length);

    mkdirSync(DIR, { recursive: true });
    const path = join(DIR, `nmi-blocking-step${target}-${size.width}x${size.height}.png`);
    await page.screenshot({ path, fullPage: true });
    await testInfo.attach(`nmi-blocking step ${target} at ${size.width}x${size.height}`, {
      path,
      contentType: 'image/png',
    });
  });
}
