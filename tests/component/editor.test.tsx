// @vitest-environment jsdom
import { screen, waitFor, within } from '@testing-library/react';
import type { UserEvent } from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { hashForScenario } from '../../src/app/share';
import { DRAFTS_KEY, DRAFT_KEY, type DraftList } from '../../src/app/store/draft-storage';
import { FakeSimClient } from './fake-client';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

/** The draft on screen, as the storage holds it. */
function savedDraft() {
  const list = JSON.parse(localStorage.getItem(DRAFTS_KEY)!) as DraftList;
  return list.drafts.find((d) => d.id === list.current);
}

async function openEditor(user: UserEvent): Promise<HTMLTextAreaElement> {
  await user.click(screen.getByTestId('tab-editor'));
  return screen.getByTestId('editor-textarea') as HTMLTextAreaElement;
}

async function replaceText(user: UserEvent, textarea: HTMLTextAreaElement, text: string) {
  await user.clear(textarea);
  await user.click(textarea);
  await user.paste(text);
}

describe('scenario editor', () => {
  it('shows the loaded scenario document', async () => {
    const { user } = await renderApp();
    const textarea = await openEditor(user);
    expect(JSON.parse(textarea.value)).toMatchObject({
      name: 'irq-basics',
      levels: [{ name: 'L0 · bare metal' }],
    });
  });

  it('shows a program error in place, highlights its line, and keeps the previous run', async () => {
    const { user, store, client } = await renderApp();
    await user.keyboard('{ArrowRight}{ArrowRight}');
    await untilStep(store, 2);
    const textarea = await openEditor(user);
    const broken = textarea.value.replace('"    mov rax, 1"', '"    bogus rax, 1"');
    await replaceText(user, textarea, broken);
    await user.click(screen.getByTestId('run-button'));

    const error = await screen.findByTestId('editor-error');
    expect(error).toHaveAttribute('data-kind', 'program');
    expect(error).toHaveTextContent('Program error');
    expect(error).toHaveTextContent('L0 line 5, column 5');
    expect(error).toHaveTextContent("unknown instruction 'bogus'");
    expect(within(error).getByTestId('editor-error-source')).toHaveTextContent('bogus rax, 1');

    const expectedLine = broken.split('\n').findIndex((l) => l.includes('bogus')) + 1;
    expect(screen.getByTestId('editor-error-line')).toHaveTextContent(String(expectedLine));

    // The previous run is still on screen, at the same step.
    expect(client.callsOf('load').at(-1)?.args[0]).toEqual({ json: broken });
    expect(screen.getByTestId('step-counter')).toHaveTextContent('step 2 / 9');
    expect(screen.getByTestId('reg-rax')).toHaveTextContent('0x0000000000000001');
    expect(store.getState().info?.name).toBe('irq-basics');
  });

  it('places a JSON syntax error on its line and runs with Ctrl+Enter', async () => {
    const { user } = await renderApp();
    const textarea = await openEditor(user);
    await replaceText(user, textarea, '{\n  "name": "x",\n  oops\n}');
    await user.keyboard('{Control>}{Enter}{/Control}');
    const error = await screen.findByTestId('editor-error');
    expect(error).toHaveAttribute('data-kind', 'scenario');
    expect(error).toHaveTextContent(/line 3, column \d+/);
    expect(screen.getByTestId('editor-error-line')).toHaveTextContent('3');
  });

  it('runs an edited scenario, and the error goes away', async () => {
    const { user, store } = await renderApp();
    const textarea = await openEditor(user);
    const original = textarea.value;
    await replaceText(user, textarea, original.replace('"    mov rax, 1"', '"    bogus"'));
    await user.click(screen.getByTestId('run-button'));
    await screen.findByTestId('editor-error');

    await replaceText(user, textarea, original.replace('"irq-basics"', '"my-irq"'));
    await user.click(screen.getByTestId('run-button'));
    await waitFor(() => expect(screen.queryByTestId('editor-error')).toBeNull());
    await waitFor(() => expect(store.getState().info?.name).toBe('my-irq'));
    expect(screen.getByTestId('scenario-picker')).toHaveDisplayValue(/Custom/);
  });

  it('keeps the edited text across a remount, and resets to the built-in', async () => {
    const first = await renderApp();
    const textarea = await openEditor(first.user);
    const edited = textarea.value.replace('"irq-basics"', '"kept-after-reload"');
    await replaceText(first.user, textarea, edited);
    expect(savedDraft()).toMatchObject({ text: edited, edited: true });
    first.unmount();

    const second = await renderApp({ client: new FakeSimClient() });
    expect(second.client.callsOf('load')[0].args[0]).toEqual({ json: edited });
    const again = await openEditor(second.user);
    expect(again.value).toBe(edited);
    expect(screen.getByTestId('editor-status')).toHaveTextContent('edited');

    await second.user.click(screen.getByTestId('reset-button'));
    await waitFor(() =>
      expect((screen.getByTestId('editor-textarea') as HTMLTextAreaElement).value).toContain('"irq-basics"'),
    );
    expect(second.client.callsOf('load').at(-1)?.args[0]).toEqual({ builtin: 'irq-basics' });
    expect(savedDraft()).toMatchObject({ edited: false });
  });

  it('starts again on the built-in and parameters last chosen', async () => {
    const first = await renderApp();
    await first.user.click(screen.getByTestId('param-eoi'));
    await waitFor(() =>
      expect(first.store.getState().info?.params.find((p) => p.key === 'eoi')?.value).toBe(false),
    );
    first.unmount();

    const second = await renderApp({ client: new FakeSimClient() });
    expect(second.client.callsOf('load')[0].args[0]).toEqual({
      builtin: 'irq-basics',
      params: { eoi: false },
    });
    expect(screen.getByTestId('param-eoi')).toHaveAttribute('aria-checked', 'false');
  });

  it('falls back to the built-in when the saved draft (of the old single slot) does not load, and shows why', async () => {
    const draft = JSON.stringify({ version: 1, text: '{ broken', edited: true, origin: null });
    localStorage.setItem(DRAFT_KEY, draft);
    const { user } = await renderApp();
    expect(screen.getByTestId('editor-error')).toBeInTheDocument();
    expect((screen.getByTestId('editor-textarea') as HTMLTextAreaElement).value).toBe('{ broken');
    await user.click(screen.getByTestId('tab-source'));
    expect(screen.getByTestId('source-view')).toHaveTextContent('sti');
  });

  it('puts the place in the URL hash, and an old #s= link still loads its scenario', async () => {
    const first = await renderApp();
    await first.user.click(screen.getByTestId('share-button'));
    expect(window.location.hash).toBe('#v=1&builtin=irq-basics&step=0');
    first.unmount();
    localStorage.clear();

    const doc = JSON.stringify({
      name: 'from-a-link',
      title: 'From a link — ünïcode',
      levels: [{ program: ['nop'] }],
    });
    window.history.replaceState(null, '', hashForScenario(doc));
    const second = await renderApp({ client: new FakeSimClient() });
    expect(second.client.callsOf('load')[0].args[0]).toEqual({ json: doc });
    expect(second.store.getState().info?.title).toBe('From a link — ünïcode');
  });

  it('warns when the run stopped at a limit and keeps its steps navigable', async () => {
    const { user, store } = await renderApp();
    const textarea = await openEditor(user);
    const limited = JSON.stringify({ ...JSON.parse(textarea.value), limits: { steps: 5 } }, null, 2);
    await replaceText(user, textarea, limited);
    await user.click(screen.getByTestId('run-button'));
    const banner = await screen.findByTestId('run-error-banner');
    expect(banner).toHaveTextContent('step limit of 5 reached');
    await untilStep(store, 0);
    expect(screen.getByTestId('step-counter')).toHaveTextContent('step 0 / 5');
    await user.click(screen.getByTestId('btn-end'));
    await untilStep(store, 5);
  });
});
