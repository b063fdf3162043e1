// KVM at any level: the same model above L0, its instructions trapping to the KVM below; the
// four-level seed (d264ee0c); five levels; VMCS shadowing's effect on L1's exits; and the
// stacks the lab refuses.
import { describe, expect, it } from 'vitest';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { nestUnderKvm } from '../../../src/core/scenario/nest';
import { open, openError } from '../helpers';
import { type SimState, Stepper, initialState } from '../../../src/core/engine/machine';
import { EventKind, Fn, decisions, hwExits, nrows, results } from './nested-helpers';

const seed = (params: Record<string, string | boolean> = {}) =>
  open(findBuiltin('nested-preemption-timer'), params);

/** Instructions L3 (lane 3) retired after the harness's stage-4 VMRESUME traps. */
function l3AfterStage4(s: ReturnType<typeof seed>): number {
  const resumes = hwExits(s, 2).filter((r) => r.d0 === 24);
  const from = resumes[resumes.length - 1].step;
  return nrows(s).filter(
    (r) => r.level === 3 && r.step > from && (r.kind === EventKind.INSTR || r.kind === EventKind.ASSERT),
  ).length;
}

describe('four levels: KVM, KVM, the kvm-unit-tests harness, its guest (d264ee0c)', () => {
  it('L1 forcing its immediate exit by self-IPI, L0 lazy: the IPI traps, L3 runs on, the harness fails', () => {
    const s = seed();
    // L1's smp_send_reschedule is a WRMSR to its x2APIC ICR: an exit of L1, emulated by L0.
    const icr = hwExits(s, 1).filter((r) => r.d0 === 32);
    expect(icr.length).toBeGreaterThan(0);
    expect(
      decisions(s, Fn.x2apic_msr_write).some(
        (d) => d.level === 0 && d.d1 === 0x830 && (d.d2 & 0xff) === 0xfd,
      ),
    ).toBe(true);
    expect(l3AfterStage4(s)).toBeGreaterThanOrEqual(2);
    const r = results(s);
    expect(r.find((a) => a.message === 'preemption timer with 0 value')?.passed).toBe(false);
  });

  it('an eager L0 (b5861e5cf2fc): L3 retires nothing, the harness passes', () => {
    const s = seed({ l0_eager: true });
    expect(l3AfterStage4(s)).toBe(0);
    expect(results(s).every((a) => a.passed)).toBe(true);
  });

  it('L1 using the preemption timer at 0: passes whatever L0 does, exit 52 at saved_rip', () => {
    for (const l0_eager of [false, true]) {
      const s = seed({ l1_mechanism: 'preemption-timer', l0_eager });
      expect(l3AfterStage4(s)).toBe(0);
      expect(results(s).every((a) => a.passed)).toBe(true);
      // The exit L2 (the harness) sees is L1's emulated exit 52.
      expect(decisions(s, Fn.vmx_check_nested_events).some((d) => d.level === 1 && d.d1 === 52)).toBe(true);
    }
  });

  it('the KVM at L1 is the same model: its decisions are trace steps at L1', () => {
    const s = seed();
    const l1 = decisions(s)
      .filter((d) => d.level === 1)
      .map((d) => d.d0);
    for (const fn of [
      Fn.hardware_enable,
      Fn.vmx_vcpu_create,
      Fn.nested_vmx_run,
      Fn.nested_vmx_reflect_vmexit,
      Fn.kvm_check_and_inject_events,
    ])
      expect(l1).toContain(fn);
  });
});

describe('five levels', () => {
  it('kut-external-interrupt under three KVMs gives the bare-metal results', () => {
    const bare = open(findBuiltin('kut-external-interrupt'));
    let doc = findBuiltin('kut-external-interrupt');
    for (let i = 0; i < 3; i++) doc = nestUnderKvm(doc);
    const s = open(doc);
    expect(s.compiled.lanes.map((l) => l.kind)).toEqual(['kvm', 'kvm', 'kvm', 'guest', 'guest']);
    expect(s.runError()).toBeNull();
    expect(results(s)).toEqual(results(bare));
    // Every KVM decided something at its own level.
    for (const lane of [0, 1, 2]) expect(decisions(s).some((d) => d.level === lane)).toBe(true);
  });
});

describe("VMCS shadowing (KVM's enable_shadow_vmcs)", () => {
  const l1VmcsExits = (shadowVmcs: boolean) => {
    const doc = structuredClone(findBuiltin('nested-intr')) as {
      levels: { options?: Record<string, unknown> }[];
    };
    doc.levels[0].options = { ...doc.levels[0].options, shadowVmcs };
    const s = open(doc);
    expect(results(s).every((a) => a.passed)).toBe(true);
    return hwExits(s, 1).filter((r) => r.d0 === 23 || r.d0 === 25).length;
  };

  it("with it, L1's VMREADs of the exit information do not exit; without it, every VMREAD and VMWRITE does", () => {
    const on = l1VmcsExits(true);
    const off = l1VmcsExits(false);
    expect(off).toBeGreaterThan(on);
    expect(on).toBeLessThanOrEqual(5); // only the fields KVM does not shadow (MSR_BITMAP, HOST_RIP, ...)
  });
});

describe('stacks the lab refuses, with the field', () => {
  const doc = (levels: unknown[], events: unknown[] = []) => ({
    version: 1,
    name: 'x',
    title: 'x',
    description: '',
    arch: 'vmx',
    levels,
    events,
  });
  const prog = { kind: 'program', program: ['start: cli', 'hlt'] };
  const kvm = { kind: 'kvm' };

  it('KVM above a program', () => {
    expect(openError(doc([prog, kvm, prog])).where).toBe('levels[1]');
  });

  it('KVM with no guest above it', () => {
    expect(openError(doc([kvm, kvm])).where).toBe('levels[1]');
  });

  it('a stack deeper than the limit', () => {
    expect(openError(doc([kvm, kvm, kvm, kvm, kvm, kvm, kvm, prog])).where).toBe('levels');
  });

  it('an event for a level whose APIC a program would have to emulate', () => {
    expect(openError(doc([kvm, prog], [{ at: { time: 10 }, target: 2, irq: 48 }])).where).toMatch(
      /events\[0\]\.target/,
    );
  });
});

