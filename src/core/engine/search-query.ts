// The query language of the lab's command palette (docs/search.md): "go to" a step or a time,
// or search the trace. A query is read into a plain description here; search.ts runs it.
// Words are case-insensitive except inside quotes; a query that cannot be read gives the
// column of the word that could not be read and the forms accepted there.
import { XEN_FN_BASE, XEN_FUNCTIONS } from '../hypervisors/xen/functions';
import { EXIT_REASONS } from '../vmx/exit-reasons';
import { KVM_FUNCTIONS } from '../hypervisors/kvm/functions';
import { EVENT_KIND_NAMES } from './view';
import { type ChangeTarget, readChangeTarget } from './search-targets';
import { QueryError, type Token, readNumber, tokenize } from './search-words';
import { SVM_EXIT_CODES } from '../svm/exit-codes';

export { QueryError } from './search-words';

/** One condition on a trace event; an event matches a query when it matches every term. */
export type SearchTerm =
  | { t: 'kind'; kind: number }
  | { t: 'exit'; reason: number; basic: boolean }
  | { t: 'vector'; vector: number }
  | { t: 'level'; level: number }
  | { t: 'function'; fn: number }
  | { t: 'assert'; passed: boolean | null; text: string | null };

export type Query =
  | { q: 'step'; step: number }
  | { q: 'time'; cycles: number }
  | { q: 'events'; terms: SearchTerm[]; text: string }
  | { q: 'change'; target: ChangeTarget; text: string };

const KIND_BY_NAME = new Map<string, number>(
  Object.entries(EVENT_KIND_NAMES).map(([k, n]) => [n, Number(k)] as [string, number]),
);
for (const [alias, name] of [
  ['vmexits', 'vmexit'],
  ['vm-exit', 'vmexit'],
  ['vmentries', 'vmentry'],
  ['vm-entry', 'vmentry'],
  ['entry', 'vmentry'],
  ['deliveries', 'delivery'],
  ['deliver', 'delivery'],
  ['decisions', 'decision'],
  ['asserts', 'assert'],
  ['assertion', 'assert'],
  ['instr', 'instruction'],
  ['instructions', 'instruction'],
] as const)
  KIND_BY_NAME.set(alias, KIND_BY_NAME.get(name)!);

const EXIT_BY_NAME = new Map<string, number>();
for (const r of EXIT_REASONS) {
  EXIT_BY_NAME.set(r.name.toLowerCase(), r.code);
  EXIT_BY_NAME.set(r.name.replace(/^EXIT_REASON_/, '').toLowerCase(), r.code);
}

/** SVM's exit codes by name, with and without SVM_EXIT_ (an `svm` run's exits). */
const SVM_EXIT_BY_NAME = new Map<string, number>();
for (const r of SVM_EXIT_CODES) {
  SVM_EXIT_BY_NAME.set(r.name.toLowerCase(), r.code >>> 0);
  SVM_EXIT_BY_NAME.set(r.name.replace(/^SVM_EXIT_/, '').toLowerCase(), r.code >>> 0);
}

const FN_BY_NAME = new Map<string, number>(KVM_FUNCTIONS.map((f, i) => [f.name.toLowerCase(), i]));
// The Xen model's functions (ids from XEN_FN_BASE); a name both models use stays KVM's.
XEN_FUNCTIONS.forEach((f, i) => {
  const n = f.name.toLowerCase();
  if (!FN_BY_NAME.has(n)) FN_BY_NAME.set(n, XEN_FN_BASE + i);
});

/** A KVM (or Xen) function by its name, or a KVM one by the name without its vmx_/kvm_ prefix. */
export function functionByName(name: string): number | undefined {
  const n = name.toLowerCase();
  return FN_BY_NAME.get(n) ?? FN_BY_NAME.get('vmx_' + n) ?? FN_BY_NAME.get('kvm_' + n);
}

const GOTO_FORMS = '`step N`, `N`, `time N` or `N cycles`';
const EVENT_FORMS =
  'an event kind (vmexit, vmentry, delivery, raise, iret, assert, decision, idle, shutdown, instruction), ' +
  '`exit N|NAME`, `vector N`, `L1` or `level N`, `fn NAME`, `assert [passed|failed] ["text"]`, ' +
  'or a field, bit or variable to watch (`GUEST_INTERRUPTIBILITY_INFO.NMI`, `RFLAGS.IF of L1`, `soft_vnmi_blocked`)';

