// Helpers of the nested-VMX tests: a scenario with KVM at L0 and a kvm-unit-tests-style
// hypervisor program at L1 whose guest (L2) is in the same program, and readers of what the
// tests assert on — the exits each level saw, KVM's decisions, vmcs01/vmcs02 (the processor's,
// in L0's memory) and vmcs12 (KVM's cached copy of L1's VMCS), L1's emulated APIC, and the
// memory L1 and L2 share.
import type { LabSession } from '../../../src/core/engine/session';
import { vectorsOf } from '../../../src/core/cpu/apic';
import { KVM_HOST } from '../../../src/core/hypervisors/kvm/context';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { currentVmcs12 } from '../../../src/core/hypervisors/kvm/nested-state';
import { type VmcsState, readField } from '../../../src/core/vmx/vmcs';
import { EventKind, type Row, open, qword, rows } from '../helpers';

export { Fn };
export { Inject, KVM_HOST } from '../../../src/core/hypervisors/kvm/context';
export { F } from '../../../src/core/vmx/vmcs';
export { ExitReason } from '../../../src/core/vmx/vm-exit';
export { CPU_BASED, PIN_BASED, VM_EXIT } from '../../../src/core/vmx/bits';
export { EventKind };

/** Lanes (execution levels): KVM at L0, the hypervisor program at L1, its guest at L2. */
export const L0 = 0;
export const L1 = 1;
export const L2 = 2;

export const TSC_HZ = 2_000_000_000;

/** Options of the KVM level (the scenario schema's names). */
export interface NestedKvmOptions {
  vnmi?: boolean;
  immediateExit?: 'preemption-timer' | 'self-ipi';
  nestedImmediateExit?: boolean;
  nestedReevaluateOnEntry?: boolean;
  nestedAckOnExit?: boolean;
  pretendL2Ran?: boolean;
}

/** An external event: at a time, or when a level reaches a label (`after` cycles later). */
export interface NestedEvent {
  at: { time: number } | { level: number; label: string; after?: number };
  irq?: number;
  nmi?: true;
  /** 0: the physical APIC (L0's); 1: L1's APIC, which KVM emulates. */
  target?: number;
  note?: string;
}

export interface NestedDocSpec {
  events?: NestedEvent[];
  kvm?: NestedKvmOptions;
  cpu?: { virtualNmis?: boolean; preemptionTimer?: boolean };
  steps?: number;
}

/** A scenario document: KVM (L0) running the hypervisor program `l1` (L1, with L2 inside). */
export function nestedDoc(l1: string[], spec: NestedDocSpec = {}): Record<string, unknown> {
  return {
    version: 1,
    name: 'nested-unit',
    title: 'nested VMX unit test',
    description: 'built by a nested-VMX unit test',
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
      { kind: 'kvm', name: 'KVM', options: { ...spec.kvm } },
      { kind: 'program', name: 'hypervisor', program: l1 },
    ],
    events: spec.events ?? [],
    limits: { steps: spec.steps ?? 50_000 },
  };
}

/** Runs a nested scenario to its end; fails when the run stopped on an error or a limit. */
export function runNested(l1: string[], spec: NestedDocSpec = {}): LabSession {
  const s = open(nestedDoc(l1, spec));
  const err = s.runError();
  if (err) throw new Error(`the run stopped: ${err.kind} at ${err.where}: ${err.message}`);
  return s;
}

/** The parts of a kvm-unit-tests-style hypervisor program (see `l1Program`). */
export interface L1Parts {
  /** Lines after VMPTRLD and the common VMWRITEs, before `launch: vmlaunch`. */
  setup?: string[];
  /** Lines of L1's exit handler, after `vmread rax, VM_EXIT_REASON` stored it in [exit_reason]. */
  handler?: string[];
  /** L2's code, starting at label `l2` (default: a NOP, then `vmcall`). */
  l2?: string[];
  /** Extra data lines (labels with .dq etc.). */
  data?: string[];
  /** Extra IDT gate lines for L1's IDT (host_idt) and L2's IDT (guest_idt). */
  hostGates?: string[];
  guestGates?: string[];
  /** Leave out L2's gates for 0x30 and 0x41 (default: present). */
  noL2Gates?: boolean;
  /** GUEST_RFLAGS L1 writes (default: X86_EFLAGS_FIXED | X86_EFLAGS_IF). */
  guestRflags?: string;
  /** Skip the whole VMXON/VMCLEAR/VMPTRLD/VMWRITE preamble: `setup` is the program's start. */
  raw?: boolean;
  /** Bits set in the 4-KByte MSR bitmap at `msr_bitmap` (all clear by default). */
  msrBitmap?: { msr: number; write: boolean }[];
}

