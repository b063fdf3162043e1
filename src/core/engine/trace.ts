// The trace: an append-only record of every step, kept as typed-array columns (26 bytes an
// event) so that a million-step run stays small. Step N's event is at index N-1.
import type { StepRecord } from '../cpu/hart';

export class Trace {
  length = 0;
  kind = new Uint8Array(1024);
  level = new Uint8Array(1024);
  time = new Float64Array(1024);
  rip = new Uint32Array(1024);
  d0 = new Uint32Array(1024);
  d1 = new Uint32Array(1024);
  d2 = new Uint32Array(1024);

  private grow(): void {
    const n = this.kind.length * 2;
    const g = <T extends Uint8Array | Uint32Array | Float64Array>(a: T, C: new (n: number) => T): T => {
      const b = new C(n);
      b.set(a);
      return b;
    };
    this.kind = g(this.kind, Uint8Array);
    this.level = g(this.level, Uint8Array);
    this.time = g(this.time, Float64Array);
    this.rip = g(this.rip, Uint32Array);
    this.d0 = g(this.d0, Uint32Array);
    this.d1 = g(this.d1, Uint32Array);
    this.d2 = g(this.d2, Uint32Array);
  }

  append(r: StepRecord, level: number, time: number): void {
    if (this.length === this.kind.length) this.grow();
    const i = this.length++;
    this.kind[i] = r.kind;
    this.level[i] = level;
    this.time[i] = time;
    this.rip[i] = r.rip;
    this.d0[i] = r.d0;
    this.d1[i] = r.d1;
    this.d2[i] = r.d2;
  }

  /** Bytes held per recorded step (capacity included). */
  bytesPerStep(): number {
    const cap = this.kind.length;
    return this.length ? (cap * (1 + 1 + 8 + 4 * 4)) / this.length : 0;
  }
}
