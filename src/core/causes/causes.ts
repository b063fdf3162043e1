// "Why, with causes" (docs/causes.md): what a step's decision read, with the value it read and
// the step that set that value. The read set comes from the models themselves: step N is
// replayed from the state before it with a log attached to the hart (Simulation.recordStep),
// and the processor's boundary checks and KVM's decisions note what they read. "Set by" is the
// last step at or before N - 1 after which the value differs from the step before, found by
// replaying backwards one checkpoint interval at a time until every input is placed.
import { KVM_FUNCTIONS } from '../hypervisors/kvm/functions';
import { isXenFunction, xenFunction } from '../hypervisors/xen/functions';
import { Inject } from '../hypervisors/kvm/context';
import { describeVmx } from '../engine/describe';
import type { SimState } from '../engine/machine';
import { eventNote, sessionRun } from '../engine/search';
import type { LabSession } from '../engine/session';
import { CHECKPOINT_INTERVAL } from '../engine/simulation';
import { EventKind } from '../engine/view';
import { exitReasonByCode } from '../vmx/exit-reasons';
import { readLabel, readQuery, readValue, showRead } from './targets';
import { svmExitName } from '../svm/exit-codes';
import { type NestedRule, type WhatRead, newWhyLog } from './why';

export interface CauseInput {
  /** What was read, e.g. "CPU_BASED_VM_EXEC_CONTROL.INTR_WINDOW_EXITING of vmcs01". */
  label: string;
  what: WhatRead;
  /** The value read, as shown. */
  value: string;
  /** An input of the condition that chose the outcome (else a higher-priority check that
   *  found nothing due). */
  decides: boolean;
  /** Who read it: "processor" or "KVM L0". */
  by: string;
  /** The last step (≤ N - 1) after which the value changed, and who acted in it; null when it
   *  has had this value since the run began. */
  setBy: { step: number; actor: string; from: string; to: string } | null;
  /** With no setter: the value has been the same since this step (0: since the run began; more
   *  when the search stopped at its bound, SEARCH_INTERVALS checkpoint intervals back). */
  sameSince: number;
  /** The palette query listing every change of it, when the palette can watch it. */
  query: string | null;
}

export interface RoutingView {
  /** The step whose decision routed the exit (the step itself, or KVM's next decision). */
  step: number;
  fn: string;
  to: 'L0' | 'L1';
  /** In words: "nested_vmx_l1_wants_exit: vmcs12's CPU_BASED_VM_EXEC_CONTROL.INTR_WINDOW_EXITING is 1, so L1 handles it". */
  text: string;
  /** The vmcs12 control read, as an input with its cause. */
  inputs: CauseInput[];
}

export interface CausesView {
  step: number;
  /** The event of the step, in one line. */
  event: string;
  /** True when the step is a decision the core records reads for (an exit, delivery, entry,
   *  KVM decision) and something was read. */
  recorded: boolean;
  inputs: CauseInput[];
  /** Under nesting: how KVM routed this exit (or its own decision's route). */
  routing: RoutingView | null;
}

const DECIDING_KINDS = new Set<number>([
  EventKind.VMEXIT,
  EventKind.DELIVER,
  EventKind.VMENTRY,
  EventKind.DECISION,
  EventKind.WAKE,
]);

/** What the hypervisor decision of a step did, in the kernel's (or Xen's) words (for KVM's
 *  injection, the sub-functions it called). */
function decisionActor(fn: number, d1: number): string {
  if (isXenFunction(fn)) return xenFunction(fn).name;
  const name = KVM_FUNCTIONS[fn]?.name ?? `function ${fn}`;
  if (name !== 'kvm_check_and_inject_events') return name;
  const did: string[] = [];
  if (d1 & (Inject.NMI | Inject.REINJECT_NMI)) did.push('vmx_inject_nmi');
  if (d1 & (Inject.IRQ | Inject.REINJECT_IRQ)) did.push('vmx_inject_irq');
  if (d1 & Inject.NMI_WINDOW) did.push('enable_nmi_window');
  if (d1 & Inject.NMI_WINDOW_VIA_IRQ) did.push('enable_nmi_window → enable_irq_window');
  if (d1 & Inject.IRQ_WINDOW) did.push('enable_irq_window');
  if (d1 & Inject.IMMEDIATE_EXIT) did.push('req_immediate_exit');
  return did.length ? `${name} (${did.join(', ')})` : name;
}

/** Who acted in step `n`: the instruction, KVM's function, or the processor's event. */
export function actorOf(session: LabSession, n: number): string {
  const t = session.sim.trace;
  const i = n - 1;
  const k = t.kind[i];
  const c = session.compiled;
  const lane = c.lanes[t.level[i]];
  if ((k === EventKind.INSTR || k === EventKind.IRET) && lane.kind !== 'kvm') {
    const ins = c.programs[lane.program].instrs[t.d0[i]];
    if (ins) return `\`${ins.text.trim()}\` at L${t.level[i]}`;
  }
  if (k === EventKind.DECISION)
    return `${decisionActor(t.d0[i], t.d1[i])} (${isXenFunction(t.d0[i]) ? 'Xen' : 'KVM'} L${t.level[i]})`;
  return eventNote(sessionRun(session), i);
}

