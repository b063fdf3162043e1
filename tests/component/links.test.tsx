// @vitest-environment jsdom
// Links, drafts and bookmarks in the whole app (issue 11, item 1): a step link lands on its
// step and zoom; the address follows the user (rewritten as they step, a new history entry
// for each jump) and Back returns; a link that cannot be read says which field and leaves the
// drafts as they were; a link that would replace a draft holding work opens beside it.
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { TimelineData } from '../../src/core/engine/view';
import { encodeLink } from '../../src/app/links/link-format';
import { DEFAULT_GEOMETRY, zoomToRange } from '../../src/app/links/zoom-range';
import { DRAFTS_KEY, type DraftList } from '../../src/app/store/draft-storage';
import type { LoadRequest, LoadResponse } from '../../src/worker/protocol';
import { FakeSimClient } from './fake-client';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

function savedList(): DraftList {
  return JSON.parse(localStorage.getItem(DRAFTS_KEY)!) as DraftList;
}

/** Sets the address as a user pasting a link would (a new entry; popstate, as Chromium fires, then hashchange). */
function pasteLink(hash: string) {
  act(() => {
    window.history.pushState(null, '', hash);
    window.dispatchEvent(new PopStateEvent('popstate', { state: null }));
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  });
}

/** An edited draft in the storage, as an earlier visit would have left it. */
function storeEditedDraft(): DraftList {
  const list: DraftList = {
    version: 2,
    current: 'mine',
    drafts: [
      {
        id: 'mine',
        name: 'My work',
        text: JSON.stringify({
          name: 'mine',
          title: 'My edited scenario',
          levels: [{ program: ['    nop'] }],
        }),
        edited: true,
        origin: { builtin: 'irq-basics' },
        bookmarks: [{ step: 2, name: 'here', note: 'look at IF' }],
      },
    ],
  };
  localStorage.setItem(DRAFTS_KEY, JSON.stringify(list));
  return list;
}

