// The read set of one step: which state a decision READ to decide (issue 11 item 3, docs/causes.md).
// The models note their reads here where they decide — the processor's boundary checks
// (cpu/boundary.ts, vmx/non-root.ts), KVM's decisions (hypervisors/kvm) — but only while a
// log is attached to the hart (`h.why`). A run never attaches one: the log is filled when the
// worker replays one step to explain it (causes/causes.ts), so recording costs a run one
// null test per read and nothing else.
import { ppr } from '../cpu/apic';
import type { ApicState } from '../cpu/apic';
import type { Hart } from '../cpu/hart';

/** What was read, located so that its value can be found in any state of the run. */
export type WhatRead =
  /** A VMCS field's bits: owner 0 = a VMCS of the processor; owner k > 0 = a VMCS of level k
   *  kept in memory by the KVM at level k - 1 (a vmcs12), as the VMCS panel names them. */
  | { k: 'vmcs'; owner: number; addr: number; enc: number; mask: number }
  /** A register, flag or interruptibility bit of a level, as search-targets names them
   *  (`rflags` with a bit, `blocking_by_sti`, `blocking_by_mov_ss`, `blocking_by_nmi`,
   *  `virtual_nmi_blocking`), or the
   *  processor's own latches (`nmi_pending`, `mtf_pending`, `pending_exit`, `debug_trap`,
   *  `preemption_timer_expired`, `activity`, `gif`). */
  | { k: 'cpu'; lane: number; name: string; bit: number }
  /** An interrupt controller: the processor's (lane -1) or the virtual APIC KVM at `lane`
   *  emulates. `irr` = the highest requested vector, `ppr` = the processor priority. */
  | { k: 'apic'; lane: number; name: 'irr' | 'ppr' }
  /** A variable of the KVM model at `lane`, by its kernel name (search-targets' KVM_VARIABLES). */
  | { k: 'kvm'; lane: number; name: string }
  /** A variable of the Xen model at `lane` (`nmi_pending`, `vnmi`: targets.ts XEN_VARIABLES). */
  | { k: 'xen'; lane: number; name: string }
  /** AMD SVM: bits of the running guest's int_ctl (`mask`), or one of its intercepts (`bit`),
   *  as the processor holds them from VMRUN. */
  | { k: 'svm'; lane: number; name: 'int_ctl' | 'intercept'; mask: number }
  /** One bit of a bitmap in memory the processor consults (an I/O bitmap's bit for a port, an
   *  MSR bitmap's bit for an MSR): in the memory of lane `lane`, byte `addr`, bit `bit`.
   *  `name` says which bitmap and entry ("I/O bitmap A, port 0x80"). */
  | { k: 'mem'; lane: number; addr: number; bit: number; name: string };

export interface Read {
  what: WhatRead;
  /** The value read (a bit as 0/1, a vector, a number). */
  value: number;
  /** True for the inputs of the condition that chose the outcome; false for the checks of
   *  higher priority that were evaluated and found nothing due. */
  decides: boolean;
  /** Who read it: the processor's boundary check, or the KVM at a level. */
  by: 'processor' | `KVM L${number}` | `Xen L${number}`;
  group: number;
}

/** Under nesting: how KVM routed an exit of L2 (nested_vmx_reflect_vmexit). */
export interface NestedRule {
  /** The kernel function whose answer decided (nested_vmx_l0_wants_exit or nested_vmx_l1_wants_exit). */
  fn: string;
  /** The level that handles the exit. */
  to: 'L0' | 'L1';
  /** The KVM that decided (its lane). */
  lane: number;
  reason: number;
}

export interface WhyLog {
  reads: Read[];
  /** Check counter: reads of one priority check share a group. */
  group: number;
  rule: NestedRule | null;
  /** Groups that gate every later check (the interrupt shadows at a bare-metal boundary): their
   *  reads decide whatever event a later check chooses. */
  gates: number[];
}

