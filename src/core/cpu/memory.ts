// A level's memory: a flat little-endian byte array, with the program image at its origin and
// the stack growing down from the top. There is no paging in this lab; an access outside the
// array, or a stack that grows into the program image, stops the run with a clear message.
import { RunError } from '../errors';

export interface Memory {
  bytes: Uint8Array;
  /** The stack may not grow below this address (the end of the program image). */
  stackLimit: number;
}

let viewOf: Uint8Array | null = null;
let view: DataView = new DataView(new ArrayBuffer(8));

function dv(m: Memory): DataView {
  if (viewOf !== m.bytes) {
    viewOf = m.bytes;
    view = new DataView(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
  }
  return view;
}

function check(m: Memory, addr: number, size: number, what: string): void {
  if (addr < 0 || addr + size > m.bytes.length || !Number.isInteger(addr)) {
    throw new RunError(
      'runtime',
      `${what} at 0x${Math.max(addr, 0).toString(16)} is outside memory (0x0–0x${(m.bytes.length - 1).toString(16)})`,
    );
  }
}

export const loaded = { lo: 0, hi: 0 };

/** Read `size` bytes at `addr` into `loaded` (zero-extended). */
export function read(m: Memory, addr: number, size: number): void {
  check(m, addr, size, 'read');
  const d = dv(m);
  switch (size) {
    case 1:
      loaded.lo = d.getUint8(addr);
      loaded.hi = 0;
      break;
    case 2:
      loaded.lo = d.getUint16(addr, true);
      loaded.hi = 0;
      break;
    case 4:
      loaded.lo = d.getUint32(addr, true);
      loaded.hi = 0;
      break;
    default:
      loaded.lo = d.getUint32(addr, true);
      loaded.hi = d.getUint32(addr + 4, true);
  }
}

export function write(m: Memory, addr: number, size: number, lo: number, hi: number): void {
  check(m, addr, size, 'write');
  const d = dv(m);
  switch (size) {
    case 1:
      d.setUint8(addr, lo & 0xff);
      break;
    case 2:
      d.setUint16(addr, lo & 0xffff, true);
      break;
    case 4:
      d.setUint32(addr, lo >>> 0, true);
      break;
    default:
      d.setUint32(addr, lo >>> 0, true);
      d.setUint32(addr + 4, hi >>> 0, true);
  }
}

/** Check a push of `bytes` below `rsp` against the stack's limit (the program image's end). */
export function checkStack(m: Memory, newRsp: number): void {
  if (newRsp < m.stackLimit) {
    throw new RunError(
      'runtime',
      `stack overflow: RSP would go down to 0x${newRsp.toString(16)}, into the program image (which ends at 0x${m.stackLimit.toString(16)}); give the level more memory or use less stack`,
    );
  }
}
