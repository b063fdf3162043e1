// Editing the scenario: change the program and its events in the editor tab, run it (the
// button and Ctrl+Enter) and step through the new run, which is the run the CLI makes of the
// same document; a program error and a JSON error are shown in place with their line and
// column while the last good run stays navigable; the edit survives a reload.
import { writeFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { blur, expect, expectPanelToShow, openLab, press, test, waitForStep } from './helpers/lab';
import type { StepView } from '../../src/core/engine/view';
import { cliError, cliTrace, cliView, stepsOf, type Trace } from './helpers/oracle';

type Doc = { levels: { program: string[] }[]; events: { irq?: number }[] };

/** 1-based line and column of a character offset in a text. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** The CLI's run of a scenario file: its trace and the view of its first delivery. */
async function firstDelivery(file: string): Promise<{ trace: Trace; view: StepView }> {
  const trace = await cliTrace(file);
  return { trace, view: await cliView(file, stepsOf(trace, 'delivery')[0]) };
}

/** Looks at the Program tab and checks that the run on screen is the CLI's `run`. */
async function expectRunOf(page: Page, run: { trace: Trace; view: StepView }, label: string) {
  await page.getByTestId('tab-source').click();
  await blur(page);
  const { trace, view } = run;
  const d = view.step;
  await expect(page.getByTestId('step-counter')).toHaveText(new RegExp(`^step \\d+ / ${trace.totalSteps}$`));
  await press(page, 'Home');
  await waitForStep(page, 0);
  await press(page, 'n');
  await waitForStep(page, d);
  await expectPanelToShow(page, view, `${label}: the first delivery is the CLI's`);
  return { trace, view };
}

async function openEditor(page: Page) {
  await page.getByTestId('tab-editor').click();
  await expect(page.getByTestId('editor-textarea')).toBeVisible();
}

test('edit, run, see errors in place, keep the edit over a reload', async ({ page }, testInfo) => {
  await openLab(page);
  await page.getByTestId('tab-editor').click();
  const editor = page.getByTestId('editor-textarea');
  await expect(editor).toBeVisible();
  await expect(page.getByTestId('editor-status')).toHaveText('as loaded');
  const original = await editor.inputValue();
  const doc = JSON.parse(original) as Doc;
  expect(JSON.stringify(doc, null, 2)).toBe(original);
  const picked = page.getByTestId('scenario-picker').locator('option:checked');

  // The documents of the four edits, written out for the CLI, which starts on them at once.
  const file = (name: string, text: string) => {
    const path = testInfo.outputPath(name);
    writeFileSync(path, text);
    return path;
  };
  // 1. The timer on vector 0x40 instead of 0x20: its IDT gate and both IRQs.
  const program = doc.levels[0].program;
  const gate = program.findIndex((l) => l.includes('.intgate 0x20, timer'));
  expect(gate).toBeGreaterThanOrEqual(0);
  program[gate] = program[gate].replace('0x20', '0x40');
  for (const e of doc.events) if (e.irq === 0x20) e.irq = 0x40;
  const text1 = JSON.stringify(doc, null, 2);
  const file1 = file('vector-0x40.json', text1);
  // 2. One more instruction in the handler.
  const timer = program.findIndex((l) => l.startsWith('timer:'));
  program.splice(timer + 1, 0, '        nop');
  const text2 = JSON.stringify(doc, null, 2);
  const file2 = file('with-nop.json', text2);
  // 3. An unknown instruction.
  const broken = structuredClone(doc);
  const cliLine = broken.levels[0].program.findIndex((l) => l.trim() === 'cli');
  broken.levels[0].program[cliLine] = broken.levels[0].program[cliLine].replace('cli', 'clix');
  const text3 = JSON.stringify(broken, null, 2);
  const file3 = file('unknown-instruction.json', text3);
  const where = `L0 line ${cliLine + 1}, column ${broken.levels[0].program[cliLine].indexOf('clix') + 1}`;
  // 4. A JSON syntax error: a comma taken out; it is found at the next token.
  const comma = text2.indexOf('"version": 1,') + '"version": 1'.length;
  const text4 = text2.slice(0, comma) + text2.slice(comma + 1);
  const at = lineColumn(text4, comma + /\S/.exec(text4.slice(comma))!.index);
  const file4 = file('json-error.json', text4);
  const oracle = {
    run1: firstDelivery(file1),
    run2: firstDelivery(file2),
    error3: cliError(file3),
    error4: cliError(file4),
    builtin: cliTrace('sti-hlt-shadow'),
  };

  await test.step('1. Run button: the timer on vector 0x40', async () => {
    await editor.fill(text1);
    await expect(page.getByTestId('editor-status')).toHaveText(/^edited/);
    await page.getByTestId('run-button').click();
    await expect(picked).toHaveText(/^Custom: /);
    const { view } = await expectRunOf(page, await oracle.run1, 'vector 0x40');
    expect(view.event?.data.vector).toBe(0x40);
    await expect(page.getByTestId('event-chip')).toContainText('vector 0x40');
    await expect(
      page.getByTestId('level-0').getByTestId('apic-isr').locator('[data-vector]'),
    ).toHaveAttribute('data-vector', '64');
  });

  const run2 = await oracle.run2;
  await test.step('2. Ctrl+Enter: one more instruction, one more step', async () => {
    expect(run2.trace.totalSteps).toBe((await oracle.run1).trace.totalSteps + 1);
    await openEditor(page);
    await editor.fill(text2);
    await editor.press('Control+Enter');
    await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${run2.trace.totalSteps}`);
    await expectRunOf(page, run2, 'with a NOP');
    await expect(page.getByTestId('editor-error')).toHaveCount(0);
  });

  const error = page.getByTestId('editor-error');
  await test.step('3. an unknown instruction: a program error at its line and column', async () => {
    expect(await oracle.error3).toContain(`program error at ${where}: unknown instruction 'clix'`);
    const before = cliView(file2, run2.view.step - 1);
    await openEditor(page);
    await editor.fill(text3);
    await page.getByTestId('run-button').click();
    await expect(error).toBeVisible();
    await expect(error).toHaveAttribute('data-kind', 'program');
    await expect(error).toContainText(where);
    await expect(error).toContainText("unknown instruction 'clix'");
    const editorLine = text3.split('\n').findIndex((l) => l.includes('"        clix"')) + 1;
    await expect(page.getByTestId('editor-error-line')).toHaveText(String(editorLine));
    await expect(editor).toHaveValue(text3);
    // The last good run is still the one on screen, and it still steps.
    await expect(page.getByTestId('step-counter')).toHaveText(
      `step ${run2.view.step} / ${run2.trace.totalSteps}`,
    );
    await page.getByTestId('tab-source').click();
    await blur(page);
    await press(page, 'ArrowLeft');
    await waitForStep(page, run2.view.step - 1);
    await expectPanelToShow(page, await before);
  });

  await test.step('4. a JSON error, named by line and column as the CLI names it', async () => {
    expect(await oracle.error4).toContain(`scenario error at line ${at.line}, column ${at.column}`);
    await openEditor(page);
    await editor.fill(text4);
    await editor.press('Control+Enter');
    await expect(error).toHaveAttribute('data-kind', 'scenario');
    await expect(error).toContainText(`line ${at.line}, column ${at.column}`);
    await expect(page.getByTestId('editor-error-line')).toHaveText(String(at.line));
    await page.getByTestId('tab-source').click();
    await blur(page);
    await press(page, 'ArrowRight');
    await waitForStep(page, run2.view.step);
    await expectPanelToShow(page, run2.view);
  });

  await test.step('5. reload: the broken text and its error are back; its built-in runs', async () => {
    await page.reload();
    await expect(page.getByTestId('step-counter')).toHaveText(
      `step 0 / ${(await oracle.builtin).totalSteps}`,
    );
    await expect(editor).toHaveValue(text4);
    await expect(error).toHaveAttribute('data-kind', 'scenario');
    await expect(error).toContainText(`line ${at.line}, column ${at.column}`);
  });

  await test.step('6. fixed, run and reloaded: the edited run comes back', async () => {
    await editor.fill(text2);
    await editor.press('Control+Enter');
    await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${run2.trace.totalSteps}`);
    await expect(error).toHaveCount(0);
    await page.reload();
    await expect(page.getByTestId('step-counter')).toHaveText(`step 0 / ${run2.trace.totalSteps}`);
    await expect(picked).toHaveText(/^Custom: /);
    await openEditor(page);
    await expect(editor).toHaveValue(text2);
    await expect(error).toHaveCount(0);
    await expectRunOf(page, run2, 'after the reload');
  });
});
