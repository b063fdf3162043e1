// The simulation worker dies (the test hook throws inside it): the page says so, the client
// restarts the worker with the scenario on screen, and stepping goes on where it was.
import { expect, expectPanelToShow, openLab, pickScenario, press, test, waitForStep } from './helpers/lab';
import { cliTrace, cliViews, stepsOf } from './helpers/oracle';

test('after a worker crash the banner shows, and the same run steps on', async ({ page, pageProblems }) => {
  // The deliberate crash is reported by the browser as an uncaught error in the worker.
  pageProblems.allow(/deliberate crash \(test hook\)/);
  const params = { extra_nmi: true };
  const trace = await cliTrace('nmi-blocking', params);
  const plainTotal = (await cliTrace('nmi-blocking')).totalSteps;
  const d = stepsOf(trace, 'delivery')[1];
  const viewsReady = cliViews('nmi-blocking', [d, d + 1, d + 2], params);

  await openLab(page);
  await pickScenario(page, 'nmi-blocking', plainTotal);
  await page.getByTestId('param-extra_nmi').click();
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${trace.totalSteps}`);
  await press(page, 'n', 2);
  await waitForStep(page, d);
  const [atD, next, after] = await viewsReady;
  await expectPanelToShow(page, atD);

  await page.evaluate(() => {
    void window.__nestlab!.client.crash().catch(() => {});
  });
  const banner = page.getByTestId('crash-banner');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('The simulation worker crashed');
  await expect(banner).toContainText('restarted');

  // Same place, same run (with its parameter): the restarted worker replayed the load.
  await expect(page.getByTestId('step-counter')).toHaveText(`step ${d} / ${trace.totalSteps}`);
  await expectPanelToShow(page, atD);
  await press(page, 'ArrowRight');
  await waitForStep(page, d + 1);
  await expectPanelToShow(page, next);
  await page.getByTestId('btn-step-forward').click();
  await waitForStep(page, d + 2);
  await expectPanelToShow(page, after);
  await press(page, 'End');
  await waitForStep(page, trace.totalSteps);

  // The banner can be dismissed.
  await banner.getByRole('button', { name: 'Dismiss' }).click();
  await expect(banner).toHaveCount(0);
});
