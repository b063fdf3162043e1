// From parsed lines to the list of things laid out in memory, in source order: label
// definitions, instructions, data, padding, IDTs, IDTR pseudo-descriptors and IDT gates
// (which take no space of their own: they are written into their table).

import { DEFAULT_IDT, type AsmError } from './ir';
import { analyzeInstruction, type Analyzed, type Size } from './forms';
import { dataElementSize, reservedReason } from './mnemonics';
import type { DirectiveStmt, Expr, InstrStmt, ParsedLine } from './parser';
import { allTerms, evaluate } from './values';

/** The largest image the assembler builds (code, data and padding). */
export const MAX_IMAGE = 16 * 1024 * 1024;
const MAX_ALIGN = 65536;

export type Item =
  | { kind: 'label'; name: string }
  | { kind: 'instr'; an: Analyzed; stmt: InstrStmt; line: number; len: number; addr: number }
  | { kind: 'data'; size: Size; values: Expr[]; line: number; addr: number }
  | { kind: 'zero'; count: number; line: number }
  | { kind: 'align'; to: number; line: number }
  /** A gate for `table` (the name of an `.idt`, or DEFAULT_IDT). */
  | { kind: 'gate'; gate: 'interrupt' | 'trap'; vector: Expr; label: Expr; line: number; table: string }
  /** An IDT: 4096 bytes, preceded by its `align` (16) and `label` items. */
  | { kind: 'idt'; name: string; line: number; addr: number }
  /** An IDTR pseudo-descriptor (10 bytes) for the table `name`. */
  | { kind: 'idtr'; name: string; column: number; line: number; addr: number };

/** The alignment of an IDT (SDM: the base should be 8-byte aligned; the lab uses 16). */
export const IDT_ALIGN = 16;

export interface Statements {
  items: Item[];
  /** First definition of each label. */
  defs: Map<string, { line: number; column: number }>;
  /** True when any line holds an instruction (even one with errors). */
  anyInstruction: boolean;
}

/** A directive argument that must be known before layout: a number, no labels. */
function constant(e: Expr, what: string, line: number, errors: AsmError[]): bigint | null {
  const v = evaluate(e, () => undefined);
  if (v === null) {
    const label = allTerms(e).find((t) => t.kind === 'label');
    errors.push({
      line,
      column: label?.column ?? e.column,
      message: `${what} must be a number, not a label`,
    });
  }
  return v;
}

/** The name argument of `.idt NAME` / `.idtr NAME`, or null (with an error). */
function nameArg(
  d: DirectiveStmt,
  line: number,
  errors: AsmError[],
): { name: string; column: number } | null {
  if (d.args.length !== 1) {
    errors.push({ line, column: d.column, message: `'${d.name}' needs the name of an IDT` });
    return null;
  }
  const [e] = d.args;
  const [t] = e.terms;
  if (e.terms.length !== 1 || t.kind === 'num' || t.sign < 0 || t.factors) {
    errors.push({ line, column: e.column, message: `expected the name of an IDT, found '${e.text}'` });
    return null;
  }
  return { name: t.name, column: t.column };
}

/** Where the gates go: the current table (null after an `.idt` with an error), and what was seen. */
interface IdtContext {
  current: string | null;
  /** A gate went to the default table. */
  defaultUsed: boolean;
  /** The program has an `.idt` line, even a wrong one. */
  anyIdt: boolean;
}

/** The items of an IDT: 16-byte alignment, its label, its 4096 bytes. */
function idtItems(name: string, line: number): Item[] {
  return [
    { kind: 'align', to: IDT_ALIGN, line },
    { kind: 'label', name },
    { kind: 'idt', name, line, addr: 0 },
  ];
}

