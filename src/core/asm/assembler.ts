// The assembler: parses every line, lays the program out (see layout.ts), resolves labels
// into operands, branch targets, data, IDT gates (written into their table as 64-bit gate
// descriptors) and IDTR pseudo-descriptors, and builds the Program of ir.ts.

import { closestVmcbConstant } from '../svm/vmcb';
import {
  DEFAULT_ORIGIN,
  type AsmError,
  type AssembleResult,
  type IdtGate,
  type IdtTable,
  type Instr,
  type Operand,
  type Program,
} from './ir';
import type { Spec } from './forms';
import { GATE_SIZE, gateDescriptor, idtrPseudoDescriptor } from './idt';
import { layOut, type Lookup } from './layout';
import { looksLikeRegister } from './mnemonics';
import { parseLine, type Expr } from './parser';
import { collectStatements, MAX_IMAGE, type Item } from './statements';
import { allTerms, evaluate, littleEndian, rangeError, toImm, toNumber, type ValueRule } from './values';

export interface AssembleOptions {
  /** Load address of the first byte (default DEFAULT_ORIGIN = 0x1000). */
  origin?: number;
}

/** At most this many errors are reported. */
export const MAX_ERRORS = 50;

const CODE_FILL = 0x90; // NOP

const DATA_RULE: Record<number, ValueRule> = { 1: 'data1', 2: 'data2', 4: 'data4', 8: 'any' };

class Resolver {
  constructor(
    private readonly lookup: Lookup,
    private readonly errors: AsmError[],
  ) {}

  /** The value of `expr` checked against `rule`; null (with errors) when it has none. */
  value(expr: Expr, rule: ValueRule, line: number, column = expr.column): bigint | null {
    let undefinedName = false;
    for (const t of allTerms(expr)) {
      if (t.kind === 'label' && this.lookup(t.name) === undefined) {
        undefinedName = true;
        const message = looksLikeRegister(t.name)
          ? `unknown register '${t.name}'`
          : /^VMCB_/i.test(t.name)
            ? `unknown VMCB field '${t.name}' (closest: ${closestVmcbConstant(t.name)})`
            : `undefined label '${t.name}'`;
        this.errors.push({ line, column: t.column, message });
      }
    }
    if (undefinedName) return null;
    const v = evaluate(expr, this.lookup) ?? 0n;
    const message = rangeError(v, rule);
    if (message) {
      this.errors.push({ line, column, message });
      return null;
    }
    return v;
  }

  operand(s: Spec | null, line: number): Operand | null {
    if (s === null) return null;
    switch (s.k) {
      case 'reg':
        return { k: 0, reg: s.reg, size: s.size };
      case 'cl':
        return { k: 0, reg: 1, size: 4 }; // a register count operand means "count in CL"
      case 'imm': {
        const v = this.value(s.expr, s.rule, line, s.column);
        return toImm(v ?? 0n);
      }
      case 'mem': {
        // Without a base the operand is RIP-relative to an address; with one, a signed disp32.
        const absolute = s.base < 0 && s.index < 0;
        const v = s.disp ? this.value(s.disp, absolute ? 'address' : 'disp', line, s.column) : 0n;
        const m: Operand = { k: 2, base: s.base, disp: toNumber(v ?? 0n), size: s.size };
        if (s.index >= 0) Object.assign(m, { index: s.index, scale: s.scale });
        return m;
      }
    }
  }

  instr(it: Item & { kind: 'instr' }): Instr {
    const { an, stmt } = it;
    const n = an.n ? this.value(an.n.expr, an.n.rule, it.line, an.n.column) : 0n;
    return {
      op: an.op,
      a: this.operand(an.a, it.line),
      b: this.operand(an.b, it.line),
      cond: an.cond,
      n: toNumber(n ?? 0n),
      addr: it.addr,
      len: it.len,
      line: it.line,
      column: stmt.column,
      text: stmt.text,
      assertOp: an.assertOp,
      message: an.message,
    };
  }
}

/** Labels as a plain record (any name, even `__proto__`, is an own property). */
function labelRecord(labels: Map<string, number>): Record<string, number> {
  const rec: Record<string, number> = {};
  for (const [name, addr] of labels) {
    Object.defineProperty(rec, name, { value: addr, enumerable: true, writable: true, configurable: true });
  }
  return rec;
}

