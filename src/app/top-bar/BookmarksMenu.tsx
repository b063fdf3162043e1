// Bookmarks: named steps with a note, kept in the draft and carried by its link. The panel
// bookmarks the step on screen and lists the draft's bookmarks; a bookmark's step goes there.
import { useState } from 'react';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectBookmarks, selectInfo, selectStep } from '../store/selectors';
import { Popover, usePopoverClose } from './Popover';

function AddBookmark() {
  const store = useLabStoreApi();
  const step = useLab(selectStep);
  const [name, setName] = useState('');
  const [note, setNote] = useState('');
  const add = () => {
    store.getState().addBookmark(step, name, note);
    setName('');
    setNote('');
  };
  return (
    <form
      className="bookmark-form"
      onSubmit={(e) => {
        e.preventDefault();
        add();
      }}
    >
      <div className="popover-head">Bookmark step {step}</div>
      <input
        className="popover-input"
        aria-label="Bookmark name"
        data-testid="bookmark-name"
        placeholder={`Step ${step}`}
        maxLength={80}
        value={name}
        autoFocus
        onChange={(e) => setName(e.target.value)}
      />
      <textarea
        className="popover-input bookmark-note"
        aria-label="Note"
        data-testid="bookmark-note"
        placeholder="Note (optional)"
        maxLength={500}
        rows={2}
        value={note}
        onChange={(e) => setNote(e.target.value)}
      />
      <button type="submit" className="btn btn-small btn-primary" data-testid="bookmark-add">
        Add bookmark
      </button>
    </form>
  );
}

function BookmarkList() {
  const store = useLabStoreApi();
  const bookmarks = useLab(selectBookmarks);
  const step = useLab(selectStep);
  const close = usePopoverClose();
  if (bookmarks.length === 0) return <p className="popover-empty">No bookmarks in this draft yet.</p>;
  return (
    <ul className="popover-list" data-testid="bookmark-list">
      {bookmarks.map((b, i) => (
        <li
          key={`${b.step}:${b.name}:${i}`}
          className={`popover-row${b.step === step ? ' current' : ''}`}
          data-testid="bookmark-row"
        >
          <button
            type="button"
            className="popover-main popover-pick"
            data-testid="bookmark-go"
            title={`Go to step ${b.step}`}
            onClick={() => {
              store.getState().seek(b.step, { jump: true });
              close();
            }}
          >
            <span className="popover-name">
              <span className="bookmark-step">{b.step}</span>
              {b.name}
            </span>
            {b.note && <span className="popover-sub bookmark-note-text">{b.note}</span>}
          </button>
          <button
            type="button"
            className="btn btn-small btn-icon"
            aria-label={`Delete bookmark ${b.name}`}
            title="Delete"
            data-testid="bookmark-delete"
            onClick={() => store.getState().removeBookmark(i)}
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}

export function BookmarksMenu() {
  const info = useLab(selectInfo);
  const bookmarks = useLab(selectBookmarks);
  return (
    <Popover
      testId="bookmarks-button"
      title="Bookmarks: named steps with a note, kept in the draft and in its link"
      label={
        <>
          <svg viewBox="0 0 12 14" width="10" height="12" aria-hidden="true">
            <path d="M1 1h10v12L6 9.5 1 13z" fill="currentColor" />
          </svg>
          <span className="btn-text-wide">Bookmarks</span>
          {bookmarks.length > 0 && <span className="btn-count">{bookmarks.length}</span>}
        </>
      }
    >
      {info && <AddBookmark />}
      <BookmarkList />
    </Popover>
  );
}