describe('step links', () => {
  it('opens a link at its step and zoom, with its parameters', async () => {
    window.history.replaceState(null, '', '/#v=1&builtin=irq-basics&eoi=0&step=4&zoom=1-9');
    const { store } = await renderApp({ waitFor: null });
    await untilStep(store, 4);
    expect(screen.getByTestId('param-eoi')).toHaveAttribute('aria-checked', 'false');
    const range = zoomToRange(
      store.getState().timelineZoom,
      store.getState().timelineGeometry ?? DEFAULT_GEOMETRY,
      9,
    );
    expect(range?.from).toBeCloseTo(1);
    expect(range?.to).toBeCloseTo(9);
    expect(screen.queryByTestId('link-error')).toBeNull();
  });

  it('rewrites the address as the user steps, and adds a history entry for a jump', async () => {
    const { user, store } = await renderApp();
    await waitFor(() => expect(window.location.hash).toBe('#v=1&builtin=irq-basics&step=0'));
    const entries = window.history.length;

    await user.keyboard('{ArrowRight}{ArrowRight}');
    await untilStep(store, 2);
    await waitFor(() => expect(window.location.hash).toBe('#v=1&builtin=irq-basics&step=2'));
    expect(window.history.length).toBe(entries); // stepping replaces

    await user.click(screen.getByTestId('btn-end'));
    await untilStep(store, 9);
    await waitFor(() => expect(window.location.hash).toBe('#v=1&builtin=irq-basics&step=9'));
    expect(window.history.length).toBe(entries + 1); // a jump pushes

    await user.click(screen.getByTestId('param-eoi'));
    await waitFor(() => expect(window.location.hash).toMatch(/^#v=1&builtin=irq-basics&eoi=0&step=\d$/));
    expect(window.history.length).toBe(entries + 2); // so does opening a variant

    // Back: the variant's entry is left for the place before it (step 9, eoi on).
    act(() => window.history.back());
    await waitFor(() => expect(store.getState().info?.params.find((p) => p.key === 'eoi')?.value).toBe(true));
    await untilStep(store, 9);
    act(() => window.history.back());
    await untilStep(store, 2);
    expect(window.location.hash).toBe('#v=1&builtin=irq-basics&step=2');
    act(() => window.history.forward());
    await untilStep(store, 9);
  });

  it('a step past the end of the run shows the last step, and says so', async () => {
    window.history.replaceState(null, '', '/#v=1&builtin=irq-basics&step=50');
    const { store } = await renderApp({ waitFor: null });
    await untilStep(store, 9);
    expect(screen.getByTestId('notice')).toHaveTextContent(
      'The link’s step 50 is past the end of the run (9 steps): showing the last step.',
    );
    await waitFor(() => expect(window.location.hash).toBe('#v=1&builtin=irq-basics&step=9'));
  });

  it('an old #s= link opens its scenario and is rewritten in the current format', async () => {
    const doc = JSON.stringify({ name: 'old', title: 'An old link', levels: [{ program: ['    nop'] }] });
    const b64 = btoa(doc).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    window.history.replaceState(null, '', `/#s=${b64}`);
    const { store } = await renderApp({ waitFor: null });
    await waitFor(() => expect(store.getState().info?.title).toBe('An old link'));
    await waitFor(() => expect(window.location.hash).toBe(`#v=1&s=${b64}&step=0`));
  });
});

describe('links that cannot be opened', () => {
  const cases: [string, string, RegExp][] = [
    ['a future version', '#v=7&builtin=irq-basics&step=3', /field ‘v’: the link is in format version 7/],
    ['a truncated scenario', '#v=1&s=eyJuYW1lIjoi', /field ‘s’: .*cut short/],
    [
      'an unknown parameter',
      '#v=1&builtin=irq-basics&eio=1',
      /field ‘eio’: the built-in 'irq-basics' has no parameter/,
    ],
    ['a bad step', '#v=1&builtin=irq-basics&step=-4', /field ‘step’: '-4' is not a step number/],
    [
      'an unknown built-in',
      '#v=1&builtin=gone&step=1',
      /field ‘builtin’: this nestlab has no built-in named 'gone'/,
    ],
  ];

  for (const [what, hash, message] of cases) {
    it(`at start: ${what} says why, and the drafts start as they were`, async () => {
      const before = storeEditedDraft();
      window.history.replaceState(null, '', `/${hash}`);
      const { store } = await renderApp({ waitFor: null });
      const banner = await screen.findByTestId('link-error');
      expect(banner).toHaveTextContent(message);
      expect(banner).toHaveTextContent('Nothing was changed.');
      await waitFor(() => expect(store.getState().info?.title).toBe('My edited scenario'));
      expect(savedList()).toEqual(before);
      expect(store.getState().bookmarks).toEqual(before.drafts[0].bookmarks);
    });
  }

  it('pasted over a run: a scenario the lab rejects changes nothing on screen', async () => {
    const { store } = await renderApp();
    await store.getState().seek(3);
    await untilStep(store, 3);
    const broken = JSON.stringify({ name: 'x', levels: [{ program: ['    bogus'] }] });
    pasteLink(encodeLink({ scenario: { json: broken }, step: 1, zoom: null, axis: 'step', bookmarks: [] }));
    const banner = await screen.findByTestId('link-error');
    expect(banner).toHaveTextContent(
      "its scenario is rejected: unknown instruction 'bogus' (L0 line 1, column 5)",
    );
    expect(store.getState().info?.name).toBe('irq-basics');
    expect(store.getState().step).toBe(3);
    expect(store.getState().editorEdited).toBe(false);
    expect(screen.queryByTestId('editor-error')).toBeNull();
    expect(savedList().drafts).toHaveLength(1);
  });
});

describe('drafts', () => {
  it('a link that would replace an edited draft opens beside it; the draft is one click away', async () => {
    storeEditedDraft();
    const { user, store } = await renderApp({ waitFor: null });
    await waitFor(() => expect(store.getState().info?.title).toBe('My edited scenario'));

    pasteLink('#v=1&builtin=nmi-nesting&step=2&bm=1~from%20the%20link');
    await waitFor(() => expect(store.getState().info?.name).toBe('nmi-nesting'));
    await untilStep(store, 2);
    expect(store.getState().bookmarks).toEqual([{ step: 1, name: 'from the link', note: '' }]);
    expect(screen.getByTestId('notice')).toHaveTextContent('your draft “My work” is kept');
    const list = savedList();
    expect(list.drafts.map((d) => d.name)).toEqual(['My work', 'Draft 2']);
    expect(list.drafts[0]).toMatchObject({ edited: true, bookmarks: [{ step: 2, name: 'here' }] });
    expect(list.current).toBe(list.drafts[1].id);
    expect(list.drafts[1].bookmarks).toEqual([{ step: 1, name: 'from the link', note: '' }]);

    await user.click(screen.getByTestId('drafts-button'));
    const rows = screen.getAllByTestId('draft-row');
    expect(rows[0]).toHaveTextContent('edited: My edited scenario · 1 bookmark');
    expect(rows[1]).toHaveTextContent('Two NMIs, nested · 1 bookmark');
    await user.click(within(rows[0]).getByTestId('draft-open'));
    await waitFor(() => expect(store.getState().info?.title).toBe('My edited scenario'));
    expect(store.getState().editorEdited).toBe(true);
    expect(store.getState().bookmarks).toEqual([{ step: 2, name: 'here', note: 'look at IF' }]);
    expect(screen.getByTestId('draft-current')).toHaveTextContent('My work');
  });

  it('a link replaces a draft that holds no work, without a new draft', async () => {
    const { store } = await renderApp();
    pasteLink('#v=1&builtin=nmi-nesting&step=1');
    await untilStep(store, 1);
    expect(store.getState().info?.name).toBe('nmi-nesting');
    expect(savedList().drafts).toHaveLength(1);
  });

  it('picking a built-in over edits can open it as a new draft', async () => {
    const { user, store } = await renderApp();
    await user.click(screen.getByTestId('tab-editor'));
    await user.click(screen.getByTestId('editor-textarea'));
    await user.keyboard('{End} ');
    const edited = store.getState().editorText;
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'nmi-nesting');
    await user.click(screen.getByTestId('switch-beside'));
    await waitFor(() => expect(store.getState().info?.name).toBe('nmi-nesting'));
    const list = savedList();
    expect(list.drafts).toHaveLength(2);
    expect(list.drafts[0]).toMatchObject({ text: edited, edited: true });
    expect(list.drafts[1]).toMatchObject({ edited: false, origin: { builtin: 'nmi-nesting' } });
  });

  it('picking another built-in over bookmarks asks; replacing drops them, a new draft keeps them', async () => {
    const { user, store } = await renderApp();
    store.getState().addBookmark(4, 'delivery', '');
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'nmi-nesting');
    expect(screen.getByTestId('switch-dialog')).toHaveTextContent('Replace this draft’s bookmarks?');
    expect(screen.getByTestId('switch-dialog')).toHaveTextContent('drops the bookmarks');
    await user.click(screen.getByTestId('switch-beside'));
    await waitFor(() => expect(store.getState().info?.name).toBe('nmi-nesting'));
    expect(savedList().drafts.map((d) => d.bookmarks.length)).toEqual([1, 0]);

    await act(() => store.getState().switchDraft(savedList().drafts[0].id));
    await waitFor(() => expect(store.getState().info?.name).toBe('irq-basics'));
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'kvm-nmi');
    await user.click(screen.getByTestId('switch-confirm'));
    await waitFor(() => expect(store.getState().info?.name).toBe('kvm-nmi'));
    expect(store.getState().bookmarks).toEqual([]);
    expect(savedList().drafts.map((d) => d.bookmarks.length)).toEqual([0, 0]);
  });

  it('renames and deletes drafts (never the last one), and migrates the old single slot', async () => {
    localStorage.setItem(
      'nestlab.editor.v1',
      JSON.stringify({ version: 1, text: '', edited: false, origin: { builtin: 'nmi-nesting' } }),
    );
    const { user, store } = await renderApp({ waitFor: null });
    await waitFor(() => expect(store.getState().info?.name).toBe('nmi-nesting'));
    expect(localStorage.getItem('nestlab.editor.v1')).toBeNull();
    expect(savedList().drafts.map((d) => d.name)).toEqual(['Draft 1']);

    await user.click(screen.getByTestId('drafts-button'));
    expect(screen.getByTestId('draft-delete')).toBeDisabled();
    await user.click(screen.getByTestId('draft-rename'));
    const input = screen.getByTestId('draft-name-input');
    await user.clear(input);
    await user.type(input, 'NMI study{Enter}');
    expect(screen.getByTestId('draft-current')).toHaveTextContent('NMI study');
    expect(savedList().drafts[0].name).toBe('NMI study');
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('drafts-panel')).toBeNull();

    // A second draft (a built-in opened beside), then delete the one on screen.
    await act(() => store.getState().pickBuiltin('irq-basics', { beside: true }));
    await waitFor(() => expect(store.getState().info?.name).toBe('irq-basics'));
    await user.click(screen.getByTestId('drafts-button'));
    const rows = screen.getAllByTestId('draft-row');
    expect(rows).toHaveLength(2);
    await user.click(within(rows[1]).getByTestId('draft-delete'));
    await user.click(within(screen.getAllByTestId('draft-row')[1]).getByTestId('draft-delete-confirm'));
    await waitFor(() => expect(store.getState().info?.name).toBe('nmi-nesting'));
    expect(savedList().drafts.map((d) => d.name)).toEqual(['NMI study']);
  });
});

