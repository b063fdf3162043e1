// @vitest-environment jsdom
import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { FakeSimClient } from './fake-client';
import { renderApp, untilStep, resetDomBetweenTests } from './render-app';

resetDomBetweenTests();

describe('level panel', () => {
  it('shows the registers, RIP, IF, interruptibility, activity and APIC of the step', async () => {
    await renderApp();
    const panel = screen.getByTestId('level-0');
    expect(within(panel).getByRole('heading', { name: 'L0 · bare metal' })).toBeInTheDocument();
    // A scenario without virtualization is not labelled VMX (issue 11, item 8).
    expect(screen.queryByTitle('Architecture of the scenario')).toBeNull();
    expect(screen.getByTestId('reg-rax')).toHaveTextContent('0x0000000000000000');
    expect(screen.getByTestId('reg-rsp')).toHaveTextContent('0x0000000000008000');
    expect(screen.getByTestId('rip')).toHaveTextContent('0x0000000000001000');
    expect(screen.getByTestId('next-instruction')).toHaveTextContent('sti');
    expect(screen.getByTestId('rflags-if')).toHaveTextContent('IF=0');
    expect(screen.getByTestId('rflags-if')).toHaveAttribute('data-on', 'false');
    expect(screen.getByTestId('intr-sti')).toHaveAttribute('data-on', 'false');
    expect(screen.getByTestId('activity')).toHaveTextContent('active');
    expect(screen.getByTestId('apic-irr')).toHaveTextContent('empty');
    expect(screen.getByTestId('apic-isr')).toHaveTextContent('empty');
    expect(screen.getByTestId('apic-tpr')).toHaveTextContent('0x00');
    expect(screen.getByTestId('nmi-depth')).toHaveTextContent('0');
  });

  it('follows the steps: STI, the IRQ in the IRR, then in the ISR after delivery', async () => {
    const { user, store } = await renderApp();
    await user.keyboard('{ArrowRight}');
    await untilStep(store, 1);
    expect(screen.getByTestId('rflags-if')).toHaveTextContent('IF=1');
    expect(screen.getByTestId('intr-sti')).toHaveAttribute('data-on', 'true');

    await user.keyboard('{ArrowRight}{ArrowRight}');
    await untilStep(store, 3);
    expect(screen.getByTestId('apic-irr')).toHaveTextContent('0x30');
    expect(screen.getByTestId('pending-intr')).toHaveTextContent('0x30');
    expect(screen.getByTestId('intr-sti')).toHaveAttribute('data-on', 'false');

    await user.keyboard('{ArrowRight}');
    await untilStep(store, 4);
    expect(screen.getByTestId('apic-irr')).toHaveTextContent('empty');
    expect(screen.getByTestId('apic-isr')).toHaveTextContent('0x30');
    expect(screen.getByTestId('apic-ppr')).toHaveTextContent('0x30');
    expect(screen.getByTestId('rip')).toHaveTextContent('0x0000000000002000');
    expect(screen.getByTestId('rflags-if')).toHaveTextContent('IF=0');
    expect(screen.getByTestId('handler-depth')).toHaveTextContent('1');
  });

  it('highlights exactly the fields that changed since the previous step', async () => {
    const { user, store } = await renderApp();
    expect(screen.getByTestId('rflags-if')).not.toHaveAttribute('data-changed');

    await user.keyboard('{ArrowRight}');
    await untilStep(store, 1);
    expect(screen.getByTestId('rflags-if')).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('intr-sti')).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('rip')).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('reg-rax')).not.toHaveAttribute('data-changed');

    await user.keyboard('{ArrowRight}');
    await untilStep(store, 2);
    expect(screen.getByTestId('reg-rax')).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('reg-rax')).toHaveClass('changed');
    expect(screen.getByTestId('rflags-if')).not.toHaveAttribute('data-changed');
    expect(screen.getByTestId('reg-rbx')).not.toHaveAttribute('data-changed');

    await user.keyboard('{ArrowRight}');
    await untilStep(store, 3);
    const irr = screen.getByTestId('apic-irr');
    expect(irr).toHaveAttribute('data-changed', 'true');
    expect(within(irr).getByText('0x30')).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('apic-isr')).not.toHaveAttribute('data-changed');
  });

  it('after a jump, highlights what the step itself changed, not the whole jump', async () => {
    const { user, store } = await renderApp();
    await user.keyboard('n');
    await untilStep(store, 4);
    await waitFor(() => expect(store.getState().prevView?.step).toBe(3));
    // RAX changed at step 2, on the way; the delivery changed RIP, IF and the ISR.
    expect(screen.getByTestId('reg-rax')).not.toHaveAttribute('data-changed');
    expect(screen.getByTestId('rip')).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('rflags-if')).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('apic-isr')).toHaveAttribute('data-changed', 'true');

    // Stepping back shows what step 3 did: the IRQ arrived in the IRR.
    await user.keyboard('h');
    await untilStep(store, 3);
    await waitFor(() => expect(screen.getByTestId('apic-irr')).toHaveAttribute('data-changed', 'true'));
    expect(screen.getByTestId('rip')).not.toHaveAttribute('data-changed');
  });

  it('flags an NMI nested inside another NMI handler', async () => {
    const { user, store } = await renderApp();
    await user.selectOptions(screen.getByTestId('scenario-picker'), 'nmi-nesting');
    await untilStep(store, 0);
    expect(screen.getByTestId('nmi-depth')).not.toHaveAttribute('data-alert');

    store.getState().seek(5);
    await untilStep(store, 5);
    expect(screen.getByTestId('nmi-depth')).toHaveTextContent('2');
    expect(screen.getByTestId('nmi-depth')).toHaveAttribute('data-alert', 'true');
    expect(screen.getByTestId('nmi-depth')).toHaveTextContent('nested NMI');
    expect(screen.getByTestId('intr-nmi')).toHaveAttribute('data-on', 'true');

    store.getState().seek(7);
    await untilStep(store, 7);
    expect(screen.getByTestId('activity')).toHaveTextContent('shutdown');
  });

  it('draws one panel per level, as tabs when they do not fit side by side', async () => {
    const { user } = await renderApp({ client: new FakeSimClient({ levels: 2 }) });
    // jsdom has no layout (width 0): one tab per level.
    expect(screen.getByTestId('level-0')).toBeInTheDocument();
    expect(screen.queryByTestId('level-1')).toBeNull();
    await user.click(screen.getByTestId('state-tab-level-1'));
    expect(screen.getByTestId('level-1')).toBeInTheDocument();
    expect(within(screen.getByTestId('level-1')).getByText(/Virtual APIC/)).toBeInTheDocument();
    expect(screen.getByTestId('state-tab-level-1')).toHaveAttribute('aria-selected', 'true');
  });
});