function finish(errors: AsmError[]): AssembleResult {
  const sorted = errors
    .map((e, i) => ({ e, i }))
    .sort((x, y) => x.e.line - y.e.line || x.e.column - y.e.column || x.i - y.i)
    .map((x) => x.e);
  return { ok: false, errors: sorted.slice(0, MAX_ERRORS) };
}

export function assembleSource(source: string, options: AssembleOptions = {}): AssembleResult {
  const origin = options.origin ?? DEFAULT_ORIGIN;
  if (!Number.isInteger(origin) || origin < 0 || origin > 0xffffffff) {
    return finish([{ line: 1, column: 1, message: `origin ${origin} is out of range (0–0xffffffff)` }]);
  }
  const lines = source.split(/\r?\n/);
  const errors: AsmError[] = [];
  const parsed = lines.map((text, i) => parseLine(text, i + 1, errors));
  const { items, anyInstruction } = collectStatements(parsed, errors);
  if (!anyInstruction) errors.push({ line: 1, column: 1, message: 'program has no instructions' });

  const layout = layOut(items, origin);
  if (layout.overflowLine !== null) {
    errors.push({
      line: layout.overflowLine,
      column: 1,
      message: `program is larger than ${MAX_IMAGE} bytes`,
    });
    return finish(errors);
  }
  const lookup: Lookup = (name) => layout.labels.get(name);
  const resolve = new Resolver(lookup, errors);
  const size = layout.end - origin;
  const image = new Uint8Array(size);
  const indexAt = new Int32Array(size).fill(-1);
  const instrs: Instr[] = [];
  const tables = new Map<string, IdtTable>();
  for (const it of items) {
    if (it.kind === 'idt') {
      tables.set(it.name, { name: it.name, base: it.addr, gates: new Array<IdtGate | null>(256).fill(null) });
    }
  }

  for (const it of items) {
    if (it.kind === 'instr') {
      indexAt[it.addr - origin] = instrs.length;
      image.fill(CODE_FILL, it.addr - origin, it.addr - origin + it.len);
      instrs.push(resolve.instr(it));
    } else if (it.kind === 'data') {
      it.values.forEach((e, i) => {
        const v = resolve.value(e, DATA_RULE[it.size], it.line);
        if (v !== null) image.set(littleEndian(v, it.size), it.addr - origin + i * it.size);
      });
    } else if (it.kind === 'gate') {
      const table = tables.get(it.table);
      const vector = resolve.value(it.vector, 'idt', it.line);
      const target = resolve.value(it.label, 'address', it.line);
      if (vector === null || target === null || !table) continue;
      const v = Number(vector);
      const first = table.gates[v];
      if (first) {
        errors.push({
          line: it.line,
          column: it.vector.column,
          message: `duplicate IDT gate for vector ${v} (first set on line ${first.line})`,
        });
        continue;
      }
      table.gates[v] = {
        vector: v,
        kind: it.gate,
        target: Number(target),
        label: it.label.text,
        line: it.line,
      };
      image.set(gateDescriptor(it.gate, target), table.base - origin + GATE_SIZE * v);
    } else if (it.kind === 'idtr') {
      const table = tables.get(it.name);
      if (!table) {
        const message = layout.labels.has(it.name)
          ? `'${it.name}' is a label, not an IDT defined by '.idt'`
          : `undefined IDT '${it.name}'`;
        errors.push({ line: it.line, column: it.column, message });
        continue;
      }
      image.set(idtrPseudoDescriptor(table.base), it.addr - origin);
    }
  }
  if (errors.length) return finish(errors);

  // Item order: the `.idt` tables in source order, then the default one, emitted last.
  const idtTables = [...tables.values()];
  const initial = idtTables[0];

  const program: Program = {
    instrs,
    indexAt,
    labels: labelRecord(layout.labels),
    image,
    origin,
    end: layout.end,
    idt: initial.gates,
    idtTables,
    idtBase: initial.base,
    entry: layout.labels.get('start') ?? instrs[0].addr,
    source: lines,
  };
  return { ok: true, program };
}
