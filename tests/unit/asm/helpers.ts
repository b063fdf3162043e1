// Shared helpers of the assembler tests.

import { assemble, type AsmError, type Instr, type Program } from '../../../src/core/asm';

/** Assembles `source`, failing the test with the errors when it does not assemble. */
export function program(source: string, origin?: number): Program {
  const r = assemble(source, origin === undefined ? undefined : { origin });
  if (!r.ok)
    throw new Error(
      'unexpected errors:\n' + r.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join('\n'),
    );
  return r.program;
}

/** The single instruction of a one-line program (labels `label`, `data` exist after it). */
export function one(line: string): Instr {
  const p = program(`${line}\nlabel: .dq 0\ndata: .dd 0`);
  return p.instrs[0];
}

/** The errors of a source that must not assemble. */
export function errors(source: string): AsmError[] {
  const r = assemble(source);
  if (r.ok) throw new Error('expected errors, but it assembled');
  return r.errors;
}

/** The errors as `line:column message` strings, easy to compare. */
export function errorList(source: string): string[] {
  return errors(source).map((e) => `${e.line}:${e.column} ${e.message}`);
}
