// The assembly language of the lab: `assemble` turns source text into a Program (ir.ts).
// See docs/assembly.md for the language reference.

import { assembleSource } from './assembler';
import type { AssembleResult } from './ir';

export * from './ir';
export type { AssembleOptions } from './assembler';
export { VMX_CONSTANTS, vmxConstant, type AsmConstant, type AsmConstantKind } from './constants';
export { GATE_SELECTOR, GATE_SIZE, GATE_TYPE, gateDescriptor, idtrPseudoDescriptor } from './idt';

/**
 * Assembles a lab program. Never throws for bad input: errors come back as
 * `{ ok: false, errors }`, sorted by line and column (at most 50).
 */
export function assemble(source: string, options?: { origin?: number }): AssembleResult {
  try {
    return assembleSource(source, options);
  } catch (e) {
    // A bug, not bad input: still report it the way errors are reported.
    return { ok: false, errors: [{ line: 1, column: 1, message: `internal assembler error: ${String(e)}` }] };
  }
}
