// Nested SVM in KVM at L0 (arch/x86/kvm/svm/nested.c as hypervisors/kvm/nested-svm-run.ts models
// it): L1's VMRUN emulated (its #GP and VMEXIT_INVALID cases, vmcb02 built from vmcb01 and
// vmcb12), the exits of L2 L1 intercepts reflected and the others kept by L0, events for L1
// turned into #VMEXITs (svm_check_nested_events), GIF after the emulated #VMEXIT, and the
// kvm-svm-nested-intr built-in's variants.
import { describe, expect, it } from 'vitest';
import type { LabSession } from '../../../src/core/engine/session';
import { Fn } from '../../../src/core/hypervisors/kvm/functions';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { describeVmcbs } from '../../../src/core/engine/describe-vmcb';
import { Inject } from '../../../src/core/hypervisors/kvm/context';
import { EventKind, open } from '../helpers';
import { glabel as label } from '../kvm/kvm-helpers';
import { decisions, nrows } from '../nested/nested-helpers';
import { INT_CTL, KVM_SVM_HOST, SvmExit, VMCB, vmcb01 } from './kvm-svm-helpers';

/** A 32- or 64-bit value of L1's memory (lane 1) after step `n`. */
function l1Mem(s: LabSession, n: number, addr: number, size: 4 | 8 = 4): number {
  const st = s.sim.stateAt(n);
  const bytes = st.mems[s.compiled.lanes[1].program].bytes;
  const d = new DataView(bytes.buffer, bytes.byteOffset);
  return size === 4
    ? d.getUint32(addr, true)
    : d.getUint32(addr, true) + d.getUint32(addr + 4, true) * 2 ** 32;
}

/** The decisions of L0's KVM, by function, in order. */
const fns = (s: LabSession) => decisions(s).map((r) => r.d0);

/**
 * KVM at L0 running a kut-style hypervisor at L1: `setup` writes vmcb12 (RBX = vmcb) after the
 * defaults (VMRUN and VMMCALL intercepts, ASID 1, L2 at `l2` with IF = 0); `l2` is L2's code.
 */
function nestedDoc(setup: string[], l2: string[], opts: { hsave?: boolean; events?: unknown[] } = {}) {
  const program = [
    '        .idt guest_idt',
    '        .intgate 6, l2_ud',
    'start:  mov ecx, MSR_EFER',
    '        rdmsr',
    '        or eax, EFER_SVME',
    '        wrmsr',
    ...(opts.hsave === false
      ? []
      : [
          '        mov ecx, MSR_VM_HSAVE_PA',
          '        mov eax, hsave',
          '        xor edx, edx',
          '        wrmsr',
        ]),
    '        mov rbx, vmcb',
    '        mov dword [rbx + VMCB_INTERCEPT_WORD4], INTERCEPT_VMRUN_MASK | INTERCEPT_VMMCALL_MASK',
    '        mov dword [rbx + VMCB_ASID], 1',
    '        mov qword [rbx + VMCB_RIP], l2',
    '        mov qword [rbx + VMCB_RSP], 0xc000',
    '        mov qword [rbx + VMCB_RFLAGS], 2',
    '        mov qword [rbx + VMCB_IDTR_BASE], guest_idt',
    '        mov rax, cr0',
    '        mov [rbx + VMCB_CR0], rax',
    '        mov rax, cr4',
    '        mov [rbx + VMCB_CR4], rax',
    '        mov ecx, MSR_EFER',
    '        rdmsr',
    '        mov [rbx + VMCB_EFER], eax',
    ...setup,
    '        mov rax, rbx',
    '        clgi',
    'run:    vmrun',
    'back:   mov ecx, [rax + VMCB_EXIT_CODE]',
    '        mov [exit_code], rcx',
    'done:   cli',
    '        hlt',
    'l2:     nop',
    ...l2,
    '        vmmcall',
    'l2_ud:  mov qword [l2_uds], 1',
    '        vmmcall',
    'exit_code: .dq 0',
    'l2_uds: .dq 0',
    '        .align 4096',
    'vmcb:   .zero 4096',
    'hsave:  .zero 4096',
  ];
  return {
    version: 1,
    name: 'nested-svm-unit',
    title: 'nested SVM unit test',
    description: '',
    arch: 'svm',
    levels: [{ kind: 'kvm' }, { kind: 'program', program }],
    events: opts.events ?? [],
    limits: { steps: 5000 },
  };
}

