// Where each value of a JSON document starts, by path ("levels[0].program[3]"), so that an
// error naming a field or a program line can be shown on the editor line it comes from.
// A small tolerant scanner: on a syntax error it stops and keeps what it found so far.

export type JsonPathMap = Map<string, number>;

class Stop extends Error {}

export function locateJsonValues(text: string): JsonPathMap {
  const found: JsonPathMap = new Map();
  let i = 0;

  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (): never => {
    throw new Stop();
  };
  const string = (): string => {
    if (text[i] !== '"') fail();
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail();
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail();
    }
  };
  const value = (path: string) => {
    ws();
    found.set(path, i);
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        const key = string();
        ws();
        if (text[i++] !== ':') fail();
        value(path ? `${path}.${key}` : key);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    }
    if (c === '"') return void string();
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!m) fail();
    i += m![0].length;
  };

  try {
    value('');
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  return found;
}

/** 1-based line of a character offset. */
export function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

/** Normalises "levels[0].program" and "$.levels.0.program" to the scanner's path form. */
export function normalisePath(where: string): string | null {
  let p = where.trim().replace(/^\$\.?/, '');
  if (!/^[\w$]+(\[\d+\]|\.[\w$]+)*$/.test(p.replace(/\.(\d+)(?=\.|$)/g, '[$1]'))) return null;
  p = p.replace(/\.(\d+)(?=\.|\[|$)/g, '[$1]');
  return p;
}

/** The line of the deepest value along `path` that exists in the document. */
export function lineOfPath(text: string, map: JsonPathMap, path: string): number | null {
  let p = path;
  for (;;) {
    const offset = map.get(p);
    if (offset !== undefined) return lineOfOffset(text, offset);
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    if (cut <= 0) return null;
    p = p.slice(0, cut);
  }
}
