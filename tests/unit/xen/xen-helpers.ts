// Helpers of the Xen model tests: a scenario with Xen at L0 on SVM and a guest program at L1,
// and readers of the Xen decisions, the #VMEXITs and the VMCB in Xen's memory.
import type { LabSession } from '../../../src/core/engine/session';
import { XEN_FN_BASE, xenFunction } from '../../../src/core/hypervisors/xen/functions';
import { XEN_HOST } from '../../../src/core/hypervisors/xen/port';
import { EventKind, type EventSpec, open, rows } from '../helpers';

export type XenEvent = EventSpec & { every?: number; until?: number };

export function xenDoc(
  guest: string[],
  events: XenEvent[] = [],
  options: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: 1,
    name: 'xen-test',
    title: 'xen test',
    description: '',
    arch: 'svm',
    levels: [
      { kind: 'xen', options },
      { kind: 'program', program: guest },
    ],
    events,
    limits: { steps: 20000 },
    ...extra,
  };
}

export function runXen(
  guest: string[],
  events: XenEvent[] = [],
  options: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): LabSession {
  return open(xenDoc(guest, events, options, extra));
}

export interface XenDecision {
  step: number;
  fn: string;
  d1: number;
  d2: number;
}

export function xenDecisions(s: LabSession): XenDecision[] {
  return rows(s)
    .filter((r) => r.kind === EventKind.DECISION && r.d0 >= XEN_FN_BASE)
    .map((r) => ({ step: r.step, fn: xenFunction(r.d0).name, d1: r.d1, d2: r.d2 }));
}

/** The #VMEXIT codes of the run, in order (0xffffffff for VMEXIT_INVALID). */
export function exitCodes(s: LabSession): number[] {
  return rows(s)
    .filter((r) => r.kind === EventKind.VMEXIT)
    .map((r) => r.d0);
}

/** A 32-bit VMCB field (its offset) in Xen's memory after step `n`. */
export function vmcb32(s: LabSession, offset: number, n = s.totalSteps): number {
  const b = s.sim.stateAt(n).mems[0].bytes;
  const a = XEN_HOST.VMCB + offset;
  return (b[a] | (b[a + 1] << 8) | (b[a + 2] << 16) | (b[a + 3] << 24)) >>> 0;
}

/** A qword of the guest's (level 1) memory after step `n`. */
export function guestQ(s: LabSession, addr: number, n = s.totalSteps): bigint {
  const b = s.sim.stateAt(n).mems[1].bytes;
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(addr, true);
}

/** The address of a label of the guest program. */
export function guestLabel(s: LabSession, name: string): number {
  const a = s.compiled.programs[1].labels[name];
  if (a === undefined) throw new Error(`no label ${name}`);
  return a;
}

/** Instructions the guest retired (INSTR, IRET and ASSERT steps at lane 1). */
export function guestInstructions(s: LabSession): number {
  const t = s.sim.trace;
  let n = 0;
  for (let i = 0; i < t.length; i++)
    if (
      t.level[i] === 1 &&
      (t.kind[i] === EventKind.INSTR || t.kind[i] === EventKind.IRET || t.kind[i] === EventKind.ASSERT)
    )
      n++;
  return n;
}