describe('bookmarks', () => {
  it('bookmarks a step with a note; the link carries it to a fresh browser', async () => {
    const { user, store, unmount } = await renderApp();
    await user.keyboard('{ArrowRight}{ArrowRight}{ArrowRight}');
    await untilStep(store, 3);
    await user.click(screen.getByTestId('bookmarks-button'));
    await user.type(screen.getByTestId('bookmark-name'), 'IRQ raised');
    await user.type(screen.getByTestId('bookmark-note'), 'IRR bit set~ & delivered next');
    await user.click(screen.getByTestId('bookmark-add'));
    expect(screen.getByTestId('bookmark-row')).toHaveTextContent('3IRQ raised');
    expect(savedList().drafts[0].bookmarks).toEqual([
      { step: 3, name: 'IRQ raised', note: 'IRR bit set~ & delivered next' },
    ]);
    await waitFor(() =>
      expect(window.location.hash).toBe(
        '#v=1&builtin=irq-basics&step=3&bm=3~IRQ%20raised~IRR%20bit%20set%7E%20%26%20delivered%20next',
      ),
    );
    const link = window.location.hash;

    // The bookmark goes to its step (a jump).
    await user.keyboard('{Escape}');
    await user.click(screen.getByTestId('btn-end'));
    await untilStep(store, 9);
    await user.click(screen.getByTestId('bookmarks-button'));
    await user.click(screen.getByTestId('bookmark-go'));
    await untilStep(store, 3);
    // Its flag on the timeline goes there too.
    await user.click(screen.getByTestId('btn-end'));
    await untilStep(store, 9);
    const flag = screen.getByTestId('timeline-bookmark');
    expect(flag).toHaveAttribute('data-step', '3');
    fireEvent.click(flag); // a plain click: d3-zoom's mousedown needs a real window
    await untilStep(store, 3);
    unmount();

    // A fresh browser: nothing stored, only the link.
    localStorage.clear();
    window.history.replaceState(null, '', `/${link}`);
    const second = await renderApp({ client: new FakeSimClient(), waitFor: null });
    await untilStep(second.store, 3);
    expect(second.store.getState().bookmarks).toEqual([
      { step: 3, name: 'IRQ raised', note: 'IRR bit set~ & delivered next' },
    ]);
  });
});

