// @vitest-environment jsdom
// The Trace menu's "Import trace…": a trace-cmd file shown read-only, one lane per vCPU in the timeline's
// colours; unreadable lines listed with their numbers; "explain this exit" opens the closest
// built-in through the usual scenario switch.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { KIND_COLORS } from '../../src/app/theme';
import { renderApp, resetDomBetweenTests } from './render-app';

resetDomBetweenTests();

const fixture = (name: string) =>
  new File([readFileSync(resolve(__dirname, '../fixtures', name), 'utf8')], name, {
    type: 'text/plain',
  });

describe('Import trace', () => {
  it('shows one lane per vCPU with exits, entries and injections in the timeline colours', async () => {
    const { user } = await renderApp();
    await user.upload(screen.getByTestId('import-trace-file'), fixture('kvm-vmx.trace-cmd.txt'));
    const dialog = await screen.findByTestId('imported-trace');
    expect(dialog).toHaveTextContent('Imported trace: kvm-vmx.trace-cmd.txt');
    expect(screen.getByTestId('imported-summary')).toHaveTextContent('23 KVM events on 2 vCPUs, 6 exits');
    expect(screen.getByTestId('imported-lane-0').querySelectorAll('rect')).toHaveLength(19);
    expect(screen.getByTestId('imported-lane-1').querySelectorAll('rect')).toHaveLength(4);
    // line 3: kvm_exit, line 4: kvm_inj_virq IRQ, line 7: #GP, line 22: Soft/INTn
    expect(screen.getByTestId('imported-mark-3')).toHaveAttribute('fill', KIND_COLORS.vmexit);
    expect(screen.getByTestId('imported-mark-2')).toHaveAttribute('fill', KIND_COLORS.vmentry);
    expect(screen.getByTestId('imported-mark-4')).toHaveAttribute('fill', KIND_COLORS.extint);
    expect(screen.getByTestId('imported-mark-7')).toHaveAttribute('fill', KIND_COLORS.exception);
    expect(screen.getByTestId('imported-mark-22')).toHaveAttribute('fill', KIND_COLORS.software);
    expect(screen.queryByTestId('imported-problems')).toBeNull();
  });

  it('searches the trace with the palette words: matches marked, Enter and the arrows go through them', async () => {
    const { user } = await renderApp();
    await user.upload(screen.getByTestId('import-trace-file'), fixture('kvm-vmx.trace-cmd.txt'));
    await screen.findByTestId('imported-trace');
    const input = screen.getByTestId('imported-search');
    await user.type(input, 'vector 0xec{Enter}');
    // Lines 3 and 20 (intr_info 0x800000ec), 4 (IRQ 0xec), 11 (irq 236, vCPU 1).
    const marked = () =>
      Array.from(document.querySelectorAll('[data-match="true"]')).map((r) =>
        Number(r.getAttribute('data-testid')!.slice('imported-mark-'.length)),
      );
    expect(marked().sort((a, b) => a - b)).toEqual([3, 4, 11, 20]);
    expect(screen.getByTestId('imported-search-count')).toHaveTextContent('1 of 4');
    expect(screen.getByTestId('imported-selected')).toHaveTextContent('kvm_exit (line 3');
    await user.type(input, '{Enter}');
    expect(screen.getByTestId('imported-search-count')).toHaveTextContent('2 of 4');
    expect(screen.getByTestId('imported-selected')).toHaveTextContent('kvm_inj_virq (line 4');
    await user.click(screen.getByTestId('imported-prev'));
    await user.click(screen.getByTestId('imported-prev'));
    expect(screen.getByTestId('imported-search-count')).toHaveTextContent('4 of 4');
    expect(screen.getByTestId('imported-selected')).toHaveTextContent('kvm_exit (line 20');

    // A word the trace cannot answer: the message, and the marks are gone.
    await user.clear(input);
    await user.type(input, 'fn vmx_inject_nmi{Enter}');
    expect(screen.getByTestId('imported-search-error')).toHaveTextContent('no kernel functions');
    expect(input).toHaveAttribute('aria-invalid', 'true');
    expect(marked()).toEqual([]);
    // Nothing matches: said so.
    await user.clear(input);
    await user.type(input, 'exit 52{Enter}');
    expect(screen.getByTestId('imported-search-count')).toHaveTextContent('no match');
  });

  it('"explain this exit" offers the closest built-in and opens it', async () => {
    const { user, client, store } = await renderApp();
    await user.upload(screen.getByTestId('import-trace-file'), fixture('kvm-vmx.trace-cmd.txt'));
    await screen.findByTestId('imported-trace');
    // line 6: an NMI-or-exception exit (EXCEPTION_NMI, reason 0).
    await user.click(screen.getByTestId('imported-mark-6'));
    expect(screen.getByTestId('imported-selected')).toHaveTextContent('kvm_exit (line 6');
    const open = await screen.findByTestId('explain-open-nmi-nesting');
    expect(screen.getByTestId('explain-exit')).toHaveTextContent('Explain this exit (EXCEPTION_NMI (0))');
    expect(client.callsOf('closestBuiltins')).toEqual([{ method: 'closestBuiltins', args: [0] }]);
    await user.click(open);
    expect(screen.queryByTestId('imported-trace')).toBeNull();
    await waitFor(() => expect(store.getState().info?.name).toBe('nmi-nesting'));
  });

  it('lists the lines it could not read, by number, and shows the rest', async () => {
    const { user } = await renderApp();
    await user.upload(screen.getByTestId('import-trace-file'), fixture('kvm-malformed.trace.txt'));
    const problems = await screen.findByTestId('imported-problems');
    expect(problems).toHaveTextContent('3 lines not read');
    expect(problems).toHaveTextContent('line 2: not a trace line');
    expect(problems).toHaveTextContent('line 5: kvm_inj_exception: unknown exception #ZZ');
    expect(screen.getByTestId('imported-summary')).toHaveTextContent('3 KVM events on 1 vCPU');
  });

  it('"Import trace…" in the Trace menu opens the file picker', async () => {
    const { user } = await renderApp();
    const picker = screen.getByTestId('import-trace-file') as HTMLInputElement;
    let opened = 0;
    picker.addEventListener('click', (e) => {
      e.preventDefault();
      opened++;
    });
    await user.click(screen.getByTestId('trace-menu'));
    await user.click(screen.getByTestId('import-trace'));
    expect(opened).toBe(1);
    expect(screen.queryByTestId('trace-menu-panel')).toBeNull();
  });

  it('a file with no KVM event says so, lists the lines by number, and changes nothing', async () => {
    const { user, store } = await renderApp();
    const before = store.getState().info?.name;
    await user.upload(
      screen.getByTestId('import-trace-file'),
      new File(['hello\n'], 'notes.txt', { type: 'text/plain' }),
    );
    expect(await screen.findByTestId('imported-summary')).toHaveTextContent(
      'No KVM events (kvm_entry, kvm_exit, ...) in notes.txt: nothing to show.',
    );
    expect(screen.getByTestId('imported-problems')).toHaveTextContent('line 1: not a trace line');
    await user.click(screen.getByTestId('imported-close'));
    expect(screen.queryByTestId('imported-trace')).toBeNull();
    expect(store.getState().info?.name).toBe(before);
  });
});
