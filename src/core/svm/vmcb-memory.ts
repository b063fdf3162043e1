// Reading and writing VMCB fields in the host's memory (the VMCB and the host save area are
// ordinary pages; 64-bit fields are kept as JS numbers below 2^53).
import { type Memory, loaded, read, write } from '../cpu/memory';

export function rd32(m: Memory, addr: number): number {
  read(m, addr, 4);
  return loaded.lo >>> 0;
}

export function rd64(m: Memory, addr: number): number {
  read(m, addr, 8);
  return loaded.hi * 0x100000000 + loaded.lo;
}

/** The high half of a 64-bit field. */
export function rdHi(m: Memory, addr: number): number {
  read(m, addr, 8);
  return loaded.hi >>> 0;
}

export function wr32(m: Memory, addr: number, v: number): void {
  write(m, addr, 4, v >>> 0, 0);
}

export function wr64(m: Memory, addr: number, v: number): void {
  write(m, addr, 8, v >>> 0, Math.floor(v / 0x100000000) >>> 0);
}

/** The 64-bit field holding a negative code (EXITCODE -1) or a 32-bit one, zero-extended. */
export function wrCode(m: Memory, addr: number, code: number): void {
  write(m, addr, 8, code >>> 0, code < 0 ? 0xffffffff : 0);
}
