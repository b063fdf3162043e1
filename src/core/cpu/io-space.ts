// The I/O address space (SDM Vol. 1 "Input/Output": 64K 8-bit ports). The lab has no device
// behind any port: a read of an unbacked port returns all ones (the floating bus of a PC) and
// a write is dropped. docs/model.md "Choices the lab makes".

/** IN from `port`: `size` bytes (1, 2 or 4), as an unsigned value. */
export function ioRead(_port: number, size: number): number {
  return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
}

/** OUT to `port`: nothing is behind it. */
export function ioWrite(_port: number, _size: number, _value: number): void {
  // No device: the write is dropped.
}
