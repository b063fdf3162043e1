// Picking a built-in in the picker and flipping its parameters: the run on screen changes,
// and it is the run the command line makes with the same `--set`.
import { writeFileSync } from 'node:fs';
import { nestUnderKvm } from '../../src/core/scenario/nest';
import {
  blur,
  expect,
  expectPanelToShow,
  openLab,
  pickScenario,
  press,
  test,
  waitForStep,
} from './helpers/lab';
import { cliTrace, cliView, stepsOf, type Trace } from './helpers/oracle';

/**
 * Where toggling a variant lands (docs/links.md "Toggling a variant"): the event of the same
 * kind and order in the other run, or the last of that kind when it has fewer.
 */
function sameEventStep(from: Trace, step: number, to: Trace): number {
  const kind = from.events[step - 1].kind;
  const ordinal = stepsOf(from, kind).indexOf(step);
  const there = stepsOf(to, kind);
  return there[Math.min(ordinal, there.length - 1)];
}

test('sti-hlt-shadow: turning `gap` on lets the IRQ in before HLT, and the assertion fails', async ({
  page,
}) => {
  const [plain, gap] = await Promise.all([
    cliTrace('sti-hlt-shadow'),
    cliTrace('sti-hlt-shadow', { gap: true }),
  ]);
  const d = stepsOf(plain, 'delivery')[0];
  // The premise, from the CLI: the first delivery is at the same step both ways, but only
  // without the gap does it wake HLT.
  expect(stepsOf(gap, 'delivery')[0]).toBe(d);
  const viewsReady = Promise.all([
    cliView('sti-hlt-shadow', d),
    cliView('sti-hlt-shadow', d, { gap: true }),
    cliView('sti-hlt-shadow', gap.totalSteps, { gap: true }),
  ]);

  await openLab(page);
  const toggle = page.getByTestId('param-gap');
  await expect(toggle).toHaveAttribute('aria-checked', 'false');
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${plain.totalSteps}`);
  await expect(page.getByTestId('assertion')).toHaveCount(1);
  await expect(page.getByTestId('assertion')).toHaveAttribute('data-passed', 'true');
  const inactiveBefore = await page.locator('[data-testid="source-view"] [data-inactive="true"]').count();

  const [atD, atDgap, endGap] = await viewsReady;
  await press(page, 'n');
  await waitForStep(page, d);
  await expectPanelToShow(page, atD);
  await expect(page.getByTestId('explanation-text')).toContainText('leaves HLT');

  await toggle.click();
  await blur(page);
  await expect(toggle).toHaveAttribute('aria-checked', 'true');
  // The new run: longer, on the same event (the first delivery, at the same step), now taken
  // while active, before HLT.
  await expect(page.getByTestId('step-counter')).toHaveText(`step ${d} / ${gap.totalSteps}`);
  await waitForStep(page, d);
  await expectPanelToShow(page, atDgap);
  await expect(page.getByTestId('explanation-text')).not.toContainText('leaves HLT');
  expect(atDgap.levels[0].cpu.activity).toBe('active');
  await expect(page.getByTestId('assertion')).toHaveAttribute('data-passed', 'false');
  await expect(page.getByTestId('assertions')).toContainText('1 failed');
  // The other branch of `.if gap` is now the one dimmed.
  const inactiveAfter = await page.locator('[data-testid="source-view"] [data-inactive="true"]').count();
  expect(inactiveAfter).not.toBe(inactiveBefore);
  // Two deliveries on the timeline now, as in the CLI's trace.
  await expect(page.locator('[data-testid="timeline-svg"] [data-mark="delivery"]')).toHaveCount(
    stepsOf(gap, 'delivery').length,
  );

  await press(page, 'End');
  await waitForStep(page, gap.totalSteps);
  await expectPanelToShow(page, endGap);

  // And back off: the first run again, on the same event (the final HLT, an instruction
  // earlier in this run), not the same step number.
  const back = sameEventStep(gap, gap.totalSteps, plain);
  expect(gap.events[gap.totalSteps - 1].kind).toBe('instruction');
  expect(back).toBeLessThan(plain.totalSteps);
  await toggle.click();
  await blur(page);
  await expect(page.getByTestId('step-counter')).toHaveText(`step ${back} / ${plain.totalSteps}`);
  await expect(page.getByTestId('assertion')).toHaveAttribute('data-passed', 'true');
});

test('pick apic-priority in the picker, then TPR=0 lets every class in and its first assertion fails', async ({
  page,
}) => {
  const [dflt, tpr0] = await Promise.all([cliTrace('apic-priority'), cliTrace('apic-priority', { tpr: 0 })]);
  const first = stepsOf(tpr0, 'delivery')[0];
  const viewReady = cliView('apic-priority', first, { tpr: 0 });

  await openLab(page);
  await pickScenario(page, 'apic-priority', dflt.totalSteps);
  await expect(page.getByTestId('scenario-picker')).toHaveValue('apic-priority');
  // Its parameters replace the previous scenario's.
  await expect(page.getByTestId('param-gap')).toHaveCount(0);
  await expect(page.getByTestId('param-tpr')).toHaveValue(String(dflt.params.tpr));
  await expect(page.getByTestId('param-forget_eoi')).toHaveAttribute('aria-checked', 'false');
  await expect(page.getByTestId('assertion')).toHaveCount(dflt.assertions.length);

  await page.getByTestId('param-tpr').selectOption('0');
  await blur(page);
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${tpr0.totalSteps}`);
  await expect(page.getByTestId('param-tpr')).toHaveValue('0');
  const failed = tpr0.assertions.filter((a) => !a.passed).length;
  await expect(page.locator('[data-testid="assertion"][data-passed="false"]')).toHaveCount(failed);
  expect(failed).toBeGreaterThan(0);

  await press(page, 'n');
  await waitForStep(page, first);
  await expectPanelToShow(page, await viewReady);
});