/**
 * The data lines of an MSR bitmap (SDM "MSR-Bitmap Address": read bitmap for MSRs 0–1FFFh at
 * offset 0, for C0000000h–C0001FFFh at 400h; write bitmaps at 800h and C00h) with these bits.
 */
export function msrBitmapLines(bits: { msr: number; write: boolean }[] = []): string[] {
  const bytes = new Map<number, number>();
  for (const { msr, write } of bits) {
    const high = msr >= 0xc0000000;
    const off = (write ? 0x800 : 0) + (high ? 0x400 : 0) + ((msr & 0x1fff) >>> 3);
    bytes.set(off, (bytes.get(off) ?? 0) | (1 << (msr & 7)));
  }
  const out = ['msr_bitmap:'];
  let at = 0;
  for (const off of [...bytes.keys()].sort((a, b) => a - b)) {
    if (off > at) out.push(`        .zero ${off - at}`);
    out.push(`        .db ${bytes.get(off)}`);
    at = off + 1;
  }
  if (at < 4096) out.push(`        .zero ${4096 - at}`);
  return out;
}

/**
 * A hypervisor program in the style of kvm-unit-tests: VMXON and VMCS regions (revision dword
 * 1, 4096-aligned), VMCLEAR + VMPTRLD, guest and host state written by field name, VMLAUNCH at
 * label `launch`, an exit handler at `l1_exit` that stores the exit reason at [exit_reason]
 * and halts, `entry_failed` that stores VM_INSTRUCTION_ERROR at [insn_error] and RFLAGS at
 * [fail_flags]. L1's handler for 0x30 (`l1_irq`) counts in [l1_irqs]; L2's handlers for 0x30
 * and 0x41 count in [l2_irqs] and [l2_ticks]. L2's stack is at 0xc000.
 */
export function l1Program(p: L1Parts = {}): string[] {
  const preamble = p.raw
    ? []
    : [
        '        lidt [host_idtr]',
        '        vmxon [vmxon_ptr]',
        '        vmclear [vmcs_ptr]',
        '        vmptrld [vmcs_ptr]',
        '        vmwrite GUEST_RIP, l2',
        '        vmwrite GUEST_RSP, 0xc000',
        `        vmwrite GUEST_RFLAGS, ${p.guestRflags ?? 'X86_EFLAGS_FIXED | X86_EFLAGS_IF'}`,
        '        vmwrite GUEST_IDTR_BASE, guest_idt',
        '        vmwrite HOST_IDTR_BASE, host_idt',
        '        mov rax, rsp',
        '        vmwrite HOST_RSP, rax',
        '        vmwrite HOST_RIP, l1_exit',
      ];
  return [
    '        .idt host_idt',
    '        .intgate 0x30, l1_irq',
    ...(p.hostGates ?? []),
    '        .idt guest_idt',
    ...(p.noL2Gates ? [] : ['        .intgate 0x30, l2_irq', '        .intgate 0x41, l2_tick']),
    ...(p.guestGates ?? []),
    'start:',
    ...preamble,
    ...(p.setup ?? []),
    ...(p.raw
      ? []
      : ['launch: vmlaunch', '        pushf', '        pop qword [fail_flags]', '        jmp entry_failed']),
    'l1_exit:',
    '        vmread rax, VM_EXIT_REASON',
    '        mov [exit_reason], rax',
    ...(p.handler ?? []),
    'l1_end: cli',
    '        hlt',
    'entry_failed:',
    '        vmread rax, VM_INSTRUCTION_ERROR',
    '        mov [insn_error], rax',
    '        cli',
    '        hlt',
    'l1_irq: inc qword [l1_irqs]',
    '        xor eax, eax',
    '        xor edx, edx',
    '        mov ecx, 0x80b',
    '        wrmsr',
    '        iretq',
    'l2:',
    ...(p.l2 ?? ['        nop', '        vmcall']),
    'l2_irq: inc qword [l2_irqs]',
    '        iretq',
    'l2_tick:',
    '        inc qword [l2_ticks]',
    '        iretq',
    'exit_reason: .dq -1',
    'insn_error:  .dq -1',
    'fail_flags:  .dq -1',
    'l1_irqs:     .dq 0',
    'l2_irqs:     .dq 0',
    'l2_ticks:    .dq 0',
    ...(p.data ?? []),
    'host_idtr:   .idtr host_idt',
    'vmxon_ptr:   .dq vmxon_region',
    'vmcs_ptr:    .dq vmcs12_region',
    '        .align 4096',
    'vmxon_region: .dd 1',
    '        .align 4096',
    'vmcs12_region: .dd 1',
    '        .align 4096',
    ...msrBitmapLines(p.msrBitmap),
  ];
}