describe('seeking in a deep run', () => {
  it('a state rebuilt from a checkpoint (KVM decisions in progress included) equals the one reached running', () => {
    let doc = findBuiltin('kut-external-interrupt');
    for (let i = 0; i < 3; i++) doc = nestUnderKvm(doc);
    const s = open(doc);
    const target = 8192 + 41; // past the first checkpoint: rebuilt from it, then replayed
    expect(s.totalSteps).toBeGreaterThan(target);
    // The same step reached by stepping from the start, with no checkpoint.
    const st = new Stepper(s.compiled, initialState(s.compiled));
    while (st.state.step < target) st.step();
    const key = (x: SimState) => ({
      step: x.step,
      time: x.time,
      lane: x.lane,
      rip: x.cpu.rip,
      regs: Array.from(x.cpu.regs),
      kvms: x.kvms.map((k) => (k ? { ...k, lapic: null, guestRegs: Array.from(k.guestRegs) } : null)),
      tx: x.tx,
      vmcs: x.vmx.vmcs,
    });
    s.view(5);
    expect(key(s.sim.stateAt(target))).toEqual(key(st.state));
  });
});

describe('KVM above a program hypervisor', () => {
  it("KVM's VMX instructions exit to the program below, which must emulate VMX for it", () => {
    const l0 = [
      'start:  vmxon [vmxon_ptr]',
      '        vmclear [vmcs_ptr]',
      '        vmptrld [vmcs_ptr]',
      '        vmwrite GUEST_RIP, 0x3001        ; where KVM starts (its stubs: docs/nesting.md)',
      '        vmwrite GUEST_RSP, 0x10000',
      '        vmwrite GUEST_RFLAGS, X86_EFLAGS_FIXED',
      '        vmwrite GUEST_IDTR_BASE, 0x3040',
      '        mov rax, rsp',
      '        vmwrite HOST_RSP, rax',
      '        vmwrite HOST_RIP, exit',
      '        vmlaunch',
      '        cli',
      '        hlt',
      'exit:   vmread rax, VM_EXIT_REASON',
      '        assert rax == EXIT_REASON_VMON, "KVM\'s VMXON exits to L0"',
      '        vmread rax, VM_EXIT_INSTRUCTION_LEN',
      '        assert rax == 8, "VMXON [mem] is 8 bytes"',
      '        cli',
      '        hlt',
      'vmxon_ptr: .dq vmxon_region',
      'vmcs_ptr:  .dq vmcs',
      '        .align 4096',
      'vmxon_region: .dd 1',
      '        .align 4096',
      'vmcs:   .dd 1',
    ];
    const s = open({
      version: 1,
      name: 'x',
      title: 'x',
      description: '',
      arch: 'vmx',
      levels: [
        { kind: 'program', program: l0 },
        { kind: 'kvm' },
        { kind: 'program', program: ['start: cli', 'hlt'] },
      ],
    });
    expect(s.compiled.lanes.map((l) => l.kind)).toEqual(['program', 'kvm', 'guest']);
    expect(results(s)).toEqual([
      { message: "KVM's VMXON exits to L0", passed: true },
      { message: 'VMXON [mem] is 8 bytes', passed: true },
    ]);
  });

  it('a program that enters no guest cannot have a level above it', () => {
    const prog = { kind: 'program', program: ['start: cli', 'hlt'] };
    const e = openError({
      version: 1,
      name: 'x',
      title: 'x',
      description: '',
      arch: 'vmx',
      levels: [prog, { kind: 'kvm' }, prog],
    });
    expect(e.where).toBe('levels[1]');
  });
});

describe('the command line for nesting', () => {
  it('--nest kvm twice puts two KVM levels below; --at shows each KVM and every VMCS', async () => {
    const { runCli } = await import('../../../src/cli/main');
    const twice = runCli(['kut-nmi-window', '--nest', 'kvm', '--nest', 'kvm']);
    expect(twice.stdout).toMatch(/levels: L0 · KVM \(kvm\), L1 · KVM \(kvm\), L2 · hypervisor/);
    const at = runCli(['nested-intr', '--at', '43']);
    expect(at.stdout).toMatch(/KVM: vcpu_enter_guest/);
    expect(at.stdout).toMatch(/nested: vmxon 1, current_vmptr 0x5000/);
    expect(at.stdout).toMatch(/^vmcs12 \(L1's VMCS for L2\) at 0x5000, current, launched; held by L0 · KVM/m);
  });

  it('a VMPTRLD that fails is explained as failing, with its error', () => {
    const doc = structuredClone(findBuiltin('nested-intr')) as { levels: { program?: string[] }[] };
    const prog = doc.levels.find((l) => l.program)!.program!;
    prog[prog.indexOf('vmcs12_region: .dd 1')] = 'vmcs12_region: .dd 2';
    const s = open(doc);
    const d = decisions(s, Fn.handle_vmptrld)[0];
    expect(s.view(d.step).explanation.text).toMatch(/VMPTRLD of 0x5000 fails: VMfailInvalid/);
    const run = decisions(s, Fn.nested_vmx_run)[0];
    expect(s.view(run.step).explanation.text).toMatch(/fails its checks: VMfailInvalid/);
  });
});