const VMCB12 = (s: LabSession) => label(s, 'vmcb');

describe('nested_svm_vmrun', () => {
  it('enters L2 through vmcb02: KVM skips the VMRUN in vmcb01 and runs L2 in its own lane', () => {
    const s = open(nestedDoc([], []));
    const run = decisions(s, Fn.nested_svm_vmrun);
    expect(run).toHaveLength(1);
    expect(run[0].d1).toBe(VMCB12(s));
    expect(run[0].d2).toBe(0);
    // vmcb01 keeps L1's state: its RIP is past the VMRUN.
    expect(vmcb01(s, run[0].step, VMCB.RIP)).toBe(label(s, 'back'));
    const entry = nrows(s).find((r) => r.step > run[0].step && r.kind === EventKind.VMENTRY)!;
    expect(entry.d2).toBe(label(s, 'l2'));
    expect(s.sim.stateAt(entry.step).svm.vmcb).toBe(KVM_SVM_HOST.VMCB02);
    expect(s.sim.stateAt(entry.step).svm.guestLane).toBe(2);
    // L2's VMMCALL goes to L1, which reads 0x81 in vmcb12.
    expect(decisions(s, Fn.nested_svm_vmexit).map((r) => r.d1)).toEqual([SvmExit.VMMCALL]);
    expect(l1Mem(s, s.totalSteps, label(s, 'exit_code'))).toBe(SvmExit.VMMCALL);
  });

  it('vmcb02 merges vmcb01 and vmcb12, and the VMCB panel tells where each field came from', () => {
    const s = open(nestedDoc(['        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_VINTR_MASK'], []));
    const step = decisions(s, Fn.nested_svm_vmrun)[0].step;
    const views = describeVmcbs(s.compiled, null, s.sim.stateAt(step));
    expect(views.map((v) => v.role)).toEqual(['vmcb01', 'vmcb02', 'vmcb12']);
    const vmcb02 = views[1];
    const field = (name: string) => vmcb02.fields.find((f) => f.name === name)!;
    // vmcb01's INTR/NMI intercepts | vmcb12's VINTR.
    expect(field('intercept').value & 0x13).toBe(0x13);
    expect(field('intercept').from).toMatch(/^vmcb01 \| vmcb12/);
    // V_INTR_MASKING from vmcb01 though vmcb12 has none; V_GIF_ENABLE from vmcb01.
    expect(field('int_ctl').value & INT_CTL.V_INTR_MASKING_MASK).not.toBe(0);
    expect(field('int_ctl').value & INT_CTL.V_GIF_ENABLE_MASK).not.toBe(0);
    expect(field('rip').value).toBe(label(s, 'l2'));
    expect(field('rip').from).toMatch(/^vmcb12/);
    expect(views[2].owner).toBe(1);
    expect(views[2].addr).toBe(VMCB12(s));
  });

  it('without VM_HSAVE_PA, L1’s VMRUN is #GP (svm->nested.hsave_msr is 0)', () => {
    const s = open(nestedDoc([], [], { hsave: false }));
    const run = decisions(s, Fn.nested_svm_vmrun);
    expect(run[0].d2).toBe(1);
    // The #GP goes into L1 through EVENTINJ at the next VMRUN of vmcb01.
    const entry = nrows(s).find((r) => r.step > run[0].step && r.kind === EventKind.VMENTRY)!;
    expect(entry.d0 >>> 0).toBe(0x80000b0d);
  });

  it('a vmcb12 that fails the checks: SVM_EXIT_ERR in vmcb12, GIF = 0, L1 goes on after its VMRUN', () => {
    const s = open(nestedDoc(['        mov dword [rbx + VMCB_ASID], 0'], []));
    const run = decisions(s, Fn.nested_svm_vmrun);
    expect(run[0].d2).toBe(2);
    expect(l1Mem(s, s.totalSteps, label(s, 'exit_code'))).toBe(0xffffffff);
    expect(vmcb01(s, run[0].step, VMCB.INT_CTL) & INT_CTL.V_GIF_MASK).toBe(0);
    expect(vmcb01(s, run[0].step, VMCB.RIP)).toBe(label(s, 'back'));
    expect(nrows(s).some((r) => r.kind === EventKind.VMENTRY && r.d2 === label(s, 'l2'))).toBe(false);
  });
});

