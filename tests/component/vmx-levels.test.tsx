// @vitest-environment jsdom
import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { LabStore } from '../../src/app/store/lab-store';
import { FakeSimClient } from './fake-client';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';

resetDomBetweenTests();

async function openKvmRun() {
  const app = await renderApp();
  await app.user.selectOptions(screen.getByTestId('scenario-picker'), 'kvm-nmi');
  await untilStep(app.store, 0);
  return app;
}

async function seekWithBasis(store: LabStore, step: number) {
  store.getState().seek(step);
  await untilStep(store, step);
  await waitFor(() => expect(store.getState().prevView?.step).toBe(step - 1));
}

describe('KVM panel', () => {
  it('shows the KVM lane’s state instead of registers, with what changed highlighted', async () => {
    const { store } = await openKvmRun();
    const lane = screen.getByTestId('level-0');
    expect(within(lane).getByTestId('kvm-panel')).toBeInTheDocument();
    // A scenario with a guest is labelled with its architecture.
    expect(screen.getByTitle('Architecture of the scenario')).toHaveTextContent('VMX');
    expect(within(lane).queryByTestId('reg-rax')).toBeNull();
    expect(within(lane).getByTestId('kvm-enable-vnmi')).toHaveTextContent('0');
    expect(within(lane).getByTestId('kvm-last-exit')).toHaveTextContent('none yet');
    expect(within(lane).getByTestId('kvm-req-KVM_REQ_EVENT')).toHaveAttribute('data-on', 'true');

    await seekWithBasis(store, 1);
    const kvm = within(screen.getByTestId('kvm-panel'));
    expect(kvm.getByTestId('kvm-phase')).toHaveTextContent('kvm_check_and_inject_events');
    expect(kvm.getByTestId('kvm-phase')).toHaveAttribute('data-changed', 'true');
    expect(kvm.getByTestId('kvm-nmi-injected')).toHaveTextContent('true');
    expect(kvm.getByTestId('kvm-nmi-injected')).toHaveAttribute('data-changed', 'true');
    expect(kvm.getByTestId('kvm-nmi-pending')).toHaveTextContent('0');
    expect(kvm.getByTestId('kvm-soft-vnmi-blocked')).toHaveAttribute('data-on', 'true');
    expect(kvm.getByTestId('kvm-req-KVM_REQ_EVENT')).toHaveAttribute('data-on', 'false');
    expect(kvm.getByTestId('kvm-req-KVM_REQ_EVENT')).toHaveAttribute('data-changed', 'true');
    expect(kvm.getByTestId('kvm-host-irqs')).not.toHaveAttribute('data-changed');
  });

  it('decodes the last exit, fills the bar toward the 1 s break-out, and highlights the log', async () => {
    const { store } = await openKvmRun();
    await seekWithBasis(store, 4);
    expect(screen.getByTestId('kvm-last-exit')).toHaveTextContent('7 INTERRUPT_WINDOW');
    expect(screen.getByTestId('kvm-vnmi-blocked-time')).toHaveTextContent('250,000,000 ns');
    const bar = screen.getByTestId('kvm-breakout-bar');
    expect(bar).toHaveAttribute('aria-valuenow', '250000000');
    expect(bar).toHaveTextContent('25.0% of the 1 s break-out');

    await seekWithBasis(store, 5);
    const line = within(screen.getByTestId('kvm-log')).getByText(/Breaking out of NMI-blocked state/);
    expect(line.closest('.kvm-log-line')).toHaveClass('warn');
    expect(line.closest('.kvm-log-line')).toHaveClass('new');
    expect(screen.getByTestId('kvm-req-KVM_REQ_NMI')).toHaveAttribute('data-on', 'true');
  });
});

describe('lane badges', () => {
  it('shows mode and running/waiting, and where a waiting level resumes', async () => {
    const { user, store } = await openKvmRun();
    const host = screen.getByTestId('level-0');
    expect(within(host).getByTestId('mode-badge')).toHaveTextContent('VMX root');
    expect(within(host).getByTestId('run-badge')).toHaveTextContent('running');
    expect(within(host).queryByTestId('waiting-note')).toBeNull();

    // One tab per level (and the VMCS): the guest's tab says it waits.
    await user.click(screen.getByTestId('state-tab-level-1'));
    const guest = screen.getByTestId('level-1');
    expect(within(guest).getByTestId('mode-badge')).toHaveTextContent('non-root guest');
    expect(within(guest).getByTestId('run-badge')).toHaveTextContent('waiting');
    expect(within(guest).getByTestId('waiting-note')).toHaveTextContent(
      'the guest-state area of vmcs01 (GUEST_RIP 0x1000)',
    );
    expect(within(guest).getByTestId('intr-vnmi')).toHaveAttribute('data-on', 'false');

    // After the entry the guest runs and KVM waits at HOST_RIP.
    await seekWithBasis(store, 2);
    expect(within(screen.getByTestId('level-1')).getByTestId('run-badge')).toHaveTextContent('running');
    expect(screen.getByTestId('state-tab-level-1').querySelector('.run-dot')).not.toBeNull();
    await user.click(screen.getByTestId('state-tab-level-0'));
    expect(within(screen.getByTestId('level-0')).getByTestId('waiting-note')).toHaveTextContent(
      'HOST_RIP 0x3000 in vmcs01',
    );
  });

  it('flags an NMI nested in another NMI handler in the panel head', async () => {
    const { user, store } = await openKvmRun();
    await user.click(screen.getByTestId('state-tab-level-1'));
    await seekWithBasis(store, 5);
    expect(screen.queryByTestId('nested-nmi-badge')).toBeNull();
    await seekWithBasis(store, 6);
    expect(screen.getByTestId('nested-nmi-badge')).toHaveTextContent('nested NMI ×2');
  });

  it('the source follows the running lane; a KVM lane has no program', async () => {
    const { store } = await openKvmRun();
    expect(screen.getByTestId('source-view')).toHaveAttribute('data-level', '1');
    expect(screen.getByTestId('source-next')).toHaveTextContent('waits while L0 runs');
    await seekWithBasis(store, 2);
    expect(screen.getByTestId('source-next')).toHaveTextContent('line 8 · running');
  });

  it('marks the other lane’s line when two lanes run the same program', async () => {
    await renderApp({ client: new FakeSimClient({ levels: 2 }) });
    const line = screen.getByTestId('source-view').querySelector('[data-current="true"]');
    expect(line).toHaveAttribute('data-other', 'L1 resumes here (HOST_RIP)');
  });
});