function fail(tok: Token, message: string): never {
  throw new QueryError(`'${tok.text}' at column ${tok.at + 1}: ${message}`, tok.at + 1, tok.text.length || 1);
}

function needValue(toks: Token[], i: number, what: string, after: Token): Token {
  const v = toks[i];
  if (!v) fail(after, `${what} is missing after it`);
  return v;
}

/** Reads a query. Throws QueryError naming the column and what is accepted there. */
/**
 * Reads a query. `arch`: the run's processor — on `svm` an exit is named by its SVM exit code
 * (`exit VINTR`, `exit 0x64`), on `vmx` by its VMX exit reason.
 */
export function parseQuery(query: string, arch: 'vmx' | 'svm' = 'vmx'): Query {
  const toks = tokenize(query);
  if (toks.length === 0) throw new QueryError(`the query is empty: type ${GOTO_FORMS}, or a search`, 1, 1);
  const words = toks.map((t) => (t.quoted ? '' : t.text.toLowerCase()));

  // Go to: `step N`, `N`, `#N`, `time N`, `@N`, `N cycles`, `t=N`.
  const goto = readGoto(toks, words);
  if (goto) return goto;

  // "When did X change": `change X`, `changes of X`, `X changed`, or X alone when it names a
  // field, a register or a KVM variable (and is no event word).
  let body = toks;
  let forced = false;
  if (words[0] === 'change' || words[0] === 'changes' || words[0] === 'changed' || words[0] === 'when') {
    body = toks.slice(words[1] === 'of' ? 2 : 1);
    forced = true;
  } else if (words[words.length - 1] === 'changed' || words[words.length - 1] === 'changes') {
    body = toks.slice(0, -1);
    forced = true;
  }
  if (forced) {
    if (body.length === 0)
      fail(toks[0], 'say what to watch: a VMCS field or bit, a register, or a KVM variable');
    return { q: 'change', target: readChangeTarget(body, true)!, text: query.trim() };
  }
  if (!isEventWord(words[0])) {
    const target = readChangeTarget(toks, false);
    if (target) return { q: 'change', target, text: query.trim() };
  }
  return { q: 'events', terms: readTerms(toks, words, arch), text: query.trim() };
}