/** Replays step n with a read log; the log's reads and nested rule. */
function recordReads(session: LabSession, n: number) {
  const log = newWhyLog();
  session.sim.recordStep(n, log);
  return log;
}

/** How far back "set by" searches, in checkpoint intervals (8,192 steps each): a long run's
 *  oldest inputs are reported as unchanged since the bound rather than replaying it all. */
export const SEARCH_INTERVALS = 32;

/**
 * For each read, the last step ≤ before after which its value changed (null when none), with
 * the values either side. Searches backwards a checkpoint interval at a time, at most
 * SEARCH_INTERVALS of them; `searchedFrom` is the first step searched.
 */
function findSetters(
  session: LabSession,
  reads: WhatRead[],
  before: number,
): { found: ({ step: number; from: number | null; to: number | null } | null)[]; searchedFrom: number } {
  const c = session.compiled;
  const out: ({ step: number; from: number | null; to: number | null } | null)[] = reads.map(() => null);
  let open = reads.map((_, i) => i);
  let end = before;
  const top = Math.floor(Math.max(0, end - 1) / CHECKPOINT_INTERVAL);
  let searchedFrom = before;
  for (let k = top; k >= 0 && k > top - SEARCH_INTERVALS && open.length; k--) {
    const found: ({ step: number; from: number | null; to: number | null } | null)[] = open.map(() => null);
    const prev: (number | null)[] = open.map(() => null);
    let first = true;
    session.sim.replayFromCheckpoint(k, end, (s: SimState) => {
      open.forEach((ri, j) => {
        const v = readValue(c, s, reads[ri]);
        if (!first && v !== prev[j]) found[j] = { step: s.step, from: prev[j], to: v };
        prev[j] = v;
      });
      first = false;
    });
    open.forEach((ri, j) => (out[ri] = found[j]));
    open = open.filter((_, j) => found[j] === null);
    end = searchedFrom = k * CHECKPOINT_INTERVAL;
    if (end === 0) break;
  }
  return { found: out, searchedFrom };
}

function vmcsRoles(session: LabSession, n: number): Map<string, string> {
  const roles = new Map<string, string>();
  for (const v of describeVmx(session.compiled, session.sim.stateAt(n)).vmcs)
    roles.set(`${v.owner}:${v.addr}`, v.role);
  return roles;
}

function inputsOf(
  session: LabSession,
  n: number,
  reads: { what: WhatRead; value: number; decides: boolean; by: string }[],
): CauseInput[] {
  // One input per thing read (a check may read a flag twice): the first read, deciding if any was.
  const seen = new Map<string, { what: WhatRead; value: number; decides: boolean; by: string }>();
  for (const r of reads) {
    const key = JSON.stringify(r.what);
    const had = seen.get(key);
    if (had) had.decides ||= r.decides;
    else seen.set(key, { ...r });
  }
  const list = [...seen.values()];
  const roles = vmcsRoles(session, n - 1);
  const { found: setters, searchedFrom } = findSetters(
    session,
    list.map((r) => r.what),
    n - 1,
  );
  const before = session.sim.stateAt(n - 1);
  return list.map((r, i) => {
    const role = r.what.k === 'vmcs' ? (roles.get(`${r.what.owner}:${r.what.addr}`) ?? null) : null;
    // A value the step itself changed before reading it (a hypervisor's variable its exit path
    // updated, e.g. KVM-SVM's exit code after the #VMEXIT): set in this step.
    const was = readValue(session.compiled, before, r.what);
    const set = was !== null && was !== r.value ? { step: n, from: was, to: r.value } : setters[i];
    return {
      label: readLabel(r.what, role),
      what: r.what,
      value: showRead(r.what, r.value),
      decides: r.decides,
      by: r.by,
      setBy: set
        ? {
            step: set.step,
            actor: actorOf(session, set.step),
            from: showRead(r.what, set.from),
            to: showRead(r.what, set.to),
          }
        : null,
      sameSince: set ? 0 : searchedFrom,
      query: readQuery(r.what, role),
    };
  });
}

/** The same for KVM's nested SVM (nested_svm_exit_special, nested_svm_intercept). */
function svmRoutingText(rule: NestedRule, inputs: CauseInput[]): string {
  const name = svmExitName(rule.reason).replace(/^SVM_EXIT_/, '');
  const l1 = `L${rule.lane + 1}`;
  if (rule.fn === 'nested_svm_exit_special')
    return `#VMEXIT ${name}: nested_svm_exit_special — INTR, NMI, NPF and the exceptions vmcb01 intercepts are L${rule.lane}'s, so it is kept by L${rule.lane}`;
  const bits = inputs.filter((x) => x.what.k === 'mem');
  const bit = bits[bits.length - 1];
  const where = rule.to === 'L1' ? `reflected to ${l1}` : `kept by L${rule.lane}`;
  if (bit) return `#VMEXIT ${name}: nested_svm_intercept read ${bit.label} = ${bit.value}, so it is ${where}`;
  return rule.to === 'L1'
    ? `#VMEXIT ${name}: nested_svm_intercept — vmcb12 intercepts it, so it is ${where}`
    : `#VMEXIT ${name}: nested_svm_intercept — vmcb12 does not intercept it, so it is ${where}`;
}

