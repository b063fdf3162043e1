// The user's drafts, kept in localStorage so that they survive a reload: a list of named
// drafts (the editor's text, or the built-in it shows, and its bookmarks) and which one is
// on screen. Versioned, and read defensively: a damaged or foreign entry is ignored rather
// than breaking the start. The single slot of before (`nestlab.editor.v1`) is migrated.
import type { Bookmark } from '../links/link-format';
import type { BuiltinRequest } from './types';

/** The list (version 2). */
export const DRAFTS_KEY = 'nestlab.drafts.v2';
/** The single draft slot of version 1, read once to migrate it. */
export const DRAFT_KEY = 'nestlab.editor.v1';

export interface Draft {
  id: string;
  name: string;
  /** The editor's text. */
  text: string;
  /** True when the user changed the text; false when it is a built-in's document. */
  edited: boolean;
  /** The built-in (and parameters) the text started from, or shows when not edited. */
  origin: BuiltinRequest | null;
  bookmarks: Bookmark[];
}

export interface DraftList {
  version: 2;
  current: string;
  drafts: Draft[];
}

export interface DraftStorage {
  read(): DraftList | null;
  write(list: DraftList): void;
}

function isOrigin(o: unknown): o is BuiltinRequest | null {
  if (o === null) return true;
  if (typeof o !== 'object' || o === undefined) return false;
  const r = o as Record<string, unknown>;
  return (
    typeof r.builtin === 'string' &&
    (r.params === undefined || (typeof r.params === 'object' && r.params !== null))
  );
}

function isBookmark(b: unknown): b is Bookmark {
  if (typeof b !== 'object' || b === null) return false;
  const r = b as Record<string, unknown>;
  return (
    Number.isInteger(r.step) &&
    (r.step as number) >= 0 &&
    typeof r.name === 'string' &&
    typeof r.note === 'string'
  );
}

function isDraft(value: unknown): value is Draft {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  return (
    typeof d.id === 'string' &&
    typeof d.name === 'string' &&
    typeof d.text === 'string' &&
    typeof d.edited === 'boolean' &&
    isOrigin(d.origin) &&
    Array.isArray(d.bookmarks) &&
    d.bookmarks.every(isBookmark)
  );
}

function isList(value: unknown): value is DraftList {
  if (typeof value !== 'object' || value === null) return false;
  const l = value as Record<string, unknown>;
  return (
    l.version === 2 &&
    typeof l.current === 'string' &&
    Array.isArray(l.drafts) &&
    l.drafts.length > 0 &&
    l.drafts.every(isDraft) &&
    l.drafts.some((d: Draft) => d.id === l.current)
  );
}

/** The version-1 slot as a one-draft list, or null when it is absent or unreadable. */
function migrateSlot(raw: string | null): DraftList | null {
  if (!raw) return null;
  try {
    const d = JSON.parse(raw) as Record<string, unknown>;
    if (
      d.version !== 1 ||
      typeof d.text !== 'string' ||
      typeof d.edited !== 'boolean' ||
      !isOrigin(d.origin)
    ) {
      return null;
    }
    const draft: Draft = {
      id: newDraftId(),
      name: 'Draft 1',
      text: d.text,
      edited: d.edited,
      origin: d.origin,
      bookmarks: [],
    };
    return { version: 2, current: draft.id, drafts: [draft] };
  } catch {
    return null;
  }
}

let idCounter = 0;
/** An id unique in this browser (time and a counter; drafts are few). */
export function newDraftId(): string {
  idCounter += 1;
  return `d${Date.now().toString(36)}${idCounter.toString(36)}`;
}

export function localDraftStorage(getStorage: () => Storage | null = defaultStorage): DraftStorage {
  return {
    read() {
      try {
        const storage = getStorage();
        if (!storage) return null;
        const raw = storage.getItem(DRAFTS_KEY);
        if (raw) {
          const parsed: unknown = JSON.parse(raw);
          if (isList(parsed)) return parsed;
        }
        return migrateSlot(storage.getItem(DRAFT_KEY));
      } catch {
        return null;
      }
    },
    write(list) {
      try {
        const storage = getStorage();
        storage?.setItem(DRAFTS_KEY, JSON.stringify(list));
        storage?.removeItem(DRAFT_KEY);
      } catch {
        // Storage full or disabled (private mode): the drafts just are not kept.
      }
    },
  };
}

function defaultStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
