// Integer arithmetic and its flags (SDM Vol. 1 "Status Flags"), on 64-bit values held as two
// unsigned 32-bit halves so every result is exact. Results land in the exported scratch
// registers `res.lo`/`res.hi` and the new arithmetic flags in `res.flags`, to keep the
// interpreter free of allocations.
import { RFLAGS } from './state';

export const res = { lo: 0, hi: 0, flags: 0 };

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i,
    n = 0;
  while (b) {
    n += b & 1;
    b >>= 1;
  }
  PARITY[i] = n % 2 === 0 ? RFLAGS.PF : 0;
}

/** ZF, SF and PF of a result of `bits` width. */
function szp(lo: number, hi: number, bits: number): number {
  let f = PARITY[lo & 0xff];
  if (bits === 64) {
    if (lo === 0 && hi === 0) f |= RFLAGS.ZF;
    if (hi >>> 31) f |= RFLAGS.SF;
  } else {
    if (lo === 0) f |= RFLAGS.ZF;
    if ((lo >>> (bits - 1)) & 1) f |= RFLAGS.SF;
  }
  return f;
}

function mask(bits: number): number {
  return bits === 32 ? 0xffffffff : (1 << bits) - 1;
}

export const AluOp = { ADD: 0, SUB: 1, AND: 2, OR: 3, XOR: 4 } as const;

/** a OP b at width `bits` (8, 16, 32 or 64). CMP is SUB without the write; TEST is AND. */
export function alu(op: number, alo: number, ahi: number, blo: number, bhi: number, bits: number): void {
  let lo: number, hi: number, f: number;
  if (bits === 64) {
    switch (op) {
      case AluOp.ADD: {
        const s = alo + blo;
        const c0 = s > 0xffffffff ? 1 : 0;
        const h = ahi + bhi + c0;
        lo = s >>> 0;
        hi = h >>> 0;
        f = szp(lo, hi, 64) | ((alo ^ blo ^ lo) & 0x10);
        if (h > 0xffffffff) f |= RFLAGS.CF;
        if ((~(ahi ^ bhi) & (ahi ^ hi)) >>> 31) f |= RFLAGS.OF;
        break;
      }
      case AluOp.SUB: {
        const b0 = alo < blo ? 1 : 0;
        lo = (alo - blo) >>> 0;
        hi = (ahi - bhi - b0) >>> 0;
        f = szp(lo, hi, 64) | ((alo ^ blo ^ lo) & 0x10);
        if (ahi < bhi + b0) f |= RFLAGS.CF;
        if (((ahi ^ bhi) & (ahi ^ hi)) >>> 31) f |= RFLAGS.OF;
        break;
      }
      default:
        lo = (op === AluOp.AND ? alo & blo : op === AluOp.OR ? alo | blo : alo ^ blo) >>> 0;
        hi = (op === AluOp.AND ? ahi & bhi : op === AluOp.OR ? ahi | bhi : ahi ^ bhi) >>> 0;
        f = szp(lo, hi, 64);
    }
  } else {
    const m = mask(bits);
    const sign = bits - 1;
    // Unsigned operands: `x & 0xffffffff` is a signed int32 in JavaScript, which would turn
    // the unsigned-overflow tests of CF below into signed ones (SDM Vol. 1 "Status Flags": CF
    // is the carry or borrow out of the most-significant bit of the unsigned result).
    const a = (alo & m) >>> 0,
      b = (blo & m) >>> 0;
    hi = 0;
    switch (op) {
      case AluOp.ADD: {
        const s = a + b;
        lo = (s & m) >>> 0;
        f = szp(lo, 0, bits) | ((a ^ b ^ lo) & 0x10);
        if (s > m) f |= RFLAGS.CF;
        if (((~(a ^ b) & (a ^ lo)) >>> sign) & 1) f |= RFLAGS.OF;
        break;
      }
      case AluOp.SUB: {
        lo = ((a - b) & m) >>> 0;
        f = szp(lo, 0, bits) | ((a ^ b ^ lo) & 0x10);
        if (a < b) f |= RFLAGS.CF;
        if ((((a ^ b) & (a ^ lo)) >>> sign) & 1) f |= RFLAGS.OF;
        break;
      }
      default:
        lo = ((op === AluOp.AND ? a & b : op === AluOp.OR ? a | b : a ^ b) & m) >>> 0;
        f = szp(lo, 0, bits);
    }
  }
  res.lo = lo;
  res.hi = hi;
  res.flags = f;
}

/** INC/DEC: ADD/SUB 1 that leave CF as it was (SDM Vol. 2A "INC", "DEC"). */
export function incdec(dec: boolean, alo: number, ahi: number, bits: number, oldFlags: number): void {
  alu(dec ? AluOp.SUB : AluOp.ADD, alo, ahi, 1, 0, bits);
  res.flags = (res.flags & ~RFLAGS.CF) | (oldFlags & RFLAGS.CF);
}

function bitOf(lo: number, hi: number, i: number): number {
  return i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
}

/**
 * SHL/SHR by `count` (already masked to 5 or 6 bits). With a zero count the flags do not
 * change: `res.flags` is then -1 (SDM Vol. 2B "SAL/SAR/SHL/SHR": "If the count is 0, the flags
 * are not affected"). OF is defined only for 1-bit shifts; the lab sets it as for count 1.
 */
export function shift(right: boolean, alo: number, ahi: number, count: number, bits: number): void {
  if (count === 0) {
    res.lo = alo;
    res.hi = ahi;
    res.flags = -1;
    return;
  }
  let lo: number, hi: number, cf: number;
  if (bits === 64) {
    if (!right) {
      cf = bitOf(alo, ahi, 64 - count);
      if (count >= 32) {
        hi = (alo << (count - 32)) >>> 0;
        lo = 0;
      } else {
        hi = ((ahi << count) | (alo >>> (32 - count))) >>> 0;
        lo = (alo << count) >>> 0;
      }
    } else {
      cf = bitOf(alo, ahi, count - 1);
      if (count >= 32) {
        lo = ahi >>> (count - 32);
        hi = 0;
      } else {
        lo = ((alo >>> count) | (ahi << (32 - count))) >>> 0;
        hi = ahi >>> count;
      }
    }
  } else {
    const m = mask(bits);
    const a = alo & m;
    hi = 0;
    if (count > bits) {
      lo = 0;
      cf = 0;
    } else if (!right) {
      cf = (a >>> (bits - count)) & 1;
      lo = count === 32 ? 0 : ((a << count) & m) >>> 0;
    } else {
      cf = (a >>> (count - 1)) & 1;
      lo = count === 32 ? 0 : (a >>> count) >>> 0;
    }
  }
  let f = szp(lo, hi, bits) | (cf ? RFLAGS.CF : 0);
  const msbRes = bits === 64 ? hi >>> 31 : (lo >>> (bits - 1)) & 1;
  const msbOrig = bits === 64 ? ahi >>> 31 : ((alo & mask(bits)) >>> (bits - 1)) & 1;
  if (right ? msbOrig : msbRes ^ cf) f |= RFLAGS.OF;
  res.lo = lo;
  res.hi = hi;
  res.flags = f;
}

/** Unsigned comparison of two 64-bit values: -1, 0 or 1. */
export function compareUnsigned(alo: number, ahi: number, blo: number, bhi: number): number {
  if (ahi !== bhi) return ahi < bhi ? -1 : 1;
  if (alo !== blo) return alo < blo ? -1 : 1;
  return 0;
}