test('kut-intr-window: the assert on the VMfail path the run never took is listed last, as never run', async ({
  page,
}) => {
  const trace = await cliTrace('kut-intr-window');
  expect(trace.assertionsNotReached.length).toBeGreaterThan(0);

  await openLab(page);
  await pickScenario(page, 'kut-intr-window', trace.totalSteps);
  await expect(page.getByTestId('assertion')).toHaveCount(trace.assertions.length);
  await expect(page.getByTestId('assertions-not-reached')).toHaveText(
    `${trace.assertionsNotReached.length} never run`,
  );
  const never = page.getByTestId('assertion-not-reached');
  await expect(never).toHaveCount(trace.assertionsNotReached.length);
  const first = trace.assertionsNotReached[0];
  await expect(never.first()).toContainText(first.message);
  await expect(never.first()).toContainText(`L${first.level}:${first.line} · never run`);
});

test('immediate-exit: l2_loop outside its range is refused with its name, and the run on screen stays', async ({
  page,
}) => {
  const trace = await cliTrace('immediate-exit');
  await openLab(page);
  await pickScenario(page, 'immediate-exit', trace.totalSteps);
  const field = page.getByTestId('param-l2_loop');
  await expect(field).toHaveValue(String(trace.params.l2_loop));
  await field.fill('0');
  await field.press('Enter');
  await expect(page.getByTestId('editor-error')).toContainText(
    "parameter 'l2_loop' must be from 1 to 5000; got 0",
  );
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${trace.totalSteps}`);
  await expect(page.getByTestId('assertion')).toHaveCount(trace.assertions.length);
});

test('kut-intr-window put under KVM in the editor: the run ends before tests_done, shown as a failure', async ({
  page,
}, testInfo) => {
  const bare = await cliTrace('kut-intr-window');
  await openLab(page);
  await pickScenario(page, 'kut-intr-window', bare.totalSteps);
  await expect(page.getByTestId('assertion-end-missed')).toHaveCount(0);

  await page.getByTestId('tab-editor').click();
  const editor = page.getByTestId('editor-textarea');
  const nested = JSON.stringify(nestUnderKvm(JSON.parse(await editor.inputValue())), null, 2);
  const file = testInfo.outputPath('kut-intr-window-under-kvm.json');
  writeFileSync(file, nested);
  const trace = await cliTrace(file);
  expect(trace.expectedEnd).toMatchObject({ level: 1, label: 'tests_done', reached: false });

  await editor.fill(nested);
  await editor.press('Control+Enter');
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${trace.totalSteps}`);
  await expect(page.getByTestId('assertions-end-missed')).toHaveText('end not reached');
  await expect(page.getByTestId('assertion-end-missed')).toContainText(
    `the run ended at step ${trace.totalSteps} before reaching tests_done`,
  );
  await expect(page.getByTestId('assertion-end-missed')).toContainText(
    `L1:${trace.expectedEnd!.line} · never run`,
  );
  await expect(page.locator('[data-testid="assertion"][data-passed="false"]')).toHaveCount(0);
});

