// Errors that stop a run: not exceptions of the simulated machine (those are delivered
// through its IDT) but conditions the lab cannot go on from, each with where it happened.

export type RunErrorKind = 'runtime' | 'limit';

export class RunError extends Error {
  constructor(
    readonly kind: RunErrorKind,
    message: string,
    readonly level: number = 0,
    readonly line: number | null = null,
  ) {
    super(message);
    this.name = 'RunError';
  }
}
