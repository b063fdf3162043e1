// What the faces show of a nested run (src/core/engine/describe.ts and the CLI summary): every
// VMCS named by who made it for whom (vmcs01, vmcs02 with its field provenance, vmcs12 held by
// KVM), where each level that is not running keeps its state (restingArea), and KVM's
// nested_vmx state.
import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../../src/cli/summary';
import { findBuiltin } from '../../../src/core/scenario/builtins';
import { open } from '../helpers';
import {
  F,
  Fn,
  KVM_HOST,
  L0,
  L1,
  L2,
  firstDecision,
  l1Exits,
  l1Program,
  l2Entries,
  lbl,
  runNested,
  vmcs12,
} from './nested-helpers';

describe('the VMCS views and the levels while L2 runs and after it exits', () => {
  const s = runNested(l1Program({ l2: ['        nop', 'l2_work: work 2000', 'l2_call: vmcall'] }));
  const run = firstDecision(s, Fn.nested_vmx_run).step;
  const entry = l2Entries(s)[0].step;
  const [exit] = l1Exits(s);

  it('before L1 runs L2 there is only vmcs01, and KVM shows no nested state before VMXON', () => {
    const first = firstDecision(s, Fn.handle_vmxon).step;
    const v = s.view(first - 1);
    expect(v.vmx.vmcs.map((x) => x.role)).toEqual(['vmcs01']);
    expect(v.levels[L0].kvm?.nested).toBeNull();
    expect(s.view(first).levels[L0].kvm?.nested).toMatchObject({ vmxon: true, currentVmptr: -1 });
  });

  it('vmcs01, vmcs02 and vmcs12: who made each for whom, and where it lives', () => {
    const vmcs = s.view(entry).vmx.vmcs;
    const by = (role: string) => vmcs.find((x) => x.role === role)!;
    expect(by('vmcs01')).toMatchObject({
      addr: KVM_HOST.VMCS01,
      owner: 0,
      runs: 1,
      heldBy: 'the processor',
      current: false,
      provenance: null,
    });
    expect(by('vmcs02')).toMatchObject({
      addr: KVM_HOST.VMCS02,
      owner: 0,
      runs: 2,
      heldBy: 'the processor',
      current: true,
      launched: true,
    });
    expect(by('vmcs02').provenance).not.toBeNull();
    expect(by('vmcs12')).toMatchObject({
      addr: lbl(s, 'vmcs12_region'),
      label: 'vmcs12_region',
      owner: 1,
      runs: 2,
      current: true,
      provenance: null,
    });
    expect(by('vmcs12').heldBy).toMatch(/L0 · KVM/);
    expect(by('vmcs12').heldBy).toMatch(/cached/);
    // The vmcs12 entries are KVM's cached copy.
    const rip = by('vmcs12').fields.find((f) => f.encoding === F.GUEST_RIP)!.value;
    expect(rip).toBe(vmcs12(s, entry, F.GUEST_RIP));
  });

  it('vmcs12 is marked launched by the first emulated exit (prepare_vmcs12), as in KVM', () => {
    const at = (n: number) => s.view(n).vmx.vmcs.find((x) => x.role === 'vmcs12')!.launched;
    expect(at(entry)).toBe(false);
    expect(at(exit.step)).toBe(true);
  });

  it('while L2 runs, L1 rests in the host-state area of vmcs12: HOST_RIP, RFLAGS 0x2', () => {
    const v = s.view(entry);
    expect(v.levels[L2].cpu.running).toBe(true);
    expect(v.levels[L1].cpu.running).toBe(false);
    expect(v.levels[L1].restingIn).toBe('the host-state area of vmcs12');
    expect(v.levels[L1].cpu.rip).toBe(lbl(s, 'l1_exit'));
    expect(v.levels[L1].cpu.rflags).toBe(0x2);
  });

  it('after the exit, L2 rests in the guest-state area of vmcs12 at its GUEST_RIP', () => {
    const v = s.view(exit.step);
    expect(v.levels[L2].cpu.running).toBe(false);
    expect(v.levels[L2].restingIn).toBe('the guest-state area of vmcs12');
    expect(v.levels[L2].cpu.rip).toBe(lbl(s, 'l2_call'));
    expect(v.levels[L1].restingIn).toBe('the guest-state area of vmcs01');
  });

  it("KVM's nested state: guest mode and nested_run_pending from nested_vmx_run to the entry", () => {
    expect(s.view(run).levels[L0].kvm?.nested).toMatchObject({
      guestMode: true,
      runPending: true,
      currentVmptr: lbl(s, 'vmcs12_region'),
    });
    expect(s.view(entry).levels[L0].kvm?.nested).toMatchObject({ guestMode: true, runPending: false });
    expect(s.view(exit.step).levels[L0].kvm?.nested).toMatchObject({ guestMode: false, runPending: false });
  });
});

describe('the command-line summary of a nested run', () => {
  it("counts L1's injection into L2 (0x41) as a delivery to L2, not to L1", () => {
    const s = open(findBuiltin('immediate-exit'));
    const lines = formatSummary(s).split('\n');
    const from = lines.indexOf('deliveries through the IDT:');
    expect(from).toBeGreaterThanOrEqual(0);
    const section: string[] = [];
    for (let i = from + 1; i < lines.length && lines[i].startsWith('  '); i++) section.push(lines[i]);
    const l1 = section.find((l) => l.startsWith('  L1 ·')) ?? '';
    const l2 = section.find((l) => l.startsWith('  L2 ·')) ?? '';
    expect(l1).toMatch(/0x30/);
    expect(l1).not.toMatch(/0x41/);
    expect(l2).toMatch(/external interrupt 0x41 \(injected\) ×1/);
  });
});