function readGoto(toks: Token[], words: string[]): Query | null {
  const n0 = toks.length >= 1 && !toks[0].quoted ? readNumber(words[0].replace(/^[#@]|^t=/, '')) : null;
  if (toks.length === 1 && n0 !== null) {
    return words[0].startsWith('@') || words[0].startsWith('t=')
      ? { q: 'time', cycles: n0 }
      : { q: 'step', step: n0 };
  }
  if (toks.length === 2 && n0 !== null && /^(cycles?|cy)$/.test(words[1])) return { q: 'time', cycles: n0 };
  const head = words[0];
  if (head === 'step' || head === 'goto' || head === 'go' || head === 'time' || head === 'at') {
    let i = 1;
    if (head === 'go' && words[1] === 'to') i = 2;
    let unit: 'step' | 'time' = head === 'time' || head === 'at' ? 'time' : 'step';
    if (words[i] === 'step') i++;
    else if (words[i] === 'time') {
      unit = 'time';
      i++;
    }
    const v = needValue(toks, i, 'a number', toks[i - 1]);
    const n = readNumber(words[i] ?? '');
    if (n === null) fail(v, `not a whole number (decimal or 0x hex); go to takes ${GOTO_FORMS}`);
    if (toks[i + 1] && /^(cycles?|cy)$/.test(words[i + 1]) && toks.length === i + 2) unit = 'time';
    else if (toks[i + 1]) fail(toks[i + 1], `unexpected after the number; go to takes ${GOTO_FORMS}`);
    return unit === 'time' ? { q: 'time', cycles: n } : { q: 'step', step: n };
  }
  return null;
}

function isEventWord(w: string): boolean {
  return (
    KIND_BY_NAME.has(w) ||
    ['exit', 'exits', 'reason', 'vector', 'vec', 'level', 'fn', 'function', 'assert', 'kind'].includes(w) ||
    /^l\d+$/.test(w)
  );
}

function readTerms(toks: Token[], words: string[], arch: 'vmx' | 'svm'): SearchTerm[] {
  const terms: SearchTerm[] = [];
  for (let i = 0; i < toks.length; i++) {
    const tok = toks[i];
    const w = words[i];
    if (tok.quoted) fail(tok, 'quoted text belongs to `assert "text"`');
    const lvl = /^l(\d+)$/.exec(w);
    if (lvl) {
      terms.push({ t: 'level', level: Number(lvl[1]) });
      continue;
    }
    switch (w) {
      case 'kind': {
        const v = needValue(toks, ++i, 'an event kind', tok);
        const k = KIND_BY_NAME.get(words[i]);
        if (k === undefined)
          fail(v, `not an event kind; kinds are ${Object.values(EVENT_KIND_NAMES).join(', ')}`);
        terms.push({ t: 'kind', kind: k });
        continue;
      }
      case 'exit':
      case 'exits':
      case 'reason': {
        // `exit` alone is every VM exit; `exit 7`, `exit NMI_WINDOW`, `exit 0x80000021`.
        const next = toks[i + 1];
        if (!next || next.quoted || isEventWord(words[i + 1])) {
          terms.push({ t: 'kind', kind: KIND_BY_NAME.get('vmexit')! });
          continue;
        }
        i++;
        const n = readNumber(words[i]);
        if (arch === 'svm') {
          const svm = n ?? SVM_EXIT_BY_NAME.get(words[i]);
          if (svm === undefined)
            fail(
              next,
              'not an SVM exit code: give its number (0x64, -1) or its name (VINTR, SVM_EXIT_VINTR)',
            );
          terms.push({ t: 'exit', reason: svm >>> 0, basic: false });
          continue;
        }
        const code = n ?? EXIT_BY_NAME.get(words[i]);
        if (code === undefined)
          fail(
            next,
            'not an exit reason: give its number (7, 0x80000021) or its name (NMI_WINDOW, EXIT_REASON_NMI_WINDOW)',
          );
        terms.push({ t: 'exit', reason: code, basic: n === null || code <= 0xffff });
        continue;
      }
      case 'vector':
      case 'vec': {
        const v = needValue(toks, ++i, 'a vector number', tok);
        const n = readNumber(words[i] ?? '');
        if (n === null || n > 255) fail(v, 'not a vector: a number from 0 to 255 (decimal or 0x hex)');
        terms.push({ t: 'vector', vector: n });
        continue;
      }
      case 'level': {
        const v = needValue(toks, ++i, 'a level', tok);
        const n = readNumber(words[i].replace(/^l/, ''));
        if (n === null) fail(v, 'not a level: write `level 1` or `L1`');
        terms.push({ t: 'level', level: n });
        continue;
      }
      case 'fn':
      case 'function': {
        const v = needValue(toks, ++i, 'a KVM function name', tok);
        const fn = functionByName(words[i]);
        if (fn === undefined) fail(v, `not a function of the KVM model; ${suggestFunction(words[i])}`);
        terms.push({ t: 'function', fn });
        continue;
      }
      case 'assert':
      case 'assertion':
      case 'asserts': {
        let passed: boolean | null = null;
        let text: string | null = null;
        while (toks[i + 1]) {
          const nw = words[i + 1];
          if (nw === 'passed' || nw === 'pass') passed = true;
          else if (nw === 'failed' || nw === 'fail') passed = false;
          else if (toks[i + 1].quoted) text = toks[i + 1].text;
          else break;
          i++;
        }
        terms.push({ t: 'assert', passed, text });
        continue;
      }
    }
    const kind = KIND_BY_NAME.get(w);
    if (kind !== undefined) {
      terms.push({ t: 'kind', kind });
      continue;
    }
    const exit = EXIT_BY_NAME.get(w);
    if (exit !== undefined) {
      terms.push({ t: 'exit', reason: exit, basic: true });
      continue;
    }
    const fn = functionByName(w);
    if (fn !== undefined) {
      terms.push({ t: 'function', fn });
      continue;
    }
    fail(tok, `not a search word; a query is ${GOTO_FORMS}, or words that all must match: ${EVENT_FORMS}`);
  }
  return terms;
}

function suggestFunction(name: string): string {
  const near = KVM_FUNCTIONS.map((f) => f.name).filter(
    (n) => n.includes(name) || name.includes(n.replace(/^(vmx|kvm)_/, '')),
  );
  return near.length
    ? `did you mean ${near.slice(0, 3).join(', ')}?`
    : `functions are named as in the kernel (vmx_enable_irq_window, enable_nmi_window, handle_external_interrupt, ...)`;
}