// ---- the trace --------------------------------------------------------------------------

/** A trace row with the lane (level) that acted. */
export interface NRow extends Row {
  level: number;
}

export function nrows(s: LabSession): NRow[] {
  const lv = s.sim.trace.level;
  return rows(s).map((r) => ({ ...r, level: lv[r.step - 1] }));
}

/** Hardware VM exits (d0 reason, d1 VM_EXIT_INTR_INFO, d2 IDT-vectoring), optionally of one lane. */
export function hwExits(s: LabSession, lane?: number): NRow[] {
  return nrows(s).filter((r) => r.kind === EventKind.VMEXIT && (lane === undefined || r.level === lane));
}

/** Hardware VM entries (d0 injected info, d1 1 = VMLAUNCH, d2 guest RIP), with the lane entered. */
export function hwEntries(s: LabSession): (NRow & { into: number })[] {
  const all = nrows(s);
  return all
    .filter((r) => r.kind === EventKind.VMENTRY)
    .map((r) => ({ ...r, into: s.sim.stateAt(r.step).lane }));
}

/** KVM's decisions, optionally of one function (d0); d1/d2 are the function's numbers. */
export function decisions(s: LabSession, fn?: number): NRow[] {
  return nrows(s).filter((r) => r.kind === EventKind.DECISION && (fn === undefined || r.d0 === fn));
}

/**
 * The exits L1 saw from L2, in order: synthesized by vmx_check_nested_events, reflected by
 * nested_vmx_reflect_vmexit, or an emulated VM-entry failure (nested_vmx_enter_non_root_mode).
 */
export interface L1Exit {
  step: number;
  time: number;
  reason: number;
  intrInfo: number;
  how: 'check_nested_events' | 'reflect' | 'entry_failure';
}

export function l1Exits(s: LabSession): L1Exit[] {
  return decisions(s)
    .filter(
      (r) =>
        r.d0 === Fn.vmx_check_nested_events ||
        r.d0 === Fn.nested_vmx_reflect_vmexit ||
        r.d0 === Fn.nested_vmx_entry_failure,
    )
    .map((r) => ({
      step: r.step,
      time: r.time,
      // A VM-entry failure records the basic reason; L1 reads it with bit 31 set.
      reason: r.d0 === Fn.nested_vmx_entry_failure ? (0x80000000 | r.d1) >>> 0 : r.d1 >>> 0,
      intrInfo: r.d0 === Fn.nested_vmx_entry_failure ? 0 : r.d2 >>> 0,
      how:
        r.d0 === Fn.vmx_check_nested_events
          ? 'check_nested_events'
          : r.d0 === Fn.nested_vmx_reflect_vmexit
            ? 'reflect'
            : 'entry_failure',
    }));
}

/** Deliveries through an IDT, with the lane that took them. */
export function deliveriesOf(s: LabSession, lane?: number): (NRow & { vector: number; type: number })[] {
  return nrows(s)
    .filter((r) => r.kind === EventKind.DELIVER && (lane === undefined || r.level === lane))
    .map((r) => ({ ...r, vector: r.d0 & 0xff, type: (r.d0 >>> 8) & 7 }));
}

/** Instructions retired by a lane in steps (from, to] (INSTR, IRET and ASSERT records). */
export function retired(s: LabSession, lane: number, from = 0, to = s.totalSteps): number {
  return nrows(s).filter(
    (r) =>
      r.level === lane &&
      r.step > from &&
      r.step <= to &&
      (r.kind === EventKind.INSTR || r.kind === EventKind.IRET || r.kind === EventKind.ASSERT),
  ).length;
}

// ---- the state at a step ------------------------------------------------------------------