describe('exits of L2', () => {
  it('an exception L1 intercepts comes to L1 through L0, which intercepts it first (#UD: exit 0x46)', () => {
    const s = open(nestedDoc(['        mov dword [rbx + VMCB_INTERCEPT_EXCEPTIONS], 0x40'], ['        ud2']));
    // L0's ud_interception queues #UD; svm_check_nested_events turns it into L1's #VMEXIT.
    expect(fns(s)).toContain(Fn.ud_interception);
    expect(decisions(s, Fn.svm_check_nested_events).map((r) => r.d1)).toEqual([SvmExit.EXCP_BASE + 6]);
    expect(l1Mem(s, s.totalSteps, label(s, 'exit_code'))).toBe(SvmExit.EXCP_BASE + 6);
    expect(l1Mem(s, s.totalSteps, label(s, 'l2_uds'))).toBe(0);
  });

  it('an exception L1 does not intercept is injected into L2', () => {
    const s = open(nestedDoc([], ['        ud2']));
    expect(decisions(s, Fn.svm_check_nested_events)).toEqual([]);
    expect(l1Mem(s, s.totalSteps, label(s, 'l2_uds'))).toBe(1);
    expect(l1Mem(s, s.totalSteps, label(s, 'exit_code'))).toBe(SvmExit.VMMCALL);
  });

  it('CPUID: reflected when vmcb12 intercepts it, else emulated by L0 for L2', () => {
    const intercepted = open(
      nestedDoc(['        mov dword [rbx + VMCB_INTERCEPT], INTERCEPT_CPUID_MASK'], ['        cpuid']),
    );
    expect(decisions(intercepted, Fn.nested_svm_vmexit).map((r) => r.d1)).toEqual([SvmExit.CPUID]);
    const kept = open(nestedDoc([], ['        cpuid']));
    const cpuid = decisions(kept, Fn.kvm_emulate_cpuid);
    const run = decisions(kept, Fn.nested_svm_vmrun)[0];
    expect(cpuid.filter((r) => r.step > run.step)).toHaveLength(1);
    expect(decisions(kept, Fn.nested_svm_vmexit).map((r) => r.d1)).toEqual([SvmExit.VMMCALL]);
  });
});