function routingText(rule: NestedRule, inputs: CauseInput[]): string {
  if (rule.fn.startsWith('nested_svm')) return svmRoutingText(rule, inputs);
  const reason =
    exitReasonByCode(rule.reason & 0xffff)?.name.replace(/^EXIT_REASON_/, '') ?? `${rule.reason}`;
  // A bitmap bit in L1's memory decides after the control that enables the bitmap: name the
  // last bit read (the one that was 1, or the last 0); else the first vmcs12 bit read.
  const bits = inputs.filter((x) => x.what.k === 'mem');
  const bit = bits.length
    ? bits[bits.length - 1]
    : inputs.find((x) => x.what.k === 'vmcs' && x.what.owner === rule.lane + 1);
  const where = rule.to === 'L1' ? `reflected to L${rule.lane + 1}` : `kept by L${rule.lane}`;
  if (rule.fn === 'nested_vmx_l0_wants_exit')
    return `exit ${reason}: nested_vmx_l0_wants_exit — L${rule.lane} always handles it, so it is ${where}`;
  if (bit)
    return `exit ${reason}: nested_vmx_l1_wants_exit read ${bit.label} = ${bit.value}, so it is ${where}`;
  if (rule.fn === 'nested_vmx_reflect_vmexit')
    return `exit ${reason}: a failed VM entry of L${rule.lane + 2} always goes to L${rule.lane + 1}`;
  return rule.to === 'L1'
    ? `exit ${reason}: nested_vmx_l1_wants_exit — L${rule.lane + 1} always gets this exit, so it is ${where}`
    : `exit ${reason}: nested_vmx_l1_wants_exit — L${rule.lane + 1}'s controls do not ask for it, so it is ${where}`;
}

function routingOf(session: LabSession, n: number): RoutingView | null {
  const t = session.sim.trace;
  const k = t.kind[n - 1];
  // The exit's route is decided by KVM's next decision (nested_vmx_reflect_vmexit in
  // __vmx_handle_exit); look a few steps ahead for it.
  const last = k === EventKind.VMEXIT ? Math.min(t.length, n + 8) : n;
  for (let m = n; m <= last; m++) {
    // The exit's handling is the run of decisions after it (on SVM the host's interrupt and
    // svm_complete_interrupts come before svm_handle_exit): it ends at the next other record.
    if (m !== n && t.kind[m - 1] !== EventKind.DECISION) break;
    const log = recordReads(session, m);
    if (!log.rule) continue;
    const inputs = inputsOf(
      session,
      m,
      log.reads.filter(
        (r) =>
          (r.what.k === 'vmcs' && r.what.owner === log.rule!.lane + 1) ||
          (r.what.k === 'mem' && r.by === `KVM L${log.rule!.lane}`),
      ),
    );
    return { step: m, fn: log.rule.fn, to: log.rule.to, text: routingText(log.rule, inputs), inputs };
  }
  return null;
}

const cache = new WeakMap<LabSession, Map<number, CausesView>>();

/** The causes of step n (1-based): its inputs, their values and setters, and the nested route. */
export function causesOf(session: LabSession, step: number): CausesView {
  const n = Math.max(0, Math.min(Math.floor(step), session.totalSteps));
  let per = cache.get(session);
  if (!per) cache.set(session, (per = new Map()));
  const hit = per.get(n);
  if (hit) return hit;
  let view: CausesView;
  if (n === 0) view = { step: 0, event: 'the initial state', recorded: false, inputs: [], routing: null };
  else {
    const t = session.sim.trace;
    const kind = t.kind[n - 1];
    const event = eventNote(sessionRun(session), n - 1);
    if (!DECIDING_KINDS.has(kind)) view = { step: n, event, recorded: false, inputs: [], routing: null };
    else {
      const log = recordReads(session, n);
      // An exit an instruction caused: the boundary before it found nothing due, and its
      // reads did not decide; they are left out.
      const decidedByHw = log.reads.some((r) => r.by === 'processor' && r.decides);
      const inputs = inputsOf(
        session,
        n,
        log.reads.filter((r) => decidedByHw || r.by !== 'processor'),
      );
      const routing = routingOf(session, n);
      view = { step: n, event, recorded: inputs.length > 0 || routing !== null, inputs, routing };
    }
  }
  if (per.size > 256) per.clear();
  per.set(n, view);
  return view;
}
