// Benchmarks of nesting (npm run bench):
//  (f) a guest at L2 under KVM at L0 (a kvm-unit-tests style hypervisor at L1) with a periodic
//      timer for L1: L2 instructions per second, VM exits per second, and the share of L1's
//      VMREAD/VMWRITE exits with KVM's VMCS shadowing on and off
//      — and the same on AMD: L2 under a hypervisor under KVM's nested SVM
//  (g) the four-level seed (KVM, KVM, the kvm-unit-tests harness, its guest): load and run
import { performance } from 'node:perf_hooks';
import { openSession } from '../src/core/engine/session';
import { EventKind } from '../src/core/engine/view';
import { findBuiltin } from '../src/core/scenario/builtins';
import { ExitReason } from '../src/core/vmx/vm-exit';

function l2Doc(shadowVmcs: boolean): unknown {
  return {
    version: 1,
    name: 'bench-l2-timer',
    title: 'L2 loop under a hypervisor under KVM, with a timer for L1',
    description: '',
    arch: 'vmx',
    levels: [
      { kind: 'kvm', options: { shadowVmcs } },
      {
        kind: 'program',
        program: [
          'start:  vmxon [vmxon_ptr]',
          '        vmclear [vmcs_ptr]',
          '        vmptrld [vmcs_ptr]',
          '        vmwrite PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK',
          '        vmwrite VM_EXIT_CONTROLS, VM_EXIT_ACK_INTR_ON_EXIT',
          '        vmwrite GUEST_RIP, l2',
          '        vmwrite GUEST_RSP, 0xc000',
          '        vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED',
          '        mov rax, rsp',
          '        vmwrite HOST_RSP, rax',
          '        vmwrite HOST_RIP, exit',
          '        vmlaunch',
          '        cli',
          '        hlt',
          // L1's exit handler: the reason, the acknowledged vector, its EOI, and back to L2.
          'exit:   vmread rbx, VM_EXIT_REASON',
          '        cmp rbx, EXIT_REASON_EXTERNAL_INTERRUPT',
          '        jne done',
          '        vmread rbx, VM_EXIT_INTR_INFO',
          '        vmread rbx, GUEST_RIP',
          '        mov rsi, rcx',
          '        xor eax, eax',
          '        xor edx, edx',
          '        mov ecx, 0x80b',
          '        wrmsr',
          '        mov rcx, rsi',
          '        vmresume',
          'done:   cli',
          '        hlt',
          'l2:     xor ecx, ecx',
          'again:  inc rcx',
          '        cmp rcx, 1000000',
          '        jne again',
          '        vmcall',
          'vmxon_ptr: .dq vmxon_region',
          'vmcs_ptr:  .dq vmcs12',
          '        .align 4096',
          'vmxon_region: .dd 1',
          '        .align 4096',
          'vmcs12: .dd 1',
        ],
      },
    ],
    events: [{ at: { time: 10000 }, every: 10000, until: 3000000, target: 1, irq: 0x20 }],
    limits: { steps: 10000000 },
  };
}

/** The same L2 loop on AMD: an SVM hypervisor at L1 under KVM (nested SVM), a timer for L1. */
function l2SvmDoc(): unknown {
  return {
    version: 1,
    name: 'bench-l2-timer-svm',
    title: 'L2 loop under an SVM hypervisor under KVM, with a timer for L1',
    description: '',
    arch: 'svm',
    levels: [
      { kind: 'kvm' },
      {
        kind: 'program',
        program: [
          '        .idt host_idt',
          '        .intgate 0x20, tick',
          'start:  lidt [host_idtr]',
          '        mov ecx, MSR_EFER',
          '        rdmsr',
          '        or eax, EFER_SVME',
          '        wrmsr',
          '        mov ecx, MSR_VM_HSAVE_PA',
          '        mov eax, hsave',
          '        xor edx, edx',
          '        wrmsr',
          '        mov rbx, vmcb',
          '        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_INTR_MASK',
          '        mov dword [rbx + VMCB_INTERCEPT_WORD4], INTERCEPT_VMRUN_MASK | INTERCEPT_VMMCALL_MASK',
          '        mov dword [rbx + VMCB_ASID], 1',
          '        mov dword [rbx + VMCB_INT_CTL], V_INTR_MASKING_MASK',
          '        mov qword [rbx + VMCB_RIP], l2',
          '        mov qword [rbx + VMCB_RSP], 0xc000',
          '        mov qword [rbx + VMCB_RFLAGS], 2',
          '        mov rax, cr0',
          '        mov [rbx + VMCB_CR0], rax',
          '        mov rax, cr4',
          '        mov [rbx + VMCB_CR4], rax',
          '        mov ecx, MSR_EFER',
          '        rdmsr',
          '        mov [rbx + VMCB_EFER], eax',
          // The loop: run L2; after an INTR exit take the tick (STGI with IF = 1) and go back.
          'run:    mov rax, rbx',
          '        clgi',
          '        sti',
          '        vmrun',
          '        stgi',
          '        cli',
          '        mov ecx, [rbx + VMCB_EXIT_CODE]',
          '        cmp ecx, SVM_EXIT_INTR',
          '        je run',
          'done:   cli',
          '        hlt',
          'tick:   xor eax, eax',
          '        xor edx, edx',
          '        mov ecx, 0x80b',
          '        wrmsr',
          '        iretq',
          // L2 counts in RDI, which L1's code leaves alone (VMRUN does not save the GPRs).
          'l2:     xor edi, edi',
          'again:  inc rdi',
          '        cmp rdi, 1000000',
          '        jne again',
          '        vmmcall',
          'host_idtr: .idtr host_idt',
          '        .align 4096',
          'vmcb:   .zero 4096',
          'hsave:  .zero 4096',
        ],
      },
    ],
    events: [{ at: { time: 10000 }, every: 10000, until: 3000000, target: 1, irq: 0x20 }],
    limits: { steps: 10000000 },
  };
}

