// Splits one source line into tokens: identifiers, numbers, strings and punctuation.
// Comments (`;` or `#` outside a string) end the line.

import type { AsmError } from './ir';

export type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'cmp';

export interface Token {
  kind: TokenKind;
  /** The token exactly as written. */
  text: string;
  /** 1-based column of its first character. */
  column: number;
  /** number: its value (0 when the literal is invalid; the error is reported). */
  value: bigint;
  /** string: its decoded contents. */
  str: string;
}

export interface LexedLine {
  tokens: Token[];
  errors: AsmError[];
  /** Column just past the last non-comment character, for errors at the end of the line. */
  endColumn: number;
}

export const MAX_U64 = (1n << 64n) - 1n;

const IDENT_START = /[A-Za-z_.]/;
const IDENT_PART = /[A-Za-z0-9_.]/;
const NUMBER_PART = /[A-Za-z0-9_]/;
const DECIMAL = /^[0-9][0-9_]*$/;
const HEX = /^0[xX][0-9A-Fa-f_]*[0-9A-Fa-f][0-9A-Fa-f_]*$/;

function token(kind: TokenKind, text: string, column: number, value = 0n, str = ''): Token {
  return { kind, text, column, value, str };
}

/** Reads a number literal: decimal or 0x hex, with `_` separators, at most 2^64-1. */
function numberToken(text: string, column: number, line: number, errors: AsmError[]): Token {
  let value = 0n;
  if (DECIMAL.test(text) || HEX.test(text)) {
    value = BigInt(text.replace(/_/g, ''));
    if (value > MAX_U64) {
      errors.push({ line, column, message: `number ${text} does not fit in 64 bits` });
      value = 0n;
    }
  } else {
    errors.push({ line, column, message: `invalid number '${text}'` });
  }
  return token('number', text, column, value);
}

export function lexLine(text: string, line: number): LexedLine {
  const tokens: Token[] = [];
  const errors: AsmError[] = [];
  let i = 0;
  let end = 0;
  while (i < text.length) {
    const c = text[i];
    const column = i + 1;
    if (c === ';' || c === '#') break;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < text.length && IDENT_PART.test(text[j])) j++;
      tokens.push(token('ident', text.slice(i, j), column));
      i = j;
    } else if (c >= '0' && c <= '9') {
      let j = i + 1;
      while (j < text.length && NUMBER_PART.test(text[j])) j++;
      tokens.push(numberToken(text.slice(i, j), column, line, errors));
      i = j;
    } else if (c === '"') {
      let j = i + 1;
      let str = '';
      let closed = false;
      while (j < text.length) {
        const d = text[j];
        if (d === '"') {
          closed = true;
          break;
        }
        if (d === '\\') {
          const e = text[j + 1];
          if (e === '"' || e === '\\') {
            str += e;
            j += 2;
            continue;
          }
          if (e !== undefined) {
            errors.push({ line, column: j + 1, message: `unknown escape '\\${e}' in string` });
            j += 2;
            continue;
          }
        }
        str += d;
        j++;
      }
      if (!closed) {
        errors.push({ line, column, message: 'unterminated string' });
        end = text.length;
        break;
      }
      tokens.push(token('string', text.slice(i, j + 1), column, 0n, str));
      i = j + 1;
    } else if ((c === '=' || c === '!' || c === '<' || c === '>') && text[i + 1] === '=') {
      tokens.push(token('cmp', c + '=', column));
      i += 2;
    } else if (c === '<' || c === '>') {
      tokens.push(token('cmp', c, column));
      i++;
    } else if (
      c === ',' ||
      c === '[' ||
      c === ']' ||
      c === '+' ||
      c === '-' ||
      c === ':' ||
      c === '|' ||
      c === '*'
    ) {
      tokens.push(token('punct', c, column));
      i++;
    } else {
      errors.push({ line, column, message: `unexpected character '${c}'` });
      i++;
    }
    end = i;
  }
  return { tokens, errors, endColumn: end + 1 };
}
