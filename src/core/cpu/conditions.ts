// The conditions the interpreter tests: Jcc's condition codes on RFLAGS and the comparisons
// of the lab's `assert`.
import { Cond } from '../asm/ir';
import { RFLAGS } from './state';

/** Jcc conditions from RFLAGS (SDM Vol. 2A "Jcc—Jump if Condition Is Met"). */
export function conditionHolds(cond: number, f: number): boolean {
  let r: boolean;
  switch (cond & ~1) {
    case Cond.O:
      r = (f & RFLAGS.OF) !== 0;
      break;
    case Cond.B:
      r = (f & RFLAGS.CF) !== 0;
      break;
    case Cond.E:
      r = (f & RFLAGS.ZF) !== 0;
      break;
    case Cond.BE:
      r = (f & (RFLAGS.CF | RFLAGS.ZF)) !== 0;
      break;
    case Cond.S:
      r = (f & RFLAGS.SF) !== 0;
      break;
    case Cond.L:
      r = ((f & RFLAGS.SF) !== 0) !== ((f & RFLAGS.OF) !== 0);
      break;
    default: // Cond.LE
      r = (f & RFLAGS.ZF) !== 0 || ((f & RFLAGS.SF) !== 0) !== ((f & RFLAGS.OF) !== 0);
  }
  return cond & 1 ? !r : r;
}

/** An `assert` comparison on the result of an unsigned compare (-1, 0, 1). */
export function compareAssert(op: string, c: number): boolean {
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    default:
      return c >= 0;
  }
}
