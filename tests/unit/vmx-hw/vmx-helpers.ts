// Helpers of the VMX hardware-model tests: a kvm-unit-tests style program skeleton (VMXON,
// VMCLEAR, VMPTRLD, the guest and host state every entry needs, VMLAUNCH) and readers of the
// VM entries, VM exits and VMCS fields a run produced.
import type { LabSession } from '../../../src/core/engine/session';
import { fieldByName } from '../../../src/core/vmx';
import { EventKind, type EventSpec, label, open, rows, scenarioDoc } from '../helpers';

/** GUEST_RSP at the first entry: above the image, 16 KiB below the host's stack. */
export const GUEST_STACK = 0xc000;

export interface VmxProgram {
  /** Gates of the host's IDT (`.intgate V, handler` lines); HOST_IDTR_BASE points at it. */
  hostIdt?: string[];
  /** Gates of the guest's IDT; GUEST_IDTR_BASE points at it. */
  guestIdt?: string[];
  /** Lines before VMXON (still outside VMX operation). */
  pre?: string[];
  /** Lines after the standard VMWRITEs, before `launch: vmlaunch`. */
  setup?: string[];
  /** Lines at `launch_failed:`, reached when VMLAUNCH falls through (VMfail). */
  failed?: string[];
  /** The VM-exit handler at HOST_RIP (`exit_handler:`). */
  host?: string[];
  /** The guest at `guest:`. */
  guest?: string[];
  /** Host or guest handlers and data, after the guest. */
  extra?: string[];
}

/**
 * A one-level program that enters a guest. Labels: start, launch (the VMLAUNCH),
 * launch_failed, exit_handler, guest, vmxon_region, vmcs, msr_bitmap, and the pointers
 * vmxon_ptr and vmcs_ptr. The guest's stack starts at GUEST_STACK (a stack may not grow into
 * the program image: it lives between the image and the host's stack at the top of memory).
 * Every path ends in `cli; hlt`.
 */
export function vmxProgram(p: VmxProgram): string[] {
  return [
    '        .idt host_idt',
    ...(p.hostIdt ?? []),
    '        .idt guest_idt',
    ...(p.guestIdt ?? []),
    'start:',
    ...(p.pre ?? []),
    '        vmxon [vmxon_ptr]',
    '        vmclear [vmcs_ptr]',
    '        vmptrld [vmcs_ptr]',
    '        vmwrite GUEST_RIP, guest',
    `        vmwrite GUEST_RSP, 0x${GUEST_STACK.toString(16)}`,
    '        vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED',
    '        vmwrite GUEST_IDTR_BASE, guest_idt',
    '        vmwrite HOST_RIP, exit_handler',
    '        vmwrite HOST_IDTR_BASE, host_idt',
    '        mov rax, rsp',
    '        vmwrite HOST_RSP, rax',
    ...(p.setup ?? []),
    'launch: vmlaunch',
    'launch_failed:',
    ...(p.failed ?? []),
    '        cli',
    '        hlt',
    'exit_handler:',
    ...(p.host ?? []),
    '        cli',
    '        hlt',
    'guest:',
    ...(p.guest ?? ['        vmcall']),
    ...(p.extra ?? []),
    'vmxon_ptr: .dq vmxon_region',
    'vmcs_ptr:  .dq vmcs',
    '        .align 4096',
    'vmxon_region: .dd 1',
    '        .align 4096',
    'vmcs:   .dd 1',
    '        .align 4096',
    'msr_bitmap: .zero 4096',
  ];
}

/** Runs a VMX program; the document gets a step limit so that a loop fails fast. */
export function runVmx(p: VmxProgram, events: EventSpec[] = []): LabSession {
  return open(scenarioDoc(vmxProgram(p), events, { limits: { steps: 20000 } }));
}

export interface Exit {
  step: number;
  /** The lane the exit left (1: the guest). */
  level: number;
  /** The guest RIP the exit saved (the record's rip). */
  rip: number;
  reason: number;
  intrInfo: number;
  vectoring: number;
}

export function exits(s: LabSession): Exit[] {
  const t = s.sim.trace;
  return rows(s)
    .filter((r) => r.kind === EventKind.VMEXIT)
    .map((r) => ({
      step: r.step,
      level: t.level[r.step - 1],
      rip: r.rip,
      reason: r.d0,
      intrInfo: r.d1,
      vectoring: r.d2,
    }));
}

export interface Entry {
  step: number;
  /** The VMLAUNCH/VMRESUME. */
  rip: number;
  injected: number;
  launch: boolean;
  /** Guest RIP after the entry (after delivering an injected event: its handler). */
  guestRip: number;
}

export function entries(s: LabSession): Entry[] {
  return rows(s)
    .filter((r) => r.kind === EventKind.VMENTRY)
    .map((r) => ({ step: r.step, rip: r.rip, injected: r.d0, launch: r.d1 === 1, guestRip: r.d2 }));
}

/** A VMCS field of the (only) VMCS after step `n` (default: the last step), 0 if never written. */
export function field(s: LabSession, name: string, n = s.totalSteps): number {
  const enc = fieldByName(name)?.encoding;
  if (enc === undefined) throw new Error(`no VMCS field ${name}`);
  const vmcs = s.view(n).vmx.vmcs;
  if (vmcs.length !== 1) throw new Error(`expected one VMCS, found ${vmcs.length}`);
  return vmcs[0].fields.find((f) => f.encoding === enc)?.value ?? 0;
}

/** The step that retired the instruction at `name` (its first execution, or the `nth`). */
export function stepAt(s: LabSession, name: string, nth = 0): number {
  const addr = label(s, name);
  const hits = rows(s).filter((r) => r.rip === addr && r.kind !== EventKind.RAISE);
  if (hits.length <= nth) throw new Error(`nothing ran at ${name}`);
  return hits[nth].step;
}

/** The assertions' outcomes in program order of execution. */
export const passed = (s: LabSession): boolean[] => s.assertions.map((a) => a.passed);

/** Interruption information: valid | type << 8 | vector (| deliver-error-code). */
export const info = (type: number, vector: number, err = false): number =>
  (0x80000000 | (type << 8) | vector | (err ? 0x800 : 0)) >>> 0;
