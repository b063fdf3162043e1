// @vitest-environment jsdom
import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { bitRows, fieldGroups, fieldSummary } from '../../src/app/vmx/vmcs-model';
import type { LabStore } from '../../src/app/store/lab-store';
import { vmxRun } from './fake-vmx-run';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

/** Opens the canned VMX run, at `step`, with the VMCS tab shown (jsdom has no width: tabs). */
async function openVmcsAt(step: number) {
  const app = await renderApp();
  await app.user.selectOptions(screen.getByTestId('scenario-picker'), 'kvm-nmi');
  await untilStep(app.store, 0);
  await seekWithBasis(app.store, step);
  await app.user.click(screen.getByTestId('state-tab-vmx'));
  return app;
}

async function seekWithBasis(store: LabStore, step: number) {
  store.getState().seek(step);
  await untilStep(store, step);
  // The comparison basis (step - 1) has arrived.
  if (step > 0) await waitFor(() => expect(store.getState().prevView?.step).toBe(step - 1));
}

function bit(name: string, field: string): HTMLElement {
  const el = screen.getByTestId(`vmcs-bits-${field}`).querySelector<HTMLElement>(`[data-bit="${name}"]`);
  if (!el) throw new Error(`no bit ${name} in ${field}`);
  return el;
}

describe('VMCS model (from two StepViews)', () => {
  const run = vmxRun();
  const before = run.views[4].vmx.vmcs[0];
  const after = run.views[5].vmx.vmcs[0];

  it('groups the fields, important first, and marks those that changed', () => {
    const groups = fieldGroups(after, before, false);
    expect(groups.map((g) => g.title)).toEqual([
      'VM-exit information',
      'Controls',
      'Guest state',
      'Host state',
    ]);
    const controls = groups.find((g) => g.type === 'control')!;
    expect(controls.rows.map((r) => r.name)).toEqual([
      'VM_ENTRY_INTR_INFO_FIELD',
      'PIN_BASED_VM_EXEC_CONTROL',
      'CPU_BASED_VM_EXEC_CONTROL',
    ]);
    const changed = groups.flatMap((g) => g.rows.filter((r) => r.changed).map((r) => r.name));
    expect(changed).toEqual(['CPU_BASED_VM_EXEC_CONTROL']);
  });

  it('decodes bits with the shared layouts and marks the bits that changed', () => {
    const rows = bitRows('CPU_BASED_VM_EXEC_CONTROL', 0x400080, 0x80);
    const nmiWindow = rows.find((r) => r.bit.linuxName === 'CPU_BASED_NMI_WINDOW_EXITING')!;
    expect(nmiWindow).toMatchObject({ position: '22', changed: true });
    expect(nmiWindow.bit.set).toBe(true);
    expect(nmiWindow.section).toBe('SDM Vol. 3C "Processor-Based VM-Execution Controls"');
    const hlt = rows.find((r) => r.bit.linuxName === 'CPU_BASED_HLT_EXITING')!;
    expect(hlt).toMatchObject({ changed: false });
    expect(hlt.bit.set).toBe(true);
    expect(fieldSummary('CPU_BASED_VM_EXEC_CONTROL', 0x400080)).toBe('HLT_EXITING NMI_WINDOW_EXITING');
    expect(fieldSummary('VM_ENTRY_INTR_INFO_FIELD', 0x80000202)).toBe('NMI · vector 0x02');
    expect(fieldSummary('VM_ENTRY_INTR_INFO_FIELD', 0x202)).toBe('not valid (was NMI · vector 0x02)');
    expect(fieldSummary('VM_EXIT_REASON', 8)).toBe('8 NMI_WINDOW');
  });
});

