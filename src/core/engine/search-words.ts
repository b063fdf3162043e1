// The words of a palette query (search-query.ts): tokens with their columns, numbers, and the
// error a query that cannot be read gives.

export class QueryError extends Error {
  constructor(
    message: string,
    /** 1-based column of the word that could not be read. */
    readonly column: number,
    readonly length: number,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

export interface Token {
  text: string;
  /** 0-based offset in the query. */
  at: number;
  quoted: boolean;
}

export function tokenize(query: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:"([^"]*)("?)|([^\s"]+))/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(query)) && m[0] !== '') {
    const at = m.index + m[0].length - m[0].trimStart().length;
    if (m[1] !== undefined) {
      if (m[2] !== '"') throw new QueryError(`the quote at column ${at + 1} is not closed`, at + 1, 1);
      out.push({ text: m[1], at, quoted: true });
    } else out.push({ text: m[3], at, quoted: false });
  }
  return out;
}

/** A whole number, decimal or 0x-hex, with optional `_` or `,` separators. */
export function readNumber(text: string): number | null {
  const t = text.replace(/[_,]/g, '');
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t.slice(2), 16);
  if (/^\d+$/.test(t)) return Number(t);
  return null;
}