describe('kvm-svm-nested-intr', () => {
  const doc = findBuiltin('kvm-svm-nested-intr');
  const passing = (s: LabSession) => {
    expect(s.runError()).toBeNull();
    expect(s.assertions.length).toBeGreaterThan(0);
    expect(s.assertions.every((a) => a.passed)).toBe(true);
    expect(s.expectedEnd()?.reached).toBe(true);
  };

  it('an interrupt for L1 while L2 runs: svm_check_nested_events emulates #VMEXIT(INTR); L1 takes it after STGI', () => {
    const s = open(doc);
    passing(s);
    const exit = decisions(s, Fn.svm_check_nested_events);
    expect(exit.map((r) => r.d1)).toEqual([SvmExit.INTR]);
    // GIF = 0 for L1 after the emulated #VMEXIT (V_GIF in vmcb01).
    expect(vmcb01(s, exit[0].step, VMCB.INT_CTL) & INT_CTL.V_GIF_MASK).toBe(0);
    // Its STGI opens the VINTR window KVM armed in vmcb01, and 0x30 goes in through EVENTINJ.
    const after = decisions(s).filter((r) => r.step > exit[0].step);
    expect(after.map((r) => r.d0)).toContain(Fn.interrupt_window_interception);
    const inject = after.find((r) => r.d0 === Fn.kvm_check_and_inject_events && r.d1 & Inject.IRQ)!;
    expect(inject.d2).toBe(0x30);
  });

  it('without the INTR intercept, L0 injects L1’s interrupt into L2', () => {
    const s = open(doc, { intercept_intr: false });
    passing(s);
    expect(decisions(s, Fn.svm_check_nested_events)).toEqual([]);
    const l2Entry = nrows(s).filter((r) => r.kind === EventKind.VMENTRY && r.d0 >>> 0 === 0x80000030);
    expect(l2Entry).toHaveLength(1);
    expect(s.sim.stateAt(l2Entry[0].step).svm.guestLane).toBe(2);
  });

  it('with L1’s IF = 0 at VMRUN and V_INTR_MASKING, the interrupt waits for L2’s VMMCALL', () => {
    const s = open(doc, { l1_if: false });
    passing(s);
    expect(decisions(s, Fn.svm_check_nested_events)).toEqual([]);
    expect(decisions(s, Fn.nested_svm_vmexit).map((r) => r.d1)).toEqual([SvmExit.VMMCALL]);
  });

  it('arriving during the emulated VMRUN: nested_run_pending, L2 entered, an immediate exit, then #VMEXIT(INTR)', () => {
    const s = open(doc, { run_pending: true });
    passing(s);
    const run = decisions(s, Fn.nested_svm_vmrun)[0];
    const check = decisions(s).find((r) => r.step > run.step && r.d0 === Fn.kvm_check_and_inject_events)!;
    expect(check.d1 & (Inject.NESTED_BUSY | Inject.IMMEDIATE_EXIT)).toBe(
      Inject.NESTED_BUSY | Inject.IMMEDIATE_EXIT,
    );
    const exit = nrows(s).find((r) => r.step > check.step && r.kind === EventKind.VMEXIT)!;
    expect(exit.d0).toBe(SvmExit.INTR);
    expect(exit.rip).toBe(label(s, 'l2'));
    expect(decisions(s, Fn.svm_check_nested_events).map((r) => r.d1)).toEqual([SvmExit.INTR]);
  });
});

describe('review findings (checked against nested.c)', () => {
  it('vmcb02 has no V_NMI bits when L1 does not use vNMI, though KVM runs L1 with vNMI', () => {
    const s = open(nestedDoc([], []));
    const step = decisions(s, Fn.nested_svm_vmrun)[0].step;
    expect(vmcb01(s, step, VMCB.INT_CTL) & INT_CTL.V_NMI_ENABLE_MASK).not.toBe(0);
    const v02 = describeVmcbs(s.compiled, null, s.sim.stateAt(step)).find((v) => v.role === 'vmcb02')!;
    expect(v02.fields.find((f) => f.name === 'int_ctl')!.value & INT_CTL.V_NMI_ENABLE_MASK).toBe(0);
  });

  it('DR6 goes into vmcb02 with its active-low bits set, and comes back so in vmcb12', () => {
    const s = open(nestedDoc([], []));
    expect(l1Mem(s, s.totalSteps, label(s, 'vmcb') + VMCB.DR6)).toBe(0xffff0ff0);
  });

  it('a CR3 at or above MAXPHYADDR fails KVM’s checks (kvm_vcpu_is_legal_cr3), which the processor’s do not make', () => {
    const s = open(nestedDoc(['        mov rax, 0x10000000000', '        mov [rbx + VMCB_CR3], rax'], []));
    expect(decisions(s, Fn.nested_svm_vmrun)[0].d2).toBe(2);
    expect(l1Mem(s, s.totalSteps, label(s, 'exit_code'))).toBe(0xffffffff);
  });

  it('SKINIT is dropped from the cached intercepts (L1’s CPUID has no SKINIT); EVENTINJ’s reserved bits are masked', () => {
    const s = open(
      nestedDoc(
        [
          '        or dword [rbx + VMCB_INTERCEPT_WORD4], INTERCEPT_SKINIT_MASK',
          '        mov dword [rbx + VMCB_EVENT_INJ], 0x7ffff000',
        ],
        [],
      ),
    );
    const step = decisions(s, Fn.nested_svm_vmrun)[0].step;
    const ctl = s.sim.stateAt(step).kvms[0]!.svm.nested.ctl;
    expect(ctl.intercepts[4] & (1 << 6)).toBe(0);
    expect(ctl.eventInj).toBe(0);
  });
});

