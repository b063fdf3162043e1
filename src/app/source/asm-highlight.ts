// A light reading aid for the program source: labels, mnemonics, directives, numbers,
// strings and comments get their own class. It never decides anything about the program.

export interface Token {
  text: string;
  kind: 'label' | 'mnemonic' | 'directive' | 'number' | 'string' | 'comment' | 'plain';
}

const NUMBER = /^(0x[0-9a-f_]+|\d[\d_]*)\b/i;
const WORD = /^[A-Za-z_.][\w.]*/;

export function tokenizeAsmLine(line: string): Token[] {
  const tokens: Token[] = [];
  let rest = line;
  let sawMnemonic = false;
  const push = (text: string, kind: Token['kind']) => {
    if (text) tokens.push({ text, kind });
  };

  while (rest.length > 0) {
    const space = /^\s+/.exec(rest);
    if (space) {
      push(space[0], 'plain');
      rest = rest.slice(space[0].length);
      continue;
    }
    if (rest[0] === ';' || rest[0] === '#' || rest.startsWith('//')) {
      push(rest, 'comment');
      break;
    }
    if (rest[0] === '"') {
      const end = rest.indexOf('"', 1);
      const text = end < 0 ? rest : rest.slice(0, end + 1);
      push(text, 'string');
      rest = rest.slice(text.length);
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num) {
      push(num[0], 'number');
      rest = rest.slice(num[0].length);
      continue;
    }
    const word = WORD.exec(rest);
    if (word) {
      const after = rest.slice(word[0].length);
      if (!sawMnemonic && after.startsWith(':')) {
        push(word[0] + ':', 'label');
        rest = after.slice(1);
        continue;
      }
      if (!sawMnemonic) {
        push(word[0], word[0].startsWith('.') ? 'directive' : 'mnemonic');
        sawMnemonic = true;
      } else {
        push(word[0], 'plain');
      }
      rest = after;
      continue;
    }
    push(rest[0], 'plain');
    rest = rest.slice(1);
  }
  return tokens;
}
