// Which VMCS fields and bits the step's decision read (causes/causes.ts), for the VMCS panel:
// per field encoding, the mask of the bits read (a whole-field read is all ones). Pure.
import type { CausesView } from '../../core/causes/causes';

export interface DecidingReads {
  /** Field encoding → the bits a decision read in this VMCS. */
  fields: Map<number, number>;
}

/** The reads of the VMCS (owner, addr) that decided this step, the nested route's included. */
export function decidingReads(causes: CausesView | null, owner: number, addr: number): DecidingReads {
  const fields = new Map<number, number>();
  if (!causes) return { fields };
  const inputs = [...causes.inputs.filter((i) => i.decides), ...(causes.routing?.inputs ?? [])];
  for (const i of inputs) {
    const w = i.what;
    if (w.k !== 'vmcs' || w.owner !== owner || w.addr !== addr) continue;
    fields.set(w.enc, ((fields.get(w.enc) ?? 0) | w.mask) >>> 0);
  }
  return { fields };
}

/** Whether a bit (or subfield) mask overlaps the bits read. */
export function bitRead(readMask: number | undefined, mask: number): boolean {
  return readMask !== undefined && (readMask & mask) !== 0;
}