export function newWhyLog(): WhyLog {
  return { reads: [], group: 0, rule: null, gates: [] };
}

/** Processor reads (ids, so that the boundary checks pass a number, not an object). */
export const HW = {
  PENDING_EXIT: 1,
  MTF_PENDING: 2,
  DEBUG_TRAP: 3,
  TIMER_EXPIRED: 4,
  NMI_PENDING: 5,
  NMI_BLOCKED: 6,
  VNMI_BLOCKED: 7,
  SHADOW_STI: 8,
  SHADOW_MOVSS: 9,
  RFLAGS_IF: 10,
  ACTIVITY: 11,
  GIF: 12,
  APIC_IRR: 13,
  APIC_PPR: 14,
} as const;

const CPU_NAMES: Record<number, [string, number]> = {
  [HW.PENDING_EXIT]: ['pending_exit', -1],
  [HW.MTF_PENDING]: ['mtf_pending', -1],
  [HW.DEBUG_TRAP]: ['debug_trap', -1],
  [HW.TIMER_EXPIRED]: ['preemption_timer_expired', -1],
  [HW.NMI_PENDING]: ['nmi_pending', -1],
  [HW.NMI_BLOCKED]: ['blocking_by_nmi', -1],
  [HW.VNMI_BLOCKED]: ['virtual_nmi_blocking', -1],
  [HW.SHADOW_STI]: ['blocking_by_sti', -1],
  [HW.SHADOW_MOVSS]: ['blocking_by_mov_ss', -1],
  [HW.RFLAGS_IF]: ['rflags', 9],
  [HW.ACTIVITY]: ['activity', -1],
  [HW.GIF]: ['gif', -1],
};

function push(w: WhyLog, what: WhatRead, value: number, by: Read['by']): void {
  w.reads.push({ what, value, decides: false, by, group: w.group });
}

// Each helper is a null test and a return when no log is attached (a run), small enough for
// the JIT to inline at the boundary checks; the noting itself is out of line.

/** A boundary evaluation starts: forget the processor's reads of an earlier evaluation in the
 *  same step (HLT asks "does anything wake me?" before the checks act). */
export function beginBoundary(h: Hart): void {
  if (h.why !== null) restart(h.why);
}

function restart(w: WhyLog): void {
  w.reads = w.reads.filter((r) => r.by !== 'processor');
  w.gates = [];
  w.group++;
}

/** The next priority check of the boundary starts; a `gate` holds every check after it. */
export function nextCheck(h: Hart, gate = false): void {
  if (h.why !== null) newGroup(h.why, gate);
}

function newGroup(w: WhyLog, gate: boolean): void {
  w.group++;
  if (gate) w.gates.push(w.group);
}

/** The check in progress chose the event: its reads, and the gates it passed, decided.
 *  Returns `event`. */
export function decided<T>(h: Hart, event: T): T {
  if (h.why !== null) markDeciding(h.why);
  return event;
}

/** A check that no boundary gate held (the checks of an instruction as it executes, such as
 *  VM entry's) chose the outcome: only its own reads decided. */
export function decidedByCheck(h: Hart): void {
  const w = h.why;
  if (w !== null) for (const r of w.reads) if (r.by === 'processor' && r.group === w.group) r.decides = true;
}

function markDeciding(w: WhyLog): void {
  for (const r of w.reads)
    if (r.by === 'processor' && (r.group === w.group || w.gates.includes(r.group))) r.decides = true;
}

/** A processor read of its own state (HW id); returns `value` (truthy tests stay as written). */
export function hw<T extends number | boolean>(h: Hart, id: number, value: T): T {
  if (h.why !== null) noteHw(h, h.why, id, Number(value) ? 1 : 0);
  return value;
}

function noteHw(h: Hart, w: WhyLog, id: number, value: number): void {
  const [name, bit] = CPU_NAMES[id];
  push(w, { k: 'cpu', lane: h.level, name, bit }, value, 'processor');
}

