// Layout: addresses of every item from the origin, in source order, and branch relaxation.
// Lengths start at their smallest and only grow until a pass changes nothing, so labels,
// immediates and displacements that depend on addresses settle on the shortest form that
// is consistent with the final addresses (the classic assembler fixpoint).

import { IDT_SIZE, Op } from './ir';
import { PSEUDO_DESCRIPTOR, type Spec } from './forms';
import { branchLength, instrLength, type LenOperand } from './lengths';
import { MAX_IMAGE, type Item } from './statements';
import { evaluate, toNumber } from './values';

export type Lookup = (name: string) => number | undefined;

export interface Layout {
  /** Address of each label. */
  labels: Map<string, number>;
  end: number;
  /** Line of the first item that goes past MAX_IMAGE, if any. */
  overflowLine: number | null;
}

function lenOperand(s: Spec | null, lookup: Lookup): LenOperand | null {
  if (s === null) return null;
  switch (s.k) {
    case 'imm':
      return { k: 'imm', value: evaluate(s.expr, lookup) };
    case 'mem':
      return {
        k: 'mem',
        base: s.base,
        index: s.index,
        size: s.size,
        disp: s.disp ? evaluate(s.disp, lookup) : 0n,
      };
    default:
      return s;
  }
}

type InstrItem = Item & { kind: 'instr' };

/** Length of an instruction given the addresses known so far (unknown values: shortest). */
function lengthOf(it: InstrItem, lookup: Lookup): number {
  const { an } = it;
  if (an.op === Op.JMP || an.op === Op.JCC || an.op === Op.CALL) {
    const target = an.n ? evaluate(an.n.expr, lookup) : null;
    return branchLength(an.op, it.len, it.addr, target === null ? null : toNumber(target));
  }
  const cr = an.op === Op.MOV_TO_CR || an.op === Op.MOV_FROM_CR ? Number(an.n?.expr.terms[0].value ?? 0n) : 0;
  return instrLength(an.op, lenOperand(an.a, lookup), lenOperand(an.b, lookup), cr);
}

/** Assigns addresses to items with their current lengths. */
function place(items: Item[], origin: number): Layout {
  const labels = new Map<string, number>();
  let addr = origin;
  let overflowLine: number | null = null;
  for (const it of items) {
    switch (it.kind) {
      case 'label':
        labels.set(it.name, addr);
        break;
      case 'instr':
        it.addr = addr;
        addr += it.len;
        break;
      case 'data':
        it.addr = addr;
        addr += it.size * it.values.length;
        break;
      case 'zero':
        addr += it.count;
        break;
      case 'align':
        addr = Math.ceil(addr / it.to) * it.to;
        break;
      case 'idt':
        it.addr = addr;
        addr += IDT_SIZE;
        break;
      case 'idtr':
        it.addr = addr;
        addr += PSEUDO_DESCRIPTOR;
        break;
      case 'gate':
        break;
    }
    if (overflowLine === null && addr - origin > MAX_IMAGE && it.kind !== 'label' && it.kind !== 'gate') {
      overflowLine = it.line;
    }
  }
  return { labels, end: addr, overflowLine };
}

/** Lays the items out from `origin`, growing lengths until addresses are stable. */
export function layOut(items: Item[], origin: number): Layout {
  const instrs = items.filter((it): it is InstrItem => it.kind === 'instr');
  const unknown: Lookup = () => undefined;
  for (const it of instrs) it.len = lengthOf(it, unknown);
  for (;;) {
    const layout = place(items, origin);
    if (layout.overflowLine !== null) return layout;
    const lookup: Lookup = (name) => layout.labels.get(name);
    let changed = false;
    for (const it of instrs) {
      const len = Math.max(it.len, lengthOf(it, lookup));
      if (len !== it.len) {
        it.len = len;
        changed = true;
      }
    }
    if (!changed) return layout;
  }
}
