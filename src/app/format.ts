// How numbers are written on the page: addresses and registers in 64-bit hex, vectors as
// 0x30, cycles with thousands separators.

export function hex64(value: number): string {
  return '0x' + Math.max(0, value).toString(16).padStart(16, '0');
}

export function hexVector(vector: number): string {
  return '0x' + vector.toString(16).padStart(2, '0');
}

export function hexShort(value: number): string {
  return '0x' + value.toString(16);
}

export function cycles(value: number): string {
  return value.toLocaleString('en-US');
}

/** Splits "0x0000000000001004" into its leading zeros and the significant digits. */
export function splitLeadingZeros(hex: string): [string, string] {
  const m = /^(0x0*)(.*)$/i.exec(hex);
  if (!m) return ['', hex];
  if (m[2] === '') return [m[1].slice(0, -1), '0'];
  return [m[1], m[2]];
}