/** A client whose eoi=false variant has one more instruction before the interrupt. */
class ShiftedVariantClient extends FakeSimClient {
  private shifted = false;
  override async load(req: LoadRequest): Promise<LoadResponse> {
    this.shifted = 'builtin' in req && req.params?.eoi === false;
    return super.load(req);
  }
  override async timeline(): Promise<TimelineData> {
    const t = await super.timeline();
    if (!this.shifted) return t;
    // INSTR first, then every event of the run but its last one: all shifted one step on.
    return { ...t, kinds: [t.kinds[0], ...t.kinds.slice(0, -1)], levels: [0, ...t.levels.slice(0, -1)] };
  }
}

describe('toggling a variant', () => {
  it('keeps the same event (by kind and order), not the same step number', async () => {
    const { user, store } = await renderApp({ client: new ShiftedVariantClient() });
    await waitFor(() => expect(store.getState().timeline).not.toBeNull());
    store.getState().seek(4); // the delivery of the IRQ
    await untilStep(store, 4);
    await user.click(screen.getByTestId('param-eoi'));
    await waitFor(() =>
      expect(store.getState().info?.params.find((p) => p.key === 'eoi')?.value).toBe(false),
    );
    await untilStep(store, 5); // the delivery, one step later in this variant
    await user.click(screen.getByTestId('param-eoi'));
    await untilStep(store, 4);
  });
});
