// @vitest-environment jsdom
import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { LabStore } from '../../src/app/store/lab-store';
import { guestModeText } from '../../src/app/kvm/NestedVmxState';
import { fieldOrigin, originLegend, vmcsMeta, vmcsRelation } from '../../src/app/vmx/provenance';
import { nestedRun } from './fake-nested-run';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

async function openNestedAt(step: number) {
  const app = await renderApp();
  await app.user.selectOptions(screen.getByTestId('scenario-picker'), 'nested-intr');
  await untilStep(app.store, 0);
  await seekWithBasis(app.store, step);
  return app;
}

async function seekWithBasis(store: LabStore, step: number) {
  store.getState().seek(step);
  await untilStep(store, step);
  if (step > 0) await waitFor(() => expect(store.getState().prevView?.step).toBe(step - 1));
}

describe('provenance of vmcs02 (pure)', () => {
  it('reads the tag, the source and the kernel function of each text', () => {
    expect(fieldOrigin('vmcs01 | vmcs12 (preemption timer emulated): prepare_vmcs02_early')).toEqual({
      tag: '01+12',
      kind: 'merged',
      text: 'vmcs01 | vmcs12 (preemption timer emulated): prepare_vmcs02_early',
      source: 'vmcs01 | vmcs12 (preemption timer emulated)',
      fn: 'prepare_vmcs02_early',
      file: 'vmx/nested.c',
    });
    expect(fieldOrigin('vmcs12: prepare_vmcs02')).toMatchObject({ tag: '12', fn: 'prepare_vmcs02' });
    expect(fieldOrigin("L0's host state: vmx_set_constant_host_state")).toMatchObject({
      tag: 'L0',
      file: 'vmx/vmx.c',
    });
    expect(fieldOrigin("L0's own (vmcs12's timer is an hrtimer)")).toMatchObject({ tag: 'L0', fn: null });
    // A function named in passing, not after a colon.
    expect(fieldOrigin('L0: active (a halted L2 is emulated by nested_vmx_run)')).toMatchObject({
      tag: 'L0',
      source: 'L0: active (a halted L2 is emulated by nested_vmx_run)',
      fn: 'nested_vmx_run',
    });
    expect(fieldOrigin(undefined)).toBeNull();
  });

  it('names the sources in the stack’s terms for a deeper merged VMCS (vmcs03, vmcs13)', () => {
    // KVM's texts say vmcs01, vmcs12, L0 from where that KVM stands.
    const pin = 'vmcs01 | vmcs12 (preemption timer emulated): prepare_vmcs02_early';
    expect(fieldOrigin(pin, 0, 3)).toMatchObject({ tag: '01+13', kind: 'merged' });
    expect(fieldOrigin(pin, 1, 3)).toMatchObject({
      tag: '12+23',
      kind: 'merged',
      source: 'vmcs12 | vmcs23 (preemption timer emulated)',
    });
    expect(fieldOrigin('vmcs12: prepare_vmcs02', 1, 3)).toMatchObject({ tag: '23', kind: 'upper' });
    expect(fieldOrigin("L0's host state: vmx_set_constant_host_state", 1, 3)).toMatchObject({
      tag: 'L1',
      kind: 'self',
      source: "L1's host state",
    });
    expect(fieldOrigin('L0: active (a halted L2 is emulated by nested_vmx_run)', 0, 3)?.text).toBe(
      'L0: active (a halted L3 is emulated by nested_vmx_run)',
    );
    expect(originLegend({ owner: 1, runs: 3 }).map((o) => `${o.tag} ${o.label}`)).toEqual([
      "23 vmcs23 (L2's)",
      "12 vmcs12 (L1's for L2)",
      '12+23 both, merged',
      "L1 L1's own",
    ]);
  });

  it('names each VMCS by who made it for whom and where it is held', () => {
    const vmcs = nestedRun().views[9].vmx.vmcs;
    expect(vmcs.map((v) => `${v.role} · ${vmcsRelation(v)}`)).toEqual([
      "vmcs01 · L0's VMCS for L1",
      "vmcs02 · L0's VMCS for L2, merged",
      "vmcs12 · L1's VMCS for L2",
    ]);
    expect(vmcsMeta(vmcs[2])).toBe(
      'held by L0 · KVM (its cached copy of L1’s VMCS) · 0x5000 vmcs12_region · launched',
    );
    expect(vmcsMeta(vmcs[0])).toBe('held by the processor · 0x2000 · launched');
  });
});

