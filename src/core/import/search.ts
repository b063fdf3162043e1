// The palette's search (docs/search.md) over an imported trace-cmd trace: the same query words
// as for a run, read by the same parser (engine/search-query.ts), matched against what a
// tracepoint records. An imported trace has no instructions, no guest IDT deliveries, no
// hypervisor decisions by kernel function, no assertions and no state to watch: a query that
// asks for those says so, with the column of its word. Two words exist only here: a
// tracepoint's name (`kvm_inj_virq`) and `vcpu N`.
import { type Query, QueryError, type SearchTerm, parseQuery } from '../engine/search-query';
import { readNumber, tokenize } from '../engine/search-words';
import { EventKind } from '../engine/view';
import { vmxEquivalent } from './closest';
import { IMPORTED_KINDS, type ImportedEvent, type ImportedKind, type ImportedTrace } from './trace-cmd';

const EXITS: readonly ImportedKind[] = [
  'kvm_exit',
  'kvm_nested_vmexit',
  'kvm_nested_vmexit_inject',
  'kvm_nested_intr_vmexit',
];
const ENTRIES: readonly ImportedKind[] = ['kvm_entry', 'kvm_nested_vmenter'];
const INJECTIONS: readonly ImportedKind[] = ['kvm_inj_virq', 'kvm_inj_exception'];

/**
 * The lab's event kinds as tracepoints: exits and entries are themselves; a `delivery` or a
 * `decision` is an injection (trace-cmd records KVM writing the event, not the guest's IDT
 * taking it); `raise`, `iret`, `idle`, `wake`, `shutdown`, `instruction` and `assert` have
 * no tracepoint here.
 */
const KIND_TRACEPOINTS: Partial<Record<number, readonly ImportedKind[]>> = {
  [EventKind.VMEXIT]: EXITS,
  [EventKind.VMENTRY]: ENTRIES,
  [EventKind.DELIVER]: INJECTIONS,
  [EventKind.DECISION]: INJECTIONS,
};

/**
 * The level an event is about, as the lab numbers them when L0 records the trace: the
 * kvm_nested_* tracepoints are about L2 (an exit of L2, an entry into L2), the others about
 * the guest KVM runs, L1 (a documented approximation: a kvm_exit taken while L2 runs is L2's,
 * but its line does not say so).
 */
export function importedLevel(e: ImportedEvent): number {
  return e.kind.startsWith('kvm_nested_') ? 2 : 1;
}

/** The vector an event carries: the injected one, or a valid interruption-information word's. */
function vectorOf(e: ImportedEvent): number | null {
  if (e.vector !== null) return e.vector;
  if (e.intrInfo !== null && e.intrInfo & 0x80000000) return e.intrInfo & 0xff;
  return null;
}

function termMatches(t: SearchTerm, e: ImportedEvent): boolean {
  switch (t.t) {
    case 'kind':
      return KIND_TRACEPOINTS[t.kind]?.includes(e.kind) ?? false;
    case 'exit': {
      if (!e.exit || !EXITS.includes(e.kind)) return false;
      // An SVM exit matches its own code too (`exit 0x64` is vintr) as well as the VMX reason
      // KVM handles it as (`exit 7`, INTERRUPT_WINDOW; closest.ts).
      if (e.exit.isa === 'svm' && e.exit.code === t.reason) return true;
      if (!t.basic) return e.exit.isa !== 'svm' && e.exit.code === t.reason;
      return vmxEquivalent(e.exit, e.fields) === t.reason;
    }
    case 'vector':
      return vectorOf(e) === t.vector;
    case 'level':
      return importedLevel(e) === t.level;
    case 'function':
    case 'assert':
      return false;
  }
}

export interface ImportedSearchResult {
  /** Indices into trace.events, in order. */
  matches: number[];
  /** For `step N`: the event to go to (index), else null. */
  goto: number | null;
}

/** Reads `query` and finds its events in `trace`. Throws QueryError (with the column) otherwise. */
export function searchImported(trace: ImportedTrace, query: string): ImportedSearchResult {
  // Take out the words only an imported trace has, keeping every other word at its column.
  let rest = query;
  const kinds: ImportedKind[] = [];
  let vcpu: number | null = null;
  const blank = (at: number, len: number) => {
    rest = rest.slice(0, at) + ' '.repeat(len) + rest.slice(at + len);
  };
  const toks = tokenize(query);
  for (let i = 0; i < toks.length; i++) {
    const tok = toks[i];
    const w = tok.quoted ? '' : tok.text.toLowerCase();
    if ((IMPORTED_KINDS as readonly string[]).includes(w)) {
      kinds.push(w as ImportedKind);
      blank(tok.at, tok.text.length);
    } else if (w === 'vcpu') {
      const v = toks[i + 1];
      const n = v && !v.quoted ? readNumber(v.text) : null;
      if (n === null)
        throw new QueryError(
          `'vcpu' at column ${tok.at + 1}: a vCPU number is missing after it`,
          tok.at + 1,
          4,
        );
      vcpu = n;
      blank(tok.at, v.at + v.text.length - tok.at);
      i++;
    }
  }
  let parsed: Query | null = null;
  if (rest.trim() !== '') parsed = parseQuery(rest);
  if (parsed?.q === 'step') {
    const n = parsed.step;
    if (n < 1 || n > trace.events.length)
      throw new QueryError(`event ${n} is not in the trace: it has events 1 to ${trace.events.length}`, 1, 1);
    return { matches: [n - 1], goto: n - 1 };
  }
  if (parsed && parsed.q !== 'events') throw unsupported(query, parsed);
  const terms = parsed?.terms ?? [];
  const bad = terms.find((t) => t.t === 'function' || t.t === 'assert');
  if (bad) throw unsupported(query, parsed!);
  const matches: number[] = [];
  trace.events.forEach((e, i) => {
    if (kinds.length > 0 && !kinds.includes(e.kind)) return;
    if (vcpu !== null && e.vcpu !== vcpu) return;
    if (terms.every((t) => termMatches(t, e))) matches.push(i);
  });
  return { matches, goto: null };
}

function unsupported(query: string, q: Query): QueryError {
  const what =
    q.q === 'time'
      ? 'a time in TSC cycles (the trace counts seconds; use `step N` for its N-th event)'
      : q.q === 'change'
        ? 'change of state to watch (the trace records events, not registers or VMCS fields)'
        : 'kernel functions and assertions (the trace records tracepoints)';
  return new QueryError(
    `an imported trace has no ${what}; search it by tracepoint (kvm_exit, kvm_inj_virq, ...), \`exit N|NAME\`, \`vector N\`, \`vcpu N\`, \`L1\`/\`L2\` or a kind (vmexit, vmentry, delivery)`,
    1,
    Math.max(1, query.trim().length),
  );
}
