// From parsed lines to the list of things laid out in memory, in source order: label
// definitions, instructions, data, padding and IDT gates (which take no space).

import type { AsmError } from './ir';
import { analyzeInstruction, type Analyzed, type Size } from './forms';
import { dataElementSize } from './mnemonics';
import type { DirectiveStmt, Expr, InstrStmt, ParsedLine } from './parser';
import { evaluate } from './values';

/** The largest image the assembler builds (code, data and padding). */
export const MAX_IMAGE = 16 * 1024 * 1024;
const MAX_ALIGN = 65536;

export type Item =
  | { kind: 'label'; name: string }
  | { kind: 'instr'; an: Analyzed; stmt: InstrStmt; line: number; len: number; addr: number }
  | { kind: 'data'; size: Size; values: Expr[]; line: number; addr: number }
  | { kind: 'zero'; count: number; line: number }
  | { kind: 'align'; to: number; line: number }
  | { kind: 'gate'; gate: 'interrupt' | 'trap'; vector: Expr; label: Expr; line: number };

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
    const label = e.terms.find((t) => t.kind === 'label');
    errors.push({
      line,
      column: label?.column ?? e.column,
      message: `${what} must be a number, not a label`,
    });
  }
  return v;
}

function directive(d: DirectiveStmt, line: number, errors: AsmError[], items: Item[]): void {
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
    if (label.terms.length !== 1 || label.terms[0].kind !== 'label' || label.terms[0].sign < 0)
      return err(label.column, `expected a label as the gate's handler, found '${label.text}'`);
    items.push({ kind: 'gate', gate: d.name === '.intgate' ? 'interrupt' : 'trap', vector, label, line });
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
 * the items to lay out.
 */
export function collectStatements(lines: ParsedLine[], errors: AsmError[]): Statements {
  const defs = new Map<string, { line: number; column: number }>();
  const dataSize = new Map<string, Size>();
  const firstDefs: boolean[][] = [];
  let pending: string[] = [];
  for (const p of lines) {
    const fresh = p.labels.map((l) => {
      const first = defs.get(l.name);
      if (first) {
        errors.push({
          line: p.line,
          column: l.column,
          message: `duplicate label '${l.name}' (first defined on line ${first.line})`,
        });
        return false;
      }
      defs.set(l.name, { line: l.line, column: l.column });
      pending.push(l.name);
      return true;
    });
    firstDefs.push(fresh);
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
      directive(s, p.line, errors, items);
    }
  });
  return { items, defs, anyInstruction };
}
