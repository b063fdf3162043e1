// Helpers of the SVM hardware-model tests: a kvm-unit-tests svm_tests.c style program (EFER.SVME,
// VM_HSAVE_PA, a VMCB written with mov [rbx + VMCB_...], VMRUN) and readers of the #VMEXITs,
// VMRUNs and VMCB fields a run produced.
import type { LabSession } from '../../../src/core/engine/session';
import { vmcbField } from '../../../src/core/svm/vmcb';
import { EventKind, type EventSpec, label, open, rows, scenarioDoc } from '../helpers';

export const GUEST_STACK = 0xc000;

export interface SvmProgram {
  hostIdt?: string[];
  guestIdt?: string[];
  /** Lines before EFER.SVME is set. */
  pre?: string[];
  /** Lines after the standard VMCB set-up (RBX = the VMCB), before `run: vmrun`. */
  setup?: string[];
  /** The host after the #VMEXIT (`after_vmrun:`). */
  host?: string[];
  /** The guest at `guest:`. */
  guest?: string[];
  extra?: string[];
}

/**
 * A one-level program that runs a guest with VMRUN. Labels: start, run (the VMRUN),
 * after_vmrun, guest, vmcb, hsave, iopm, msrpm. The VMCB intercepts VMRUN and VMMCALL, has
 * ASID 1, the host's CR0/CR3/CR4/EFER, RFLAGS 2, the guest's stack and IDT.
 */
export function svmProgram(p: SvmProgram): string[] {
  return [
    '        .idt host_idt',
    ...(p.hostIdt ?? []),
    '        .idt guest_idt',
    ...(p.guestIdt ?? []),
    'start:',
    ...(p.pre ?? []),
    '        mov ecx, MSR_EFER',
    '        rdmsr',
    '        or eax, EFER_SVME',
    '        wrmsr',
    '        mov ecx, MSR_VM_HSAVE_PA',
    '        mov eax, hsave',
    '        xor edx, edx',
    '        wrmsr',
    '        mov rbx, vmcb',
    '        mov dword [rbx + VMCB_INTERCEPT_WORD4], INTERCEPT_VMRUN_MASK | INTERCEPT_VMMCALL_MASK',
    '        mov dword [rbx + VMCB_ASID], 1',
    '        mov qword [rbx + VMCB_RIP], guest',
    `        mov qword [rbx + VMCB_RSP], 0x${GUEST_STACK.toString(16)}`,
    '        mov qword [rbx + VMCB_RFLAGS], 2',
    '        mov qword [rbx + VMCB_IDTR_BASE], guest_idt',
    '        mov rax, cr0',
    '        mov [rbx + VMCB_CR0], rax',
    '        mov rax, cr3',
    '        mov [rbx + VMCB_CR3], rax',
    '        mov rax, cr4',
    '        mov [rbx + VMCB_CR4], rax',
    '        mov ecx, MSR_EFER',
    '        rdmsr',
    '        mov [rbx + VMCB_EFER], eax',
    '        mov qword [rbx + VMCB_IOPM_BASE_PA], iopm',
    '        mov qword [rbx + VMCB_MSRPM_BASE_PA], msrpm',
    ...(p.setup ?? []),
    '        mov rax, rbx',
    'run:    vmrun',
    'after_vmrun:',
    ...(p.host ?? []),
    '        cli',
    '        hlt',
    'guest:',
    ...(p.guest ?? ['        vmmcall']),
    ...(p.extra ?? []),
    '        .align 4096',
    'vmcb:   .zero 4096',
    'hsave:  .zero 4096',
    'iopm:   .zero 12288',
    'msrpm:  .zero 8192',
  ];
}

export function runSvm(p: SvmProgram, events: EventSpec[] = []): LabSession {
  return open(
    scenarioDoc(svmProgram(p), events, {
      arch: 'svm',
      limits: { steps: 20000 },
      levels: [{ kind: 'program', program: svmProgram(p), memory: 0x20000 }],
    }),
  );
}

export interface SvmExitRow {
  step: number;
  level: number;
  /** The guest RIP the exit saved. */
  rip: number;
  code: number;
  info1: number;
  exitIntInfo: number;
}

export function svmExits(s: LabSession): SvmExitRow[] {
  const t = s.sim.trace;
  return rows(s)
    .filter((r) => r.kind === EventKind.VMEXIT)
    .map((r) => ({
      step: r.step,
      level: t.level[r.step - 1],
      rip: r.rip,
      code: r.d0 | 0,
      info1: r.d1,
      exitIntInfo: r.d2,
    }));
}

export function vmruns(s: LabSession) {
  return rows(s)
    .filter((r) => r.kind === EventKind.VMENTRY)
    .map((r) => ({ step: r.step, rip: r.rip, eventInj: r.d0, guestRip: r.d2 }));
}

/** A VMCB field (by Linux name) in L0's memory after step `n` (default: the last). */
export function vmcb(s: LabSession, name: string, n = s.totalSteps): number {
  const f = vmcbField(name);
  const base = label(s, 'vmcb');
  const b = s.sim.stateAt(n).mems[0].bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = base + f.offset;
  switch (f.size) {
    case 1:
      return dv.getUint8(at);
    case 2:
      return dv.getUint16(at, true);
    case 4:
      return dv.getUint32(at, true);
    default:
      return Number(dv.getBigUint64(at, true));
  }
}
