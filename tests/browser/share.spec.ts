// Sharing: the address holds the scenario (with the user's edit) as `s=` (docs/links.md);
// "Copy link" copies it; that URL, opened in a fresh browser (nothing saved), loads the same
// scenario and the same run.
import { writeFileSync } from 'node:fs';
import {
  blur,
  expect,
  expectPanelToShow,
  openLab,
  PageProblems,
  pickScenario,
  press,
  test,
  waitForStep,
} from './helpers/lab';
import { cliTrace, cliView, stepsOf } from './helpers/oracle';

test('Share puts the edited scenario in the URL, and the URL opens it elsewhere', async ({
  page,
  browser,
}, testInfo) => {
  // nmi-blocking with its third NMI turned on, then edited: the second NMI raised later.
  const base = await cliTrace('nmi-blocking', { extra_nmi: true });
  await openLab(page);
  await pickScenario(page, 'nmi-blocking', (await cliTrace('nmi-blocking')).totalSteps);
  await page.getByTestId('param-extra_nmi').click();
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${base.totalSteps}`);

  await page.getByTestId('tab-editor').click();
  const editor = page.getByTestId('editor-textarea');
  const loaded = await editor.inputValue();
  const doc = JSON.parse(loaded) as { events: { at: { time?: number | string } }[] };
  const later = doc.events.find((e) => e.at.time === 3500);
  expect(later, 'the second NMI is raised at 3500 cycles').toBeTruthy();
  later!.at.time = 4500;
  const edited = JSON.stringify(doc, null, 2);
  const path = testInfo.outputPath('shared.json');
  writeFileSync(path, edited);
  const trace = await cliTrace(path);
  const d = stepsOf(trace, 'delivery', (e) => e.data.type === 2)[1];
  const viewReady = cliView(path, d);

  await editor.fill(edited);
  await page.getByTestId('run-button').click();
  await expect(page.getByTestId('scenario-picker').locator('option:checked')).toHaveText(/^Custom: /);
  await page.getByTestId('share-button').click();
  await expect(page.getByTestId('notice')).toContainText('address bar');
  await expect.poll(() => page.url()).toMatch(/#v=1&s=[\w-]+&step=0$/);
  const url = page.url();

  // A fresh browser: no draft in its storage, so only the URL can bring the edit.
  const context = await browser.newContext();
  const problems = new PageProblems(context);
  const other = await context.newPage();
  try {
    await openLab(other, url);
    await expect(other.getByTestId('scenario-picker').locator('option:checked')).toHaveText(/^Custom: /);
    await expect(other.getByTestId('step-counter')).toHaveText(`step 0 / ${trace.totalSteps}`);
    await other.getByTestId('tab-editor').click();
    const shared = JSON.parse(await other.getByTestId('editor-textarea').inputValue()) as typeof doc;
    expect(shared).toEqual(JSON.parse(edited));
    await other.getByTestId('tab-source').click();
    await blur(other);
    await press(other, 'n', stepsOf(trace, 'delivery').indexOf(d) + 1);
    await waitForStep(other, d);
    await expectPanelToShow(other, await viewReady);
    expect(problems.unexpected()).toEqual([]);
  } finally {
    await context.close();
  }
});

// The address follows the scenario on screen: after a copied link, moving on to another
// built-in names that one, so a reload shows it, not the old link.
test('after Copy link, picking another built-in and reloading shows that built-in', async ({ page }) => {
  const [nmi, apic] = await Promise.all([cliTrace('nmi-blocking'), cliTrace('apic-priority')]);
  await openLab(page);
  await pickScenario(page, 'nmi-blocking', nmi.totalSteps);
  await page.getByTestId('share-button').click();
  await expect.poll(() => page.url()).toContain('#v=1&builtin=nmi-blocking&step=0');
  await pickScenario(page, 'apic-priority', apic.totalSteps);
  await expect.poll(() => page.url()).toContain('#v=1&builtin=apic-priority&step=0');

  await page.reload();
  await expect(page.getByTestId('step-counter')).toHaveText(/^step 0 \/ \d+$/);
  await expect(page.getByTestId('scenario-picker')).toHaveValue('apic-priority', { timeout: 2_000 });
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${apic.totalSteps}`);
});
