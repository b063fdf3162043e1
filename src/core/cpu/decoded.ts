// The interpreter's own copy of a program's instructions: every instruction and operand in
// one hidden class each, so the hot loop stays monomorphic whatever shapes the assembler
// built. Made once per Program and cached.
import type { AssertOp, Instr, Operand, Program } from '../asm/ir';

export class DOperand {
  constructor(
    /** 0 register, 1 immediate, 2 memory */
    readonly k: number,
    readonly reg: number,
    readonly size: number,
    readonly lo: number,
    readonly hi: number,
    readonly base: number,
    readonly disp: number,
    /** Memory: index register (-1 none) and scale. */
    readonly index: number,
    readonly scale: number,
  ) {}

  static from(o: Operand): DOperand {
    switch (o.k) {
      case 0:
        return new DOperand(0, o.reg, o.size, 0, 0, -1, 0, -1, 1);
      case 1:
        return new DOperand(1, -1, 8, o.lo >>> 0, o.hi >>> 0, -1, 0, -1, 1);
      default:
        return new DOperand(2, -1, o.size, 0, 0, o.base, o.disp, o.index ?? -1, o.scale ?? 1);
    }
  }
}

const NONE = new DOperand(-1, -1, 8, 0, 0, -1, 0, -1, 1);

export class DInstr {
  constructor(
    readonly op: number,
    readonly a: DOperand,
    readonly b: DOperand,
    readonly cond: number,
    readonly n: number,
    readonly addr: number,
    readonly len: number,
    readonly line: number,
    readonly text: string,
    readonly assertOp: AssertOp | '',
  ) {}

  static from(i: Instr): DInstr {
    return new DInstr(
      i.op,
      i.a ? DOperand.from(i.a) : NONE,
      i.b ? DOperand.from(i.b) : NONE,
      i.cond,
      i.n,
      i.addr,
      i.len,
      i.line,
      i.text,
      i.assertOp ?? '',
    );
  }
}

const cache = new WeakMap<Program, DInstr[]>();

export function decodedInstructions(p: Program): DInstr[] {
  let d = cache.get(p);
  if (!d) {
    d = p.instrs.map(DInstr.from);
    cache.set(p, d);
  }
  return d;
}