describe('L1’s SVM instructions and MSRs', () => {
  const l1Only = (code: string[]) =>
    open({
      version: 1,
      name: 'x',
      title: 't',
      description: '',
      arch: 'svm',
      levels: [
        { kind: 'kvm' },
        {
          kind: 'program',
          program: [
            'start:  mov ecx, MSR_EFER',
            '        rdmsr',
            '        or eax, EFER_SVME',
            '        wrmsr',
            '        mov ecx, MSR_VM_HSAVE_PA',
            '        mov eax, 0x5000',
            '        xor edx, edx',
            '        wrmsr',
            ...code,
            'done:   cli',
            '        hlt',
          ],
        },
      ],
      limits: { steps: 2000 },
    });

  it('VMRUN of a legal address no memory backs stops the vCPU (kvm_vcpu_map: -EFAULT); an unaligned one is #GP', () => {
    const unbacked = l1Only(['        mov rax, 0x100000', '        vmrun']);
    expect(decisions(unbacked, Fn.nested_svm_vmrun).map((r) => r.d2)).toEqual([3]);
    expect(unbacked.sim.stateAt(unbacked.totalSteps).kvms[0]!.phase).toBe(6);
    const unaligned = l1Only(['        mov rax, 0x4010', '        vmrun']);
    expect(decisions(unaligned, Fn.nested_svm_vmrun).map((r) => r.d2)).toEqual([1]);
  });

  it('VMLOAD of an unaligned RAX is not #GP under KVM (gpa_to_gfn), beyond memory it is', () => {
    const ok = l1Only(['        mov rax, 0x4010', '        vmload']);
    expect(decisions(ok, Fn.vmload_vmsave_interception)).toHaveLength(1);
    const bad = l1Only(['        mov rax, 0x100000', '        vmload']);
    expect(decisions(bad, Fn.vmload_vmsave_interception)).toHaveLength(0);
    expect(decisions(bad, Fn.inject_gp)).toHaveLength(1);
  });

  it('VM_CR: KVM keeps L1’s value; a reserved bit is #GP', () => {
    const s = l1Only([
      '        mov ecx, MSR_VM_CR',
      '        mov eax, 0x8',
      '        xor edx, edx',
      '        wrmsr',
      '        rdmsr',
      '        mov [vmcr], rax',
      '        jmp done',
      'vmcr:   .dq 0',
    ]);
    expect(decisions(s, Fn.svm_set_msr).map((r) => r.d1 >>> 0)).toContain(0xc0010114);
    expect(l1Mem(s, s.totalSteps, label(s, 'vmcr'))).toBe(8);
  });
});

describe('the KVM panel’s nested SVM state (struct svm_nested_state)', () => {
  it('after nested_svm_vmrun: guest mode, run pending, vmcb12 and hsave; at the emulated #VMEXIT: L1 with GIF = 0', () => {
    const s = open(findBuiltin('kvm-svm-nested-intr'));
    const run = decisions(s, Fn.nested_svm_vmrun)[0].step;
    const at = (n: number) => s.view(n).levels[0].kvm!.svm!.nested!;
    expect(at(run)).toMatchObject({ svme: true, guestMode: true, l2: 2, runPending: true, gif: true });
    expect(at(run).vmcb12).toBe(label(s, 'vmcb'));
    expect(at(run).hsave).toBe(label(s, 'hsave'));
    const exit = decisions(s, Fn.svm_check_nested_events)[0].step;
    expect(at(exit)).toMatchObject({ guestMode: false, runPending: false, gif: false });
    // Before L1 enables SVM there is no nested state to show.
    expect(s.view(1).levels[0].kvm!.svm!.nested).toBeNull();
  });
});
