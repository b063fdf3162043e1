// Helpers of the KVM-model tests: a scenario with KVM at L0 and a program guest at L1, the
// soft-vNMI built-in, and readers of KVM's decisions, the VM entries and exits, the VMCS and
// the guest's memory, in the terms the tests assert on.
import type { LabSession } from '../../../src/core/engine/session';
import { type KvmState, cloneKvm } from '../../../src/core/hypervisors/kvm/state';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import type { ParamValue } from '../../../src/core/scenario/schema';
import { currentVmcs } from '../../../src/core/vmx/state';
import { readField } from '../../../src/core/vmx/vmcs';
import { EventKind, type EventSpec, type Row, open, qword, rows } from '../helpers';

export { Fn } from '../../../src/core/hypervisors/kvm/functions';
export { Inject, KVM_HOST } from '../../../src/core/hypervisors/kvm/run-loop';
export { F } from '../../../src/core/vmx/vmcs';
export { EventKind };

/** The guest's lane (and level) index: KVM is lane 0, the guest it runs lane 1. */
export const GUEST = 1;

export const TSC_HZ = 2_000_000_000;

export interface KvmOptions {
  vnmi?: boolean;
  immediateExit?: 'preemption-timer' | 'self-ipi';
  era?: 'current' | '2008';
}

export interface CpuFeatures {
  virtualNmis?: boolean;
  preemptionTimer?: boolean;
}

export interface KvmDocSpec {
  events?: EventSpec[];
  kvm?: KvmOptions;
  cpu?: CpuFeatures;
  /** Bytes of guest memory (default 0x10000). */
  memory?: number;
  steps?: number;
}

/** A scenario document: KVM (L0) running `guest` (L1) on a VMX processor at 2 GHz. */
export function kvmDoc(guest: string[], spec: KvmDocSpec = {}): Record<string, unknown> {
  const guestLevel: Record<string, unknown> = { kind: 'program', name: 'guest', program: guest };
  if (spec.memory !== undefined) guestLevel.memory = spec.memory;
  return {
    version: 1,
    name: 'kvm-unit',
    title: 'KVM unit test',
    description: 'built by a KVM unit test',
    arch: 'vmx',
    features: {
      tscHz: TSC_HZ,
      vmx: {
        virtualNmis: spec.cpu?.virtualNmis ?? true,
        preemptionTimer: spec.cpu?.preemptionTimer ?? true,
        preemptionTimerRate: 5,
      },
    },
    levels: [
      {
        kind: 'kvm',
        options: {
          vnmi: spec.kvm?.vnmi ?? true,
          immediateExit: spec.kvm?.immediateExit ?? 'preemption-timer',
          era: spec.kvm?.era ?? 'current',
        },
      },
      guestLevel,
    ],
    events: spec.events ?? [],
    limits: { steps: spec.steps ?? 200_000 },
  };
}

/** Runs a guest under KVM to its end. */
export function runKvm(guest: string[], spec: KvmDocSpec = {}): LabSession {
  return open(kvmDoc(guest, spec));
}

/** The soft-vNMI built-in (seed A) with parameters. */
export function softVnmi(params: Record<string, ParamValue> = {}): LabSession {
  const doc = findBuiltin('soft-vnmi');
  if (!doc) throw new Error('no built-in soft-vnmi');
  return open(doc, params);
}

/** A trace row with the lane (level) it belongs to. */
export interface KRow extends Row {
  level: number;
}

/** Every trace event, with its level. */
export function krows(s: LabSession): KRow[] {
  const lv = s.sim.trace.level;
  return rows(s).map((r) => ({ ...r, level: lv[r.step - 1] }));
}

/** The guest's events of one kind (e.g. its IRETs). */
export function guestEvents(s: LabSession, kind: number): KRow[] {
  return krows(s).filter((r) => r.kind === kind && r.level === GUEST);
}

/** KVM's decisions (DECISION records), optionally only those of one function. */
export function decisions(s: LabSession, fn?: number): Row[] {
  return rows(s).filter((r) => r.kind === EventKind.DECISION && (fn === undefined || r.d0 === fn));
}

/** VM exits: d0 = exit reason, d1 = VM_EXIT_INTR_INFO, d2 = IDT-vectoring information. */
export function exits(s: LabSession): Row[] {
  return rows(s).filter((r) => r.kind === EventKind.VMEXIT);
}

/** VM entries: d0 = the injected interruption information, d1 = 1 for VMLAUNCH, d2 = guest RIP. */
export function entries(s: LabSession): Row[] {
  return rows(s).filter((r) => r.kind === EventKind.VMENTRY);
}

/** VM entries that injected this interruption information (0x80000202: an NMI). */
export function injections(s: LabSession, info: number): Row[] {
  return entries(s).filter((r) => r.d0 === info >>> 0);
}

export const NMI_INFO = 0x80000202;

/** KVM's software state after step `n` (a copy: the simulation reuses its state objects). */
export function kvmAt(s: LabSession, n: number): KvmState {
  const k = s.sim.stateAt(n).kvm;
  if (!k) throw new Error('no KVM state');
  return cloneKvm(k);
}

/** A field of the current VMCS after step `n` (0 when it was never written). */
export function vmcsAt(s: LabSession, n: number, encoding: number): number {
  const v = currentVmcs(s.sim.stateAt(n).vmx);
  if (!v) throw new Error(`no current VMCS after step ${n}`);
  return readField(v, encoding);
}

/** The same field as the step's view shows it (StepView.vmx.vmcs, the current VMCS). */
export function vmcsViewField(s: LabSession, n: number, encoding: number): number | undefined {
  const v = s.view(n).vmx.vmcs.find((x) => x.current);
  return v?.fields.find((f) => f.encoding === encoding)?.value;
}

/** The address of a label of the guest program. */
export function glabel(s: LabSession, name: string): number {
  const a = s.compiled.programs[GUEST].labels[name];
  if (a === undefined) throw new Error(`no guest label ${name}`);
  return a;
}

/** A qword of the guest's memory after step `n` (default: the last step). */
export function guestQ(s: LabSession, addr: number, n = s.totalSteps): bigint {
  const st = s.sim.stateAt(n);
  return qword({ ...st, mems: [st.mems[GUEST]] }, addr);
}

/** The first row at or after step `from` that matches. */
export function firstAfter(
  list: Row[],
  from: number,
  pred: (r: Row) => boolean = () => true,
): Row | undefined {
  return list.find((r) => r.step > from && pred(r));
}

/** x2APIC MSRs (SDM "x2APIC Register Address Space"). */
export const MSR = {
  TPR: 0x808,
  PPR: 0x80a,
  EOI: 0x80b,
  ISR0: 0x810,
  IRR0: 0x820,
  ICR: 0x830,
  SELF_IPI: 0x83f,
} as const;

/** Guest lines that write `value` (32 bits) to an MSR. */
export function wrmsr(msr: number, lo: number, hi = 0): string[] {
  return [
    `        mov ecx, 0x${msr.toString(16)}`,
    `        mov eax, 0x${(lo >>> 0).toString(16)}`,
    `        mov edx, 0x${(hi >>> 0).toString(16)}`,
    '        wrmsr',
  ];
}

/** Guest lines that read an MSR and store EAX at `label`. */
export function rdmsrTo(msr: number, label: string): string[] {
  return [`        mov ecx, 0x${msr.toString(16)}`, '        rdmsr', `        mov [${label}], rax`];
}
