// The drafts: which one is on screen, and the list to switch to another, rename or delete
// one. Links and built-ins that would replace a draft holding work open as new drafts here.
import { useState } from 'react';
import type { BuiltinScenarioInfo } from '../../worker/protocol';
import { useLab, useLabStoreApi } from '../sim-client-context';
import type { Draft } from '../store/draft-storage';
import { selectBuiltins, selectDraftId, selectDrafts } from '../store/selectors';
import { Popover, usePopoverClose } from './Popover';

/** What a draft holds, in a few words: its built-in, or the title of its edited document. */
function describe(d: Draft, builtins: readonly BuiltinScenarioInfo[]): string {
  const marks =
    d.bookmarks.length > 0 ? ` · ${d.bookmarks.length} bookmark${d.bookmarks.length > 1 ? 's' : ''}` : '';
  if (!d.edited) {
    const b = builtins.find((x) => x.name === d.origin?.builtin);
    return (b?.title ?? d.origin?.builtin ?? 'the first built-in') + marks;
  }
  let title: unknown;
  try {
    title = (JSON.parse(d.text) as { title?: unknown }).title;
  } catch {
    title = undefined;
  }
  return `edited: ${typeof title === 'string' && title ? title : 'custom scenario'}${marks}`;
}

function DraftRow({ draft, current, only }: { draft: Draft; current: boolean; only: boolean }) {
  const store = useLabStoreApi();
  const close = usePopoverClose();
  const builtins = useLab(selectBuiltins);
  const [mode, setMode] = useState<'show' | 'rename' | 'delete'>('show');
  const [name, setName] = useState(draft.name);
  const commit = () => {
    store.getState().renameDraft(draft.id, name);
    setMode('show');
  };

  if (mode === 'rename') {
    return (
      <li className="popover-row draft-row" data-testid="draft-row">
        <input
          className="popover-input"
          aria-label="Draft name"
          data-testid="draft-name-input"
          value={name}
          autoFocus
          maxLength={80}
          onChange={(e) => setName(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') commit();
            if (e.key === 'Escape') {
              e.preventDefault();
              e.stopPropagation();
              setName(draft.name);
              setMode('show');
            }
          }}
        />
        <button type="button" className="btn btn-small" onClick={commit}>
          Rename
        </button>
      </li>
    );
  }
  if (mode === 'delete') {
    return (
      <li className="popover-row draft-row" data-testid="draft-row">
        <span className="popover-main">Delete “{draft.name}”? Its text and bookmarks go.</span>
        <button
          type="button"
          className="btn btn-small btn-danger"
          data-testid="draft-delete-confirm"
          onClick={() => void store.getState().deleteDraft(draft.id)}
        >
          Delete
        </button>
        <button type="button" className="btn btn-small" onClick={() => setMode('show')}>
          Keep
        </button>
      </li>
    );
  }
  return (
    <li
      className={`popover-row draft-row${current ? ' current' : ''}`}
      data-testid="draft-row"
      data-current={current}
    >
      <button
        type="button"
        className="popover-main popover-pick"
        data-testid="draft-open"
        aria-current={current}
        title={current ? 'On screen' : 'Open this draft'}
        onClick={() => {
          void store.getState().switchDraft(draft.id);
          close();
        }}
      >
        <span className="popover-name">{draft.name}</span>
        <span className="popover-sub">{describe(draft, builtins)}</span>
      </button>
      <button
        type="button"
        className="btn btn-small btn-icon"
        title="Rename"
        aria-label={`Rename ${draft.name}`}
        data-testid="draft-rename"
        onClick={() => setMode('rename')}
      >
        ✎
      </button>
      <button
        type="button"
        className="btn btn-small btn-icon"
        title={only ? 'The last draft cannot be deleted' : 'Delete'}
        aria-label={`Delete ${draft.name}`}
        data-testid="draft-delete"
        disabled={only}
        onClick={() => setMode('delete')}
      >
        ×
      </button>
    </li>
  );
}

export function DraftsMenu() {
  const drafts = useLab(selectDrafts);
  const draftId = useLab(selectDraftId);
  const current = drafts.find((d) => d.id === draftId);
  if (!current) return null;
  return (
    <Popover
      testId="drafts-button"
      title="Your drafts (kept in this browser): switch, rename, delete"
      label={
        <>
          <span className="btn-kicker">Draft</span>
          <span className="draft-current" data-testid="draft-current">
            {current.name}
          </span>
          <span className="btn-count">{drafts.length}</span>
        </>
      }
    >
      <>
        <div className="popover-head">Drafts, kept in this browser</div>
        <ul className="popover-list">
          {drafts.map((d) => (
            <DraftRow key={d.id} draft={d} current={d.id === draftId} only={drafts.length === 1} />
          ))}
        </ul>
      </>
    </Popover>
  );
}