test('a skip typed into the program is listed as skipped, neither passed nor failed', async ({
  page,
}, testInfo) => {
  await openLab(page);
  await page.getByTestId('tab-editor').click();
  const editor = page.getByTestId('editor-textarea');
  const doc = JSON.parse(await editor.inputValue()) as { levels: { program: string[] }[] };
  const program = doc.levels[0].program;
  const start = program.findIndex((l) => /^start:/.test(l));
  expect(start).toBeGreaterThanOrEqual(0);
  program.splice(start + 1, 0, '        skip "this check does not apply here"');
  const text = JSON.stringify(doc, null, 2);
  const file = testInfo.outputPath('with-skip.json');
  writeFileSync(file, text);
  const trace = await cliTrace(file);
  const skips = trace.assertions.filter((a) => a.skipped);
  expect(skips).toHaveLength(1);

  await editor.fill(text);
  await editor.press('Control+Enter');
  await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${trace.totalSteps}`);
  await expect(page.getByTestId('assertions-skipped')).toHaveText('1 skipped');
  const row = page.locator('[data-testid="assertion"][data-skipped="true"]');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('skipped: this check does not apply here');
  await expect(row).toContainText(`L0:${skips[0].line} · step ${skips[0].step}`);
});

// Issue 11 item 8: at 1024x768 a scenario with many parameters wraps them onto a second row
// of the top bar instead of hiding the last ones behind a scroll.
for (const name of ['soft-vnmi', 'immediate-exit']) {
  test(`every parameter of ${name} is in view at 1024x768`, async ({ page }) => {
    await page.setViewportSize({ width: 1024, height: 768 });
    await openLab(page, `/#v=1&builtin=${name}`);
    const group = page.getByRole('group', { name: 'Scenario parameters' });
    const controls = group.locator('[data-testid^="param-"]');
    expect(await controls.count()).toBeGreaterThanOrEqual(4);
    const frame = (await group.boundingBox())!;
    for (const box of await controls.evaluateAll((els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect();
        return {
          id: e.getAttribute('data-testid'),
          left: r.left,
          right: r.right,
          top: r.top,
          bottom: r.bottom,
        };
      }),
    )) {
      expect(box.left, box.id!).toBeGreaterThanOrEqual(frame.x - 0.5);
      expect(box.right, box.id!).toBeLessThanOrEqual(Math.min(1024, frame.x + frame.width) + 0.5);
      expect(box.bottom, box.id!).toBeLessThanOrEqual(frame.y + frame.height + 0.5);
    }
    // The bar's buttons stay in view beside them.
    const share = (await page.getByTestId('share-button').boundingBox())!;
    expect(share.x + share.width).toBeLessThanOrEqual(1024);
  });
}