/** A processor read of bits of the current VMCS (the controls it cached at VM entry): one bit
 *  (noted 0/1) or the whole field (mask 0xffffffff, noted as its value). */
export function hwField(h: Hart, enc: number, mask: number, value: number): number {
  if (h.why !== null)
    push(
      h.why,
      { k: 'vmcs', owner: 0, addr: h.vmx.current, enc, mask },
      mask === 0xffffffff ? value >>> 0 : value & mask ? 1 : 0,
      'processor',
    );
  return value;
}

/** A processor read of one bit of a bitmap in the running lane's memory (SDM "I/O Bitmaps",
 *  "MSR-Bitmap Address"): entry `entry`, port or MSR `id`; returns the bit. */
export function hwBitmap(
  h: Hart,
  entry: string,
  id: number,
  addr: number,
  bit: number,
  value: number,
): number {
  if (h.why !== null)
    push(h.why, { k: 'mem', lane: h.level, addr, bit, name: bitmapName(entry, id) }, value, 'processor');
  return value;
}

/** A bitmap bit's name: `entry` ("I/O bitmap A, port") and the port or MSR number, built only
 *  when a log is attached (a run allocates nothing). */
export function bitmapName(entry: string, id: number): string {
  return `${entry} 0x${id.toString(16)}`;
}

/** The bits of `value` under `mask`: 0/1 for one bit, the subfield's value for several. */
export function maskedValue(value: number, mask: number): number {
  const lo = mask & -mask;
  return (mask & (mask - 1)) === 0 ? (value & mask ? 1 : 0) : ((value & mask) >>> 0) / (lo >>> 0);
}

/** An SVM guest's int_ctl bits the processor tests at the boundary (APM "Virtual Interrupts"). */
export function hwIntCtl(h: Hart, mask: number, value: number): number {
  if (h.why !== null)
    push(h.why, { k: 'svm', lane: h.level, name: 'int_ctl', mask }, maskedValue(value, mask), 'processor');
  return value;
}

/** An SVM intercept bit the processor tests (APM "Intercepts"). */
export function hwIntercept(h: Hart, bit: number, set: boolean): boolean {
  if (h.why !== null)
    push(h.why, { k: 'svm', lane: h.level, name: 'intercept', mask: bit }, set ? 1 : 0, 'processor');
  return set;
}

/** The processor's interrupt controller consulted for a deliverable vector: the highest IRR
 *  vector and the PPR it must exceed (SDM "Interrupt Acceptance for Fixed Interrupts"). */
export function hwApic(h: Hart, deliverable: number): number {
  if (h.why !== null) noteApic(h.why, h.apic, -1, 'processor', false);
  return deliverable;
}

/** The IRR's highest vector and the PPR of an APIC (lane -1: the processor's). */
export function noteApic(w: WhyLog, apic: ApicState, lane: number, by: Read['by'], decides: boolean): void {
  let top = -1;
  for (let i = 7; i >= 0 && top < 0; i--) if (apic.irr[i]) top = i * 32 + 31 - Math.clz32(apic.irr[i]);
  w.reads.push({ what: { k: 'apic', lane, name: 'irr' }, value: top, decides, by, group: w.group });
  w.reads.push({ what: { k: 'apic', lane, name: 'ppr' }, value: ppr(apic), decides, by, group: w.group });
}

/** A hypervisor model's read (KVM's or Xen's), noted as one of its decision's inputs. */
export function hypervisorNote(
  h: Hart,
  lane: number,
  what: WhatRead,
  value: number,
  by: 'KVM' | 'Xen' = 'KVM',
): void {
  const w = h.why;
  if (w) w.reads.push({ what, value, decides: true, by: `${by} L${lane}`, group: w.group });
}

export function noteRule(h: Hart, rule: NestedRule): void {
  if (h.why) h.why.rule = rule;
}
