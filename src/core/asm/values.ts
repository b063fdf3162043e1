// Values of expressions: 64-bit integers held as bigint, the ranges each use accepts, and
// their conversion to the IR's two 32-bit halves.

import type { ImmOperand } from './ir';
import { MAX_U64 } from './lexer';
import type { Expr, Term } from './parser';

export const MIN_I64 = -(1n << 63n);

/** Where a value goes, which decides the range it must fit. */
export type ValueRule =
  | 'any' // a 64-bit value
  | 'bits32' // a 32-bit operand: signed or unsigned 32-bit
  | 'bits16'
  | 'bits8'
  | 'signed32' // sign-extended imm32 of a 64-bit operation
  | 'data1'
  | 'data2'
  | 'data4'
  | 'count' // shift count
  | 'vector' // int n
  | 'port' // in/out imm8 port
  | 'idt' // .intgate / .trapgate vector
  | 'cycles' // work n
  | 'target' // branch target address
  | 'address' // absolute address: a base-less memory operand, an IDT gate's handler
  | 'disp'; // memory displacement

/** The value of one term, its factors multiplied in; null when a label has no address (yet). */
function termValue(t: Term, lookup: (name: string) => number | undefined): bigint | null {
  let x = t.value;
  if (t.kind === 'label') {
    const addr = lookup(t.name);
    if (addr === undefined) return null;
    x = BigInt(addr);
  }
  if (t.sign < 0) x = -x;
  for (const f of t.factors ?? []) {
    const y = termValue(f, lookup);
    if (y === null) return null;
    x *= y;
  }
  return x;
}

/**
 * Value of `expr`, or null when one of its labels has no address (yet). `*` multiplies within
 * a term; `|` is the bitwise or of the two's-complement values of the sums on either side.
 */
export function evaluate(expr: Expr, lookup: (name: string) => number | undefined): bigint | null {
  let ored = 0n;
  let sum = 0n;
  for (const t of expr.terms) {
    const x = termValue(t, lookup);
    if (x === null) return null;
    if (t.or) {
      ored |= sum;
      sum = 0n;
    }
    sum += x;
  }
  return ored | sum;
}

/** Every term of an expression, the factors of products included. */
export function allTerms(expr: Expr): Term[] {
  const out: Term[] = [];
  const walk = (t: Term) => {
    out.push(t);
    t.factors?.forEach(walk);
  };
  expr.terms.forEach(walk);
  return out;
}

/** Error message when `value` does not fit where `rule` says, else null. */
export function rangeError(value: bigint, rule: ValueRule): string | null {
  if (value < MIN_I64 || value > MAX_U64) return `value ${value} does not fit in 64 bits`;
  const v = BigInt.asIntN(64, value);
  const within = (x: bigint, lo: bigint, hi: bigint) => x >= lo && x <= hi;
  const bits = (n: bigint) => within(v, -(1n << (n - 1n)), (1n << n) - 1n);
  switch (rule) {
    case 'any':
      return null;
    case 'bits32':
      return bits(32n) ? null : `immediate ${value} does not fit in 32 bits`;
    case 'bits16':
      return bits(16n) ? null : `immediate ${value} does not fit in 16 bits`;
    case 'bits8':
      return bits(8n) ? null : `immediate ${value} does not fit in 8 bits`;
    case 'signed32':
      return within(v, -(1n << 31n), (1n << 31n) - 1n)
        ? null
        : `immediate ${value} does not fit in signed 32 bits`;
    case 'data1':
      return bits(8n) ? null : `value ${value} does not fit in 1 byte`;
    case 'data2':
      return bits(16n) ? null : `value ${value} does not fit in 2 bytes`;
    case 'data4':
      return bits(32n) ? null : `value ${value} does not fit in 4 bytes`;
    case 'count':
      return within(value, 0n, 255n) ? null : `shift count ${value} is out of range (0–255)`;
    case 'vector':
      return within(value, 0n, 255n) ? null : `interrupt vector ${value} is out of range (0–255)`;
    case 'port':
      return within(value, 0n, 255n)
        ? null
        : `port ${value} is out of range (0–255; use dx for a 16-bit port)`;
    case 'idt':
      return within(value, 0n, 255n) ? null : `IDT vector ${value} is out of range (0–255)`;
    case 'cycles':
      return within(value, 1n, BigInt(Number.MAX_SAFE_INTEGER))
        ? null
        : `cycle count ${value} is out of range (1–${Number.MAX_SAFE_INTEGER})`;
    case 'target':
      return within(value, 0n, 0xffffffffn) ? null : `branch target ${value} is out of range (0–0xffffffff)`;
    case 'address':
      return within(value, 0n, 0xffffffffn) ? null : `address ${value} is out of range (0–0xffffffff)`;
    case 'disp':
      return within(v, -(1n << 31n), (1n << 31n) - 1n)
        ? null
        : `displacement ${value} does not fit in signed 32 bits`;
  }
}

/** The IR immediate of a value: its 64-bit two's complement in two unsigned halves. */
export function toImm(value: bigint): ImmOperand {
  const u = BigInt.asUintN(64, value);
  return { k: 1, lo: Number(u & 0xffffffffn), hi: Number(u >> 32n) };
}

/** A value as a (signed) JS number, for displacements, targets and counts. */
export function toNumber(value: bigint): number {
  return Number(BigInt.asIntN(64, value));
}

/** Little-endian bytes of the low `size` bytes of a value. */
export function littleEndian(value: bigint, size: number): number[] {
  const u = BigInt.asUintN(size * 8, value);
  const out: number[] = [];
  for (let i = 0; i < size; i++) out.push(Number((u >> BigInt(8 * i)) & 0xffn));
  return out;
}