describe('VMCS panels of a nested run', () => {
  it('one panel per VMCS, titled by role, relation and holder, with an index', async () => {
    const { user } = await openNestedAt(11);
    await user.click(screen.getByTestId('state-tab-vmx'));
    const index = screen.getByTestId('vmcs-index');
    expect(
      within(index)
        .getAllByRole('button')
        .map((b) => b.textContent),
    ).toEqual(['vmcs01L0→L1', 'vmcs02L0→L2', 'vmcs12L1→L2']);
    const v12 = screen.getByTestId('vmcs-vmcs12');
    expect(within(v12).getByRole('heading', { level: 2 })).toHaveTextContent("vmcs12 · L1's VMCS for L2");
    expect(within(v12).getByTestId('vmcs-meta')).toHaveTextContent('held by L0 · KVM');
    expect(within(v12).queryByTestId('vmcs-origin-legend')).toBeNull();
    const v02 = screen.getByTestId('vmcs-vmcs02');
    expect(within(v02).getByRole('heading', { level: 2 })).toHaveTextContent(
      "vmcs02 · L0's VMCS for L2, merged",
    );
    expect(within(v02).getByRole('heading', { level: 2 })).toHaveTextContent('current');
    expect(within(v02).getByTestId('vmcs-meta')).toHaveTextContent('held by the processor · 0x4000');
  });

  it('tags each vmcs02 field with where it came from, the kernel function in the tooltip', async () => {
    const { user } = await openNestedAt(11);
    await user.click(screen.getByTestId('state-tab-vmx'));
    const v02 = within(screen.getByTestId('vmcs-vmcs02'));
    expect(v02.getByTestId('vmcs-origin-legend')).toHaveTextContent(
      "Where each field came from:12vmcs12 (L1's)01vmcs01 (L0's for L1)01+12both, mergedL0L0's own",
    );
    const pin = v02.getByTestId('vmcs-origin-PIN_BASED_VM_EXEC_CONTROL');
    expect(pin).toHaveTextContent('01+12');
    expect(pin).toHaveAttribute('data-origin', '01+12');
    expect(pin.title).toBe(
      'From vmcs01 | vmcs12 (preemption timer emulated)\nprepare_vmcs02_early() — arch/x86/kvm/vmx/nested.c',
    );
    expect(v02.getByTestId('vmcs-origin-GUEST_RIP')).toHaveAttribute('data-origin', '12');
    expect(v02.getByTestId('vmcs-origin-HOST_RIP')).toHaveAttribute('data-origin', 'L0');
    expect(v02.getByTestId('vmcs-origin-HOST_RIP').title).toContain(
      'vmx_set_constant_host_state() — arch/x86/kvm/vmx/vmx.c',
    );
    // Written by the processor at the exit: no origin recorded.
    expect(v02.getByTestId('vmcs-origin-VM_EXIT_REASON')).not.toHaveAttribute('data-origin');
    // vmcs01 and vmcs12 are not merged: no tags.
    expect(within(screen.getByTestId('vmcs-vmcs12')).queryByTestId('vmcs-origin-GUEST_RIP')).toBeNull();
  });

  it('highlights what changed in each VMCS: vmcs02 at the exit of L2, vmcs12 at the emulated exit', async () => {
    const { user, store } = await openNestedAt(12);
    await user.click(screen.getByTestId('state-tab-vmx'));
    const value = (role: string, field: string) =>
      within(screen.getByTestId(`vmcs-${role}`)).getByTestId(`vmcs-value-${field}`);
    expect(value('vmcs02', 'VM_EXIT_REASON')).toHaveAttribute('data-changed', 'true');
    expect(value('vmcs12', 'VM_EXIT_REASON')).not.toHaveAttribute('data-changed');
    expect(within(screen.getByTestId('vmcs-index-vmcs02')).getByText('2')).toBeInTheDocument();

    await seekWithBasis(store, 14);
    expect(value('vmcs12', 'VM_EXIT_REASON')).toHaveAttribute('data-changed', 'true');
    expect(value('vmcs12', 'VM_EXIT_REASON')).toHaveTextContent('0x00000001');
    expect(value('vmcs02', 'VM_EXIT_REASON')).not.toHaveAttribute('data-changed');
    expect(value('vmcs01', 'VM_EXIT_REASON')).not.toHaveAttribute('data-changed');
    // Bits too, in the field expanded in vmcs12 only.
    await user.click(within(screen.getByTestId('vmcs-vmcs12')).getByTestId('vmcs-field-VM_EXIT_REASON'));
    expect(screen.getAllByTestId('vmcs-bits-VM_EXIT_REASON')).toHaveLength(1);
  });
});

