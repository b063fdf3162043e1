// The 64-bit stack the processor pushes to and pops from (event delivery, IRETQ, PUSH, POP,
// CALL, RET): 8 bytes at RSP, which must stay within the level's stack (checkStack).
import type { Hart } from './hart';
import { checkStack, read, write } from './memory';
import { RSP, regNumber, setRegNumber } from './state';

export function push64(h: Hart, lo: number, hi: number): void {
  const rsp = regNumber(h.cpu, RSP) - 8;
  checkStack(h.mem, rsp);
  write(h.mem, rsp, 8, lo, hi);
  setRegNumber(h.cpu, RSP, rsp);
}

/** Pops 8 bytes into `loaded` (cpu/memory). */
export function pop64(h: Hart): void {
  const rsp = regNumber(h.cpu, RSP);
  read(h.mem, rsp, 8);
  setRegNumber(h.cpu, RSP, rsp + 8);
}
