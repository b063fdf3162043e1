// @vitest-environment jsdom
import { screen, waitFor } from '@testing-library/react';
import type { UserEvent } from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { documentWithParamValues, hashForScenario } from '../../src/app/share';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

async function editText(user: UserEvent) {
  await user.click(screen.getByTestId('tab-editor'));
  const textarea = screen.getByTestId('editor-textarea') as HTMLTextAreaElement;
  await user.click(textarea);
  await user.keyboard('{End} ');
  return textarea;
}

describe('switching scenario with edits in the editor', () => {
  it('asks before another built-in replaces the edits; keeping them changes nothing', async () => {
    const { user, store } = await renderApp();
    const textarea = await editText(user);
    const edited = textarea.value;
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'nmi-nesting');
    const dialog = screen.getByTestId('switch-dialog');
    expect(dialog).toHaveTextContent('Discard your edits?');
    expect(dialog).toHaveTextContent('“Two NMIs, nested”');
    expect(screen.getByTestId('switch-cancel')).toHaveFocus();

    // Shortcuts wait while the dialog is open; Escape keeps the edits.
    await user.keyboard('l');
    expect(store.getState().step).toBe(0);
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('switch-dialog')).toBeNull();
    expect(store.getState().info?.name).toBe('irq-basics');
    expect(screen.getByTestId('scenario-picker')).toHaveValue('irq-basics');
    expect((screen.getByTestId('editor-textarea') as HTMLTextAreaElement).value).toBe(edited);

    await user.selectOptions(screen.getByTestId('scenario-picker'), 'nmi-nesting');
    await user.click(screen.getByTestId('switch-confirm'));
    await waitFor(() => expect(store.getState().info?.name).toBe('nmi-nesting'));
    expect(store.getState().editorEdited).toBe(false);
  });

  it('asks before a parameter of the built-in replaces the edits', async () => {
    const { user, store } = await renderApp();
    await editText(user);
    await user.click(screen.getByTestId('param-eoi'));
    expect(screen.getByTestId('switch-dialog')).toHaveTextContent('eoi = false');
    await user.click(screen.getByTestId('switch-confirm'));
    await waitFor(() =>
      expect(store.getState().info?.params.find((p) => p.key === 'eoi')?.value).toBe(false),
    );
  });

  it('does not ask when the editor holds the built-in as loaded', async () => {
    const { user, store } = await renderApp();
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'nmi-nesting');
    await untilStep(store, 0);
    expect(screen.queryByTestId('switch-dialog')).toBeNull();
    expect(store.getState().info?.name).toBe('nmi-nesting');
  });
});

describe('sharing and the address bar', () => {
  it('the address names the built-in on screen, before and after another is picked', async () => {
    const { user, store } = await renderApp();
    await user.click(screen.getByTestId('share-button'));
    expect(window.location.hash).toBe('#v=1&builtin=irq-basics&step=0');
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'nmi-nesting');
    await waitFor(() => expect(store.getState().info?.name).toBe('nmi-nesting'));
    expect(window.location.hash).toBe('#v=1&builtin=nmi-nesting&step=0');
  });

  it('loads a link pasted into the same tab (hashchange)', async () => {
    const { store } = await renderApp();
    const json = JSON.stringify({ name: 'pasted', title: 'Pasted link', levels: [{ program: ['    nop'] }] });
    window.history.replaceState(null, '', hashForScenario(json));
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    await waitFor(() => expect(store.getState().info?.title).toBe('Pasted link'));
    // Rewritten in the current format, the document kept.
    await waitFor(() => expect(window.location.hash).toMatch(/^#v=1&s=[\w-]+&step=0$/));
    expect(screen.getByTestId('scenario-picker')).toHaveValue('__custom__');
  });
});

describe('a shared document carries the parameters on screen', () => {
  const doc = JSON.stringify({
    name: 's',
    params: { vnmi: { type: 'boolean', default: false }, era: { default: 'x' } },
  });

  it('makes the current values the defaults', () => {
    const shared = JSON.parse(documentWithParamValues(doc, [{ key: 'vnmi', value: true }]));
    expect(shared.params.vnmi).toEqual({ type: 'boolean', default: true });
    expect(shared.params.era.default).toBe('x');
  });

  it('leaves the text alone when every value is its default (or the text is not JSON)', () => {
    expect(documentWithParamValues(doc, [{ key: 'vnmi', value: false }])).toBe(doc);
    expect(documentWithParamValues('{ broken', [{ key: 'vnmi', value: true }])).toBe('{ broken');
  });
});