describe('level and KVM panels of a nested run', () => {
  it('says which VMCS area a waiting level is shown from (LevelView.restingIn)', async () => {
    const { user } = await openNestedAt(11);
    await user.click(screen.getByTestId('state-tab-level-1'));
    expect(within(screen.getByTestId('level-1')).getByTestId('waiting-note')).toHaveTextContent(
      'Waiting while L2 runs. Shown: the host-state area of vmcs12, where it resumes at the next VM exit L0 emulates for it (HOST_RIP 0x3044 in vmcs12).',
    );
    await user.click(screen.getByTestId('state-tab-level-0'));
    expect(within(screen.getByTestId('level-0')).getByTestId('waiting-note')).toHaveTextContent(
      'Waiting in VMX root while L2 runs. Shown: the host-state area of vmcs02, where it resumes at the next VM exit (HOST_RIP 0x3000 in vmcs02).',
    );
  });

  it('shows a guest that waits in the guest-state area of vmcs02', async () => {
    const { user } = await openNestedAt(13);
    await user.click(screen.getByTestId('state-tab-level-2'));
    expect(within(screen.getByTestId('level-2')).getByTestId('waiting-note')).toHaveTextContent(
      'Waiting: L0 runs. Shown: the guest-state area of vmcs02 (GUEST_RIP 0x3064), where it resumes at its next VM entry.',
    );
  });

  it('shows KVM’s nested VMX state, with what changed', async () => {
    const { store } = await openNestedAt(8);
    const kvm = () => within(screen.getByTestId('kvm-nested'));
    expect(kvm().getByTestId('kvm-nested-guest-mode')).toHaveTextContent('L1 on vmcs01');
    expect(kvm().getByTestId('kvm-nested-vmptr')).toHaveTextContent('0x5000');
    expect(kvm().getByTestId('kvm-nested-vmxon')).toHaveAttribute('data-on', 'true');
    expect(kvm().getByTestId('kvm-nested-timer-deadline')).toHaveTextContent('not armed');
    expect(kvm().getByTestId('kvm-nested-run-pending')).not.toHaveAttribute('data-changed');

    await seekWithBasis(store, 9);
    expect(kvm().getByTestId('kvm-nested-guest-mode')).toHaveTextContent('L2 on vmcs02');
    expect(kvm().getByTestId('kvm-nested-guest-mode')).toHaveAttribute('data-changed', 'true');
    expect(kvm().getByTestId('kvm-nested-run-pending')).toHaveAttribute('data-on', 'true');
    expect(kvm().getByTestId('kvm-nested-run-pending')).toHaveAttribute('data-changed', 'true');
    expect(kvm().getByTestId('kvm-nested-vmptr')).not.toHaveAttribute('data-changed');

    await seekWithBasis(store, 10);
    expect(kvm().getByTestId('kvm-nested-run-pending')).toHaveAttribute('data-on', 'false');
    expect(kvm().getByTestId('kvm-nested-guest-mode')).not.toHaveAttribute('data-changed');
  });

  it('names what a KVM runs in the stack’s terms, at any level', () => {
    const vmcs = nestedRun().views[9].vmx.vmcs;
    const nested = nestedRun().views[9].levels[0].kvm!.nested!;
    expect(guestModeText(nested, 0, vmcs)).toBe('L2 on vmcs02');
    expect(guestModeText({ ...nested, guestMode: false }, 0, vmcs)).toBe('L1 on vmcs01');
    // Four levels: L1 (a KVM) has made vmcs13 from L2's vmcs23; L0 runs L3 on vmcs03.
    const deeper = [
      { ...vmcs[2], role: 'vmcs13', addr: 0x6000, owner: 1, runs: 3 },
      { ...vmcs[2], role: 'vmcs23', addr: 0x3000, owner: 2, runs: 3 },
    ];
    expect(guestModeText({ ...nested, currentVmptr: 0x6000 }, 0, deeper)).toBe('L3 on vmcs03');
    expect(guestModeText({ ...nested, currentVmptr: 0x3000 }, 1, deeper)).toBe('L3 on vmcs13');
    expect(guestModeText({ ...nested, guestMode: false }, 1, deeper)).toBe('L2 on vmcs12');
  });

  it('does not mark the KVM tab changed when nothing in KVM changed', async () => {
    await openNestedAt(11);
    // Step 11 is an instruction of L2: KVM's state is the same object shape, unchanged.
    expect(screen.getByTestId('state-tab-level-0').querySelector('.changed-dot')).toBeNull();
  });
});
