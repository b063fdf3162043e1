// The help overlay: `?` (or the ? button) opens it, it lists every shortcut with its keys,
// Escape or Close shuts it.
import { expect, openLab, press, test } from './helpers/lab';

const SHORTCUTS: [string, string[]][] = [
  ['Step forward', ['→', 'l']],
  ['Step back', ['←', 'h']],
  ['Play / pause', ['Space']],
  ['Jump to start', ['Home']],
  ['Jump to end', ['End']],
  ['Next delivery', ['n']],
  ['Previous delivery', ['N']],
  ['Faster', ['+']],
  ['Slower', ['-']],
  ['Keyboard shortcuts', ['?']],
  ['Edit the scenario', ['e']],
  ['Go to a step or time, search the trace', ['Ctrl+K']],
  ['Next search result', [']']],
  ['Previous search result', ['[']],
  ['Close the help or the palette', ['Esc']],
];

test('? opens the list of shortcuts; Escape and Close shut it', async ({ page }) => {
  await openLab(page);
  const help = page.getByTestId('help-overlay');
  await expect(help).toHaveCount(0);

  await press(page, '?');
  await expect(help).toBeVisible();
  await expect(help.getByRole('heading', { name: 'Keyboard shortcuts' })).toBeVisible();
  const rows = help.locator('tr');
  for (const [label, keys] of SHORTCUTS) {
    const row = rows.filter({ has: page.getByRole('cell', { name: label, exact: true }) });
    await expect(row, label).toHaveCount(1);
    await expect(row.locator('kbd')).toHaveText(keys);
  }
  const run = rows.filter({ hasText: 'Run the edited scenario' });
  await expect(run.locator('kbd')).toHaveText(['Ctrl', 'Enter']);

  await press(page, 'Escape');
  await expect(help).toHaveCount(0);

  // The ? button opens it too; Close shuts it.
  await page.getByTestId('help-button').click();
  await expect(help).toBeVisible();
  await help.getByRole('button', { name: 'Close' }).click();
  await expect(help).toHaveCount(0);

  // The transport buttons' tooltips name the same keys.
  await expect(page.getByTestId('btn-step-forward')).toHaveAttribute('title', 'Step forward (→ / l)');
  await expect(page.getByTestId('btn-next-delivery')).toHaveAttribute('title', 'Next delivery (n)');
});
