// @vitest-environment jsdom
// "Why, with causes" in the page (docs/causes.md), on a real soft-vNMI run: the explanation's
// "Why:" list with its cause links, and the VMCS panel marking the bits the exit read apart
// from the ones that changed.
import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { decidingReads } from '../../src/app/causes/deciding';
import type { CausesView } from '../../src/core/causes/causes';
import type { FakeSimClient } from './fake-client';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';
import { SessionClient } from './session-client';

resetDomBetweenTests();

/** A real run in jsdom, with the worker's replays: slower than the canned ones on a busy machine. */
const REAL_RUN_MS = 30_000;

/** soft-vnmi at its first interrupt-window exit (found with the palette's own search). */
async function atExit7() {
  const client = new SessionClient();
  const app = await renderApp({ client: client as unknown as FakeSimClient, waitFor: null });
  await waitFor(() => expect(app.store.getState().info).not.toBeNull());
  await act(() => app.store.getState().pickBuiltin('soft-vnmi', { force: true }));
  await waitFor(() => expect(app.store.getState().info?.name).toBe('soft-vnmi'));
  const found = await client.search('exit 7');
  if (!found.ok || found.kind !== 'results') throw new Error('no exit 7');
  const step = found.steps[0];
  app.store.getState().seek(step);
  await untilStep(app.store, step);
  const causes = await client.causes(step);
  return { app, client, step, causes };
}

function whyInput(label: string): HTMLElement {
  const el = screen.getAllByTestId('why-input').find((e) => e.getAttribute('data-label') === label);
  if (!el) throw new Error(`no why input '${label}'`);
  return el;
}

function setStep(causes: CausesView, label: string): number {
  return causes.inputs.find((i) => i.label === label)!.setBy!.step;
}

describe('the Why list', () => {
  it(
    'lists the deciding inputs with values and a link to the step that set each; a link goes there',
    async () => {
      const { app, step, causes } = await atExit7();
      const bitLabel = 'CPU_BASED_VM_EXEC_CONTROL.INTR_WINDOW_EXITING of vmcs01';
      const bit = await waitFor(() => whyInput(bitLabel));
      expect(bit).toHaveAttribute('data-decides', 'true');
      expect(bit).toHaveTextContent(
        `${bitLabel} = 1 — set at step ${setStep(causes, bitLabel)} by kvm_check_and_inject_events`,
      );
      expect(bit).toHaveTextContent('enable_irq_window');
      const rflagsIf = whyInput('RFLAGS.IF of L1');
      expect(rflagsIf).toHaveTextContent('by `iretq` at L1 (0 → 1)');
      // Nothing-due checks are folded apart, not deciding.
      const checked = screen.getByTestId('why-checked');
      expect(
        within(checked)
          .getAllByTestId('why-input')
          .every((e) => e.dataset.decides === 'false'),
      ).toBe(true);
      // The cause link of IF jumps to the IRET that set it.
      const target = setStep(causes, 'RFLAGS.IF of L1');
      expect(target).toBeLessThan(step);
      await app.user.click(within(within(rflagsIf).getByTestId('cause-link')).getByTestId('step-link'));
      await untilStep(app.store, target);
      expect(screen.getByTestId('event-chip')).toHaveTextContent('iret');
    },
    REAL_RUN_MS,
  );
});

describe('the VMCS panel marks the deciding bits', () => {
  it(
    'marks the read field and bit apart from changed ones, with a legend',
    async () => {
      const { app, causes } = await atExit7();
      await app.user.click(screen.getByTestId('state-tab-vmx'));
      const panel = await screen.findByTestId('vmcs-vmcs01');
      expect(within(panel).getByTestId('vmcs-legend')).toHaveTextContent('read to decide this step');
      expect(within(panel).getByTestId('vmcs-legend')).toHaveTextContent('changed in this step');
      const line = await waitFor(() => {
        const li = panel.querySelector<HTMLElement>('li[data-field="CPU_BASED_VM_EXEC_CONTROL"]');
        expect(li).toHaveAttribute('data-deciding', 'true');
        return li!;
      });
      expect(within(line).getByTestId('vmcs-deciding-CPU_BASED_VM_EXEC_CONTROL')).toHaveAttribute(
        'title',
        'Read to decide this step: INTR_WINDOW_EXITING',
      );
      // The exit saved the guest's state: those fields changed, but the exit did not read them.
      const changedOnly = [...panel.querySelectorAll<HTMLElement>('li.vmcs-field.is-changed')].filter(
        (li) => li.dataset.deciding !== 'true',
      );
      expect(changedOnly.length).toBeGreaterThan(0);
      // Bit by bit: the interrupt-window bit is the deciding one; HLT exiting is set but not read.
      await app.user.click(within(line).getByTestId('vmcs-field-CPU_BASED_VM_EXEC_CONTROL'));
      const bits = screen.getByTestId('vmcs-bits-CPU_BASED_VM_EXEC_CONTROL');
      const bitEl = (n: string) => bits.querySelector<HTMLElement>(`[data-bit="${n}"]`)!;
      expect(bitEl('CPU_BASED_INTR_WINDOW_EXITING')).toHaveAttribute('data-deciding', 'true');
      expect(bitEl('CPU_BASED_INTR_WINDOW_EXITING')).toHaveClass('deciding');
      expect(bitEl('CPU_BASED_HLT_EXITING')).toHaveAttribute('data-set', 'true');
      expect(bitEl('CPU_BASED_HLT_EXITING')).not.toHaveAttribute('data-deciding');
      // The panel's marks are the core's deciding reads of this VMCS, no more.
      const reads = decidingReads(causes, 0, Number(panel.dataset.addr)).fields;
      const marked = [...panel.querySelectorAll<HTMLElement>('li.vmcs-field[data-deciding="true"]')].map(
        (li) => li.dataset.field,
      );
      expect(marked).toEqual(['CPU_BASED_VM_EXEC_CONTROL']);
      expect([...reads.keys()]).toEqual([0x4002]);
    },
    REAL_RUN_MS,
  );
});
