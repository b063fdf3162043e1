// The editor's text kept in localStorage, so an edit survives a reload. Versioned, and read
// defensively: a damaged or foreign entry is ignored rather than breaking the start.
import type { BuiltinRequest } from './types';

export const DRAFT_KEY = 'nestlab.editor.v1';

export interface EditorDraft {
  version: 1;
  text: string;
  /** True when the user changed the text; false when it is a built-in's document. */
  edited: boolean;
  origin: BuiltinRequest | null;
}

export interface DraftStorage {
  read(): EditorDraft | null;
  write(draft: EditorDraft): void;
  clear(): void;
}

function isDraft(value: unknown): value is EditorDraft {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  const origin = d.origin as Record<string, unknown> | null | undefined;
  return (
    d.version === 1 &&
    typeof d.text === 'string' &&
    typeof d.edited === 'boolean' &&
    (origin === null || (typeof origin === 'object' && typeof origin.builtin === 'string'))
  );
}

export function localDraftStorage(getStorage: () => Storage | null = defaultStorage): DraftStorage {
  return {
    read() {
      try {
        const raw = getStorage()?.getItem(DRAFT_KEY);
        if (!raw) return null;
        const parsed: unknown = JSON.parse(raw);
        return isDraft(parsed) ? parsed : null;
      } catch {
        return null;
      }
    },
    write(draft) {
      try {
        getStorage()?.setItem(DRAFT_KEY, JSON.stringify(draft));
      } catch {
        // Storage full or disabled (private mode): the draft just is not kept.
      }
    },
    clear() {
      try {
        getStorage()?.removeItem(DRAFT_KEY);
      } catch {
        // As above.
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