describe('VMCS panel', () => {
  it('names the VMCS and shows the processor’s VMX state', async () => {
    await openVmcsAt(0);
    const panel = screen.getByTestId('vmcs-vmcs01');
    const title = within(panel).getByRole('heading', { level: 2 });
    expect(title).toHaveTextContent("vmcs01 · L0's VMCS for L1");
    expect(title).toHaveTextContent('current');
    expect(within(panel).getByTestId('vmcs-meta')).toHaveTextContent(
      'held by the processor · 0x2000 · launched',
    );
    // One VMCS: no index, no origin tags.
    expect(screen.queryByTestId('vmcs-index')).toBeNull();
    expect(within(panel).queryByTestId('vmcs-origin-legend')).toBeNull();
    expect(screen.getByTestId('vmx-on')).toHaveAttribute('data-on', 'true');
    expect(screen.getByTestId('vmx-operation')).toHaveTextContent('root operation');
    expect(screen.getByTestId('vmx-preemption-timer')).toHaveTextContent('off');
  });

  it('decodes VM_ENTRY_INTR_INFO_FIELD 0x80000202 as vector 2, type NMI, valid, with what changed', async () => {
    const { user } = await openVmcsAt(1);
    const value = screen.getByTestId('vmcs-value-VM_ENTRY_INTR_INFO_FIELD');
    expect(value).toHaveTextContent('0x80000202');
    expect(value).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('vmcs-summary-VM_ENTRY_INTR_INFO_FIELD')).toHaveTextContent(
      'NMI · vector 0x02',
    );
    expect(screen.getByTestId('vmcs-value-PIN_BASED_VM_EXEC_CONTROL')).not.toHaveAttribute('data-changed');

    await user.click(screen.getByTestId('vmcs-field-VM_ENTRY_INTR_INFO_FIELD'));
    expect(bit('INTR_INFO_VECTOR_MASK', 'VM_ENTRY_INTR_INFO_FIELD')).toHaveTextContent('Vector = 2');
    expect(bit('INTR_INFO_INTR_TYPE_MASK', 'VM_ENTRY_INTR_INFO_FIELD')).toHaveTextContent(
      'Interruption type = 2 (NMI)',
    );
    const valid = bit('INTR_INFO_VALID_MASK', 'VM_ENTRY_INTR_INFO_FIELD');
    expect(valid).toHaveAttribute('data-set', 'true');
    expect(valid).toHaveAttribute('data-changed', 'true');
    expect(bit('INTR_INFO_DELIVER_CODE_MASK', 'VM_ENTRY_INTR_INFO_FIELD')).toHaveAttribute(
      'data-set',
      'false',
    );
    // Tooltips: the field's SDM section, and the bit's.
    expect(screen.getByTestId('vmcs-field-VM_ENTRY_INTR_INFO_FIELD').title).toContain(
      'SDM Vol. 3C "VM-Entry Controls for Event Injection"',
    );
    expect(valid.title).toContain('SDM Vol. 3C "VM-Entry Controls for Event Injection"');
  });

  it('highlights the NMI-window bit KVM just set, and only what changed', async () => {
    const { user } = await openVmcsAt(5);
    expect(screen.getByTestId('vmcs-value-CPU_BASED_VM_EXEC_CONTROL')).toHaveAttribute(
      'data-changed',
      'true',
    );
    expect(screen.getByTestId('vmcs-changed-count')).toHaveTextContent('1 changed');
    await user.click(screen.getByTestId('vmcs-field-CPU_BASED_VM_EXEC_CONTROL'));
    const nmiWindow = bit('CPU_BASED_NMI_WINDOW_EXITING', 'CPU_BASED_VM_EXEC_CONTROL');
    expect(nmiWindow).toHaveAttribute('data-set', 'true');
    expect(nmiWindow).toHaveAttribute('data-changed', 'true');
    const hlt = bit('CPU_BASED_HLT_EXITING', 'CPU_BASED_VM_EXEC_CONTROL');
    expect(hlt).toHaveAttribute('data-set', 'true');
    expect(hlt).not.toHaveAttribute('data-changed');
    expect(bit('CPU_BASED_INTR_WINDOW_EXITING', 'CPU_BASED_VM_EXEC_CONTROL')).toHaveAttribute(
      'data-set',
      'false',
    );
    // The tab says something changed in it.
    expect(screen.getByTestId('state-tab-vmx')).toHaveTextContent('VMCS · 1 changed');
  });

  it('lists the important fields first and every field on demand', async () => {
    const { user } = await openVmcsAt(4);
    const names = () =>
      [...screen.getByTestId('vmcs-vmcs01').querySelectorAll('[data-field]')].map((f) =>
        f.getAttribute('data-field'),
      );
    expect(names().slice(0, 3)).toEqual(['VM_EXIT_REASON', 'VM_EXIT_INTR_INFO', 'IDT_VECTORING_INFO_FIELD']);
    expect(screen.getByTestId('vmcs-summary-VM_EXIT_REASON')).toHaveTextContent('7 INTERRUPT_WINDOW');
    expect(names()).toHaveLength(11);
    expect(names()).not.toContain('GUEST_RSP');
    await user.click(screen.getByTestId('vmcs-show-all'));
    expect(names()).toHaveLength(15);
    expect(names()).toContain('GUEST_RSP');
  });
});
