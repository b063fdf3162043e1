// From a LabError to the editor: which line of the scenario document to highlight, and for
// a program error the offending program line itself.
import type { LabError } from '../../core/engine/view';
import { lineOfOffset, lineOfPath, locateJsonValues, normalisePath } from './json-locate';

/** Where a level's program may sit in the document (the first that exists is used). */
const PROGRAM_KEYS = ['program', 'source', 'program.source', 'asm', 'code'];

export interface ErrorLocation {
  /** 1-based line in the editor text, or null when it cannot be placed. */
  editorLine: number | null;
  /** For program errors: the text of the program line named by the error. */
  programLine: string | null;
}

function programText(doc: unknown, level: number, key: string): string | null {
  let node: unknown = (doc as { levels?: unknown[] } | null)?.levels?.[level];
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null) return null;
    node = (node as Record<string, unknown>)[part];
  }
  if (typeof node === 'string') return node;
  if (Array.isArray(node) && node.every((l) => typeof l === 'string')) return node.join('\n');
  return null;
}

export function locateError(text: string, error: LabError): ErrorLocation {
  const map = locateJsonValues(text);
  const wherePath = error.where ? normalisePath(error.where) : null;

  if (error.kind === 'program' && error.level !== undefined) {
    let doc: unknown = null;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = null;
    }
    const keys = wherePath?.startsWith(`levels[${error.level}].`)
      ? [wherePath.slice(`levels[${error.level}].`.length), ...PROGRAM_KEYS]
      : PROGRAM_KEYS;
    for (const key of keys) {
      const path = `levels[${error.level}].${key}`;
      const offset = map.get(path);
      if (offset === undefined) continue;
      const source = programText(doc, error.level, key);
      const programLine = source !== null && error.line ? (source.split('\n')[error.line - 1] ?? null) : null;
      // A program given as an array of lines has one editor line per program line.
      const lineOffset = error.line ? map.get(`${path}[${error.line - 1}]`) : undefined;
      if (lineOffset !== undefined) return { editorLine: lineOfOffset(text, lineOffset), programLine };
      // A program in one string: find the offending line inside the literal if it is
      // written across lines, else the string's own line.
      if (programLine) {
        const escaped = JSON.stringify(programLine).slice(1, -1);
        const at = escaped ? text.indexOf(escaped, offset) : -1;
        if (at >= 0) return { editorLine: lineOfOffset(text, at), programLine };
      }
      return { editorLine: lineOfOffset(text, offset), programLine };
    }
    return { editorLine: null, programLine: null };
  }

  // A JSON syntax error carries the document's own line.
  if (error.line !== undefined && error.level === undefined) {
    return { editorLine: error.line, programLine: null };
  }
  if (wherePath !== null) return { editorLine: lineOfPath(text, map, wherePath), programLine: null };
  return { editorLine: null, programLine: null };
}