/** The processor's VMCS at `addr` after step `n` (vmcs01 0x2000, vmcs02 0x4000), or undefined. */
export function physVmcs(s: LabSession, n: number, addr: number): VmcsState | undefined {
  return s.sim.stateAt(n).vmx.vmcs[addr];
}

/** A field of vmcs02 after step `n`. */
export function vmcs02(s: LabSession, n: number, enc: number): number {
  const v = physVmcs(s, n, KVM_HOST.VMCS02);
  if (!v) throw new Error(`no vmcs02 after step ${n}`);
  return readField(v, enc) >>> 0;
}

/** A field of vmcs01 after step `n`. */
export function vmcs01(s: LabSession, n: number, enc: number): number {
  const v = physVmcs(s, n, KVM_HOST.VMCS01);
  if (!v) throw new Error(`no vmcs01 after step ${n}`);
  return readField(v, enc) >>> 0;
}

/** A field of the current vmcs12 (KVM's cached copy) after step `n`. */
export function vmcs12(s: LabSession, n: number, enc: number): number {
  const k = s.sim.stateAt(n).kvm;
  const v = k ? currentVmcs12(k.nested) : null;
  if (!v) throw new Error(`no current vmcs12 after step ${n}`);
  return readField(v, enc) >>> 0;
}

/** The processor's current VMCS address after step `n`. */
export function currentAddr(s: LabSession, n: number): number {
  return s.sim.stateAt(n).vmx.current;
}

/** L1's APIC as KVM emulates it (kvm.lapic) after step `n`. */
export function lapic(s: LabSession, n: number): { irr: number[]; isr: number[] } {
  const k = s.sim.stateAt(n).kvm;
  if (!k) throw new Error('no KVM state');
  return { irr: vectorsOf(k.lapic.irr), isr: vectorsOf(k.lapic.isr) };
}

/** KVM's nested state after step `n` (plain values copied out). */
export function nestedAt(s: LabSession, n: number) {
  const k = s.sim.stateAt(n).kvm;
  if (!k) throw new Error('no KVM state');
  const { vmxon, currentVmptr, guestMode, runPending, preemptionTimerExpired, preemptionTimerDeadline } =
    k.nested;
  return {
    vmxon,
    currentVmptr,
    guestMode,
    runPending,
    preemptionTimerExpired,
    preemptionTimerDeadline,
    halted: k.halted,
    exceptionPending: k.exceptionPending,
    exceptionVector: k.exceptionVector,
  };
}

/** The address of a label of L1's program (L2's code is in it too). */
export function lbl(s: LabSession, name: string): number {
  const a = s.compiled.programs[L1].labels[name];
  if (a === undefined) throw new Error(`no label ${name}`);
  return a;
}

/** A qword of the memory L1 and L2 share, after step `n` (default: the last), as a number. */
export function q(s: LabSession, name: string, n = s.totalSteps): number {
  const st = s.sim.stateAt(n);
  return Number(BigInt.asIntN(64, qword({ ...st, mems: [st.mems[L1]] }, lbl(s, name))));
}

/** The address just after the instruction at `addr` in L1's program. */
export function nextIns(s: LabSession, addr: number): number {
  const p = s.compiled.programs[L1];
  const i = p.indexAt[addr - p.origin];
  if (i === undefined || i < 0) throw new Error(`no instruction at 0x${addr.toString(16)}`);
  return addr + p.instrs[i].len;
}

/** Assertion results: message and pass/fail, in order. */
export function results(s: LabSession): { message: string; passed: boolean }[] {
  return s.assertions.map((a) => ({ message: a.message, passed: a.passed }));
}

/** The first trace row after step `from` that matches `pred`, or undefined. */
export function rowAfter(s: LabSession, from: number, pred: (r: NRow) => boolean): NRow | undefined {
  return nrows(s).find((r) => r.step > from && pred(r));
}

/** The hardware VM entries into L2, in order. */
export function l2Entries(s: LabSession) {
  return hwEntries(s).filter((e) => e.into === L2);
}

/** The step of KVM's first decision by function `fn` (fails when there is none). */
export function firstDecision(s: LabSession, fn: number, from = 0): NRow {
  const r = decisions(s, fn).find((d) => d.step > from);
  if (!r) throw new Error(`no decision of function ${fn} after step ${from}`);
  return r;
}