function directive(
  d: DirectiveStmt,
  line: number,
  errors: AsmError[],
  items: Item[],
  idt: IdtContext,
  table: string | null,
): void {
  const err = (column: number, message: string): void => {
    errors.push({ line, column, message });
  };
  const size = dataElementSize(d.name);
  if (size !== undefined) {
    if (d.args.length === 0) return err(d.column, `'${d.name}' needs at least one value`);
    items.push({ kind: 'data', size, values: d.args, line, addr: 0 });
    return;
  }
  if (d.name === '.intgate' || d.name === '.trapgate') {
    if (d.args.length !== 2) return err(d.column, `'${d.name}' needs a vector and a label`);
    const [vector, label] = d.args;
    if (
      label.terms.length !== 1 ||
      label.terms[0].kind !== 'label' ||
      label.terms[0].sign < 0 ||
      label.terms[0].factors
    )
      return err(label.column, `expected a label as the gate's handler, found '${label.text}'`);
    if (idt.current === null) return; // after an `.idt` with an error: no cascade
    if (idt.current === DEFAULT_IDT) idt.defaultUsed = true;
    const gate = d.name === '.intgate' ? 'interrupt' : 'trap';
    items.push({ kind: 'gate', gate, vector, label, line, table: idt.current });
    return;
  }
  if (d.name === '.idt') {
    idt.anyIdt = true;
    idt.current = table;
    if (table !== null) items.push(...idtItems(table, line));
    return;
  }
  if (d.name === '.idtr') {
    const arg = nameArg(d, line, errors);
    if (arg) items.push({ kind: 'idtr', name: arg.name, column: arg.column, line, addr: 0 });
    return;
  }
  // .zero N, .align N
  if (d.args.length !== 1) return err(d.column, `'${d.name}' needs one number`);
  const [arg] = d.args;
  const v = constant(arg, `the argument of '${d.name}'`, line, errors);
  if (v === null) return;
  if (d.name === '.zero') {
    if (v < 0n || v > BigInt(MAX_IMAGE))
      return err(arg.column, `'.zero' count ${v} is out of range (0–${MAX_IMAGE})`);
    items.push({ kind: 'zero', count: Number(v), line });
  } else {
    if (v < 1n || (v & (v - 1n)) !== 0n) return err(arg.column, `alignment ${v} is not a power of two`);
    if (v > BigInt(MAX_ALIGN)) return err(arg.column, `alignment ${v} is too large (at most ${MAX_ALIGN})`);
    items.push({ kind: 'align', to: Number(v), line });
  }
}

/**
 * Collects labels (reporting duplicates), the element size of the data each label marks
 * (the `.db/.dw/.dd/.dq` right after it), checks instructions' operand forms, and lists
 * the items to lay out. An `.idt NAME` defines the label NAME; the default IDT `__idt` is
 * added at the end when gates were written before any `.idt`, or when there is no `.idt`.
 */
export function collectStatements(lines: ParsedLine[], errors: AsmError[]): Statements {
  const defs = new Map<string, { line: number; column: number }>();
  const dataSize = new Map<string, Size>();
  const firstDefs: boolean[][] = [];
  /** The table name each `.idt` line defines, null when it has an error. */
  const tables: (string | null)[] = [];
  let pending: string[] = [];
  const define = (name: string, line: number, column: number): boolean => {
    const first = defs.get(name);
    if (first) {
      errors.push({
        line,
        column,
        message: `duplicate label '${name}' (first defined on line ${first.line})`,
      });
      return false;
    }
    defs.set(name, { line, column });
    return true;
  };
  for (const p of lines) {
    const fresh = p.labels.map((l) => {
      if (!define(l.name, p.line, l.column)) return false;
      pending.push(l.name);
      return true;
    });
    firstDefs.push(fresh);
    let table: string | null = null;
    if (p.stmt?.kind === 'directive' && p.stmt.name === '.idt') {
      const arg = nameArg(p.stmt, p.line, errors);
      const why = arg && reservedReason(arg.name);
      if (arg && why) {
        errors.push({
          line: p.line,
          column: arg.column,
          message: `'${arg.name}' is ${why} and cannot be a label`,
        });
      } else if (arg && define(arg.name, p.line, arg.column)) {
        table = arg.name;
      }
    }
    tables.push(table);
    if (p.stmt || p.failed) {
      const size = p.stmt?.kind === 'directive' ? dataElementSize(p.stmt.name) : undefined;
      if (size !== undefined) for (const name of pending) dataSize.set(name, size);
      pending = [];
    }
  }

  const items: Item[] = [];
  const labels = {
    defined: (name: string) => defs.has(name),
    dataSize: (name: string) => dataSize.get(name),
  };
  let anyInstruction = false;
  const idt: IdtContext = { current: DEFAULT_IDT, defaultUsed: false, anyIdt: false };
  lines.forEach((p, i) => {
    p.labels.forEach((l, j) => {
      if (firstDefs[i][j]) items.push({ kind: 'label', name: l.name });
    });
    anyInstruction ||= p.hasInstruction;
    const s = p.stmt;
    if (s?.kind === 'instr') {
      const an = analyzeInstruction(s, p.line, labels, errors);
      if (an) items.push({ kind: 'instr', an, stmt: s, line: p.line, len: 0, addr: 0 });
    } else if (s?.kind === 'directive') {
      directive(s, p.line, errors, items, idt, tables[i]);
    }
  });
  if (idt.defaultUsed || !idt.anyIdt) {
    const last = Math.max(1, lines.length);
    defs.set(DEFAULT_IDT, { line: last, column: 1 });
    items.push(...idtItems(DEFAULT_IDT, last));
  }
  return { items, defs, anyInstruction };
}