/** L2 instructions and VM exits per second of wall time, median of 5 runs of `doc`. */
function l2Rates(doc: unknown): {
  rate: number;
  exitRate: number;
  l2: number;
  exits: number;
  vmcsExits: number;
} {
  openSession({ doc });
  const rates: number[] = [];
  const exitRates: number[] = [];
  let l2 = 0;
  let exits = 0;
  let vmcsExits = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = openSession({ doc });
    const seconds = (performance.now() - t0) / 1000;
    if (!r.ok) throw new Error(r.error.message);
    const t = r.session.sim.trace;
    l2 = exits = vmcsExits = 0;
    for (let k = 0; k < t.length; k++) {
      if (t.level[k] === 2 && t.kind[k] === EventKind.INSTR) l2++;
      if (t.kind[k] === EventKind.VMEXIT) {
        exits++;
        if (t.level[k] === 1 && (t.d0[k] === ExitReason.VMREAD || t.d0[k] === ExitReason.VMWRITE))
          vmcsExits++;
      }
    }
    rates.push(l2 / seconds);
    exitRates.push(exits / seconds);
  }
  return { rate: median(rates), exitRate: median(exitRates), l2, exits, vmcsExits };
}

function median(xs: number[]): number {
  return xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

export function nestedBenchmarks(): [string, string, string][] {
  const rows: [string, string, string][] = [];
  for (const shadow of [true, false]) {
    const r = l2Rates(l2Doc(shadow));
    rows.push([
      `(f) L2 guest instructions per second (shadow VMCS ${shadow ? 'on' : 'off'})`,
      `${(r.rate / 1e6).toFixed(1)} M/s`,
      `${r.l2.toLocaleString('en-US')} L2 instructions; ${r.exits.toLocaleString('en-US')} VM exits (${Math.round(r.exitRate).toLocaleString('en-US')}/s), ${((100 * r.vmcsExits) / r.exits).toFixed(0)}% of them L1's VMREAD/VMWRITE; median of 5`,
    ]);
  }
  const svm = l2Rates(l2SvmDoc());
  rows.push([
    '(f) L2 guest instructions per second (nested SVM)',
    `${(svm.rate / 1e6).toFixed(1)} M/s`,
    `${svm.l2.toLocaleString('en-US')} L2 instructions; ${svm.exits.toLocaleString('en-US')} #VMEXITs (${Math.round(svm.exitRate).toLocaleString('en-US')}/s); an SVM hypervisor under KVM, timer for L1; median of 5`,
  ]);
  const seed = findBuiltin('nested-preemption-timer');
  openSession({ doc: seed });
  const times: number[] = [];
  let steps = 0;
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    const r = openSession({ doc: seed });
    times.push(performance.now() - t0);
    if (!r.ok) throw new Error(r.error.message);
    steps = r.session.totalSteps;
  }
  rows.push([
    '(g) four-level seed, load and run',
    `${median(times).toFixed(0)} ms`,
    `nested-preemption-timer (KVM, KVM, kvm-unit-tests, its guest): ${steps.toLocaleString('en-US')} steps; median of 9`,
  ]);
  return rows;
}
