// @vitest-environment jsdom
// The VMCB panel and the levels' SVM state, for views from the real core (svm-vnmi): the panel
// stands where the VMCS panel does, names the VMCB, decodes int_ctl bit by bit with the APM's
// meaning on hover, marks the bits that changed (V_NMI → V_NMI_MASK at the virtual NMI's
// delivery), names exit codes; the level panels show GIF, EFER.SVME, VM_HSAVE_PA and V_GIF.
import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { StepView, VmcbView } from '../../src/core/engine/view';
import { vmcbBitRows, vmcbGroups } from '../../src/app/svm/vmcb-model';
import { findBuiltin } from '../../src/core/scenario/builtins';
import { openSession, type LabSession } from '../../src/core/engine/session';
import { FakeSimClient } from './fake-client';
import { renderApp, resetDomBetweenTests, untilStep } from './render-app';
import { SessionClient } from './session-client';

resetDomBetweenTests();

function session(params: Record<string, boolean> = {}): LabSession {
  const r = openSession({ doc: findBuiltin('svm-vnmi') }, params);
  if (!r.ok) throw new Error(r.error.message);
  return r.session;
}

function stepWhere(s: LabSession, pred: (v: StepView) => boolean): StepView {
  for (let n = 1; n <= s.totalSteps; n++) {
    const v = s.view(n);
    if (pred(v)) return v;
  }
  throw new Error('no such step');
}

const vnmiDelivery = (v: StepView) => v.event?.kind === 'delivery' && v.svm!.guest;

async function openSvmVnmi() {
  const client = new SessionClient();
  const app = await renderApp({ client: client as unknown as FakeSimClient, waitFor: null });
  await waitFor(() => expect(app.store.getState().info).not.toBeNull());
  await act(() => app.store.getState().pickBuiltin('svm-vnmi', { force: true }));
  await waitFor(() => expect(app.store.getState().info?.name).toBe('svm-vnmi'));
  return app;
}

async function seek(app: Awaited<ReturnType<typeof renderApp>>, step: number) {
  act(() => app.store.getState().seek(step));
  await untilStep(app.store, step);
}

function bit(field: string, name: string): HTMLElement {
  const el = screen.getByTestId(`vmcb-bits-${field}`).querySelector<HTMLElement>(`[data-bit="${name}"]`);
  if (!el) throw new Error(`no bit ${name} in ${field}`);
  return el;
}

describe('VMCB model (from the core’s views)', () => {
  it('groups exit information, control and save area, important first, and marks changes', () => {
    const s = session();
    const v: VmcbView = stepWhere(s, vnmiDelivery).svm!.vmcbs[0];
    const groups = vmcbGroups(v, false);
    expect(groups.map((g) => g.title)).toEqual([
      'Exit information',
      'Control area',
      'Save area (guest state)',
    ]);
    expect(groups[1].rows.slice(0, 3).map((r) => r.field.name)).toEqual([
      'event_inj',
      'int_ctl',
      'int_vector',
    ]);
    const changed = groups.flatMap((g) => g.rows.filter((r) => r.changed).map((r) => r.field.name));
    expect(changed).toEqual(['int_ctl']);
    const rows = vmcbBitRows('int_ctl', 0x04001000, 0x04000800);
    expect(rows.find((r) => r.bit.name === 'V_NMI')).toMatchObject({ changed: true, position: '11' });
    expect(rows.find((r) => r.bit.name === 'V_NMI_MASK')).toMatchObject({ changed: true });
    expect(rows.find((r) => r.bit.name === 'V_NMI_ENABLE')).toMatchObject({ changed: false });
    expect(rows.find((r) => r.bit.name === 'V_NMI_MASK')!.text).toBe(
      '1 · Virtual NMIs are blocked (V_NMI_BLOCKING)',
    );
  });
});

describe('the VMCB panel in the app', { timeout: 30000 }, () => {
  it('stands in the VMCS tab’s place, says “No VMCB yet” before VMRUN, then shows vmcb01', async () => {
    const app = await openSvmVnmi();
    await seek(app, 1);
    await app.user.click(screen.getByTestId('state-tab-vmx'));
    expect(screen.getByTestId('state-tab-vmx')).toHaveTextContent('VMCB');
    expect(screen.getByTestId('svm-pane')).toBeInTheDocument();
    expect(screen.getByTestId('vmcb-none')).toHaveTextContent('No VMCB yet');
    expect(screen.getByTestId('svm-svme')).toHaveTextContent('EFER.SVME=0');
    expect(screen.getByTestId('svm-gif')).toHaveTextContent('GIF=1');
    const s = session();
    const entry = stepWhere(s, (v) => v.event?.kind === 'vmentry').step;
    await seek(app, entry);
    const panel = screen.getByTestId('vmcb-vmcb01');
    expect(within(panel).getByRole('heading', { level: 2 })).toHaveTextContent(
      "vmcb01 · L0's VMCB for L1running",
    );
    expect(within(panel).getByTestId('vmcb-meta')).toHaveTextContent(
      /\(vmcb\) · L0 · hypervisor's memory; the processor runs L1 from it/,
    );
    expect(screen.getByTestId('vmcb-summary-intercept')).toHaveTextContent('NMI');
    expect(screen.getByTestId('vmcb-summary-int_ctl')).toHaveTextContent('V_NMI V_NMI_ENABLE');
    expect(screen.getByTestId('svm-mode')).toHaveTextContent('guest runs');
  });

  it('marks V_NMI → V_NMI_MASK at the delivery, bit by bit, with the APM meaning on hover', async () => {
    const app = await openSvmVnmi();
    const step = stepWhere(session(), vnmiDelivery).step;
    await seek(app, step);
    await app.user.click(screen.getByTestId('state-tab-vmx'));
    expect(screen.getByTestId('state-tab-vmx')).toHaveTextContent('VMCB · 1 changed');
    expect(screen.getByTestId('vmcb-value-int_ctl')).toHaveAttribute('data-changed', 'true');
    expect(screen.getByTestId('vmcb-summary-int_ctl')).toHaveTextContent(
      'V_NMI_MASK V_NMI_ENABLE was 0x04000800',
    );
    // int_ctl is open from the start: bit by bit.
    expect(bit('int_ctl', 'V_NMI')).toHaveAttribute('data-set', 'false');
    expect(bit('int_ctl', 'V_NMI')).toHaveAttribute('data-changed', 'true');
    expect(bit('int_ctl', 'V_NMI_MASK')).toHaveAttribute('data-set', 'true');
    expect(bit('int_ctl', 'V_NMI_MASK')).toHaveAttribute('data-changed', 'true');
    expect(bit('int_ctl', 'V_NMI_ENABLE')).not.toHaveAttribute('data-changed');
    expect(bit('int_ctl', 'V_NMI_MASK').title).toMatch(
      /cleared by the guest’s IRET[\s\S]*"NMI Virtualization"/,
    );
    expect(screen.getByTestId('vmcb-field-int_ctl').title).toMatch(/processor's copy/);
    // Another field opens on a click: the intercepts by name.
    await app.user.click(screen.getByTestId('vmcb-field-intercept'));
    expect(bit('intercept', 'NMI')).toHaveAttribute('data-set', 'true');
    expect(bit('intercept', 'IRET')).toHaveAttribute('data-set', 'false');
    expect(bit('intercept', 'IRET').title).toMatch(/#VMEXIT SVM_EXIT_IRET \(0x74\)/);
  });

  it('names the exit code at #VMEXIT (VMMCALL; ERR for VMEXIT_INVALID)', async () => {
    const app = await openSvmVnmi();
    const s = session();
    const invalid = stepWhere(s, (v) => v.event?.kind === 'vmexit').step;
    await seek(app, invalid);
    await app.user.click(screen.getByTestId('state-tab-vmx'));
    expect(screen.getByTestId('vmcb-summary-exit_code')).toHaveTextContent(/^ERR was 0x00000000/);
    expect(screen.getByTestId('vmcb-value-exit_code')).toHaveTextContent('0xffffffff');
    const exit = stepWhere(s, (v) => v.event?.kind === 'vmexit' && v.step > invalid).step;
    await seek(app, exit);
    expect(screen.getByTestId('vmcb-summary-exit_code')).toHaveTextContent(/^VMMCALL was 0xffffffff/);
  });
});

describe('the levels’ SVM state', { timeout: 30000 }, () => {
  it('the host shows GIF, EFER.SVME and VM_HSAVE_PA; the guest its GIF; the badges say SVM', async () => {
    const app = await openSvmVnmi();
    const s = session();
    const entry = stepWhere(s, (v) => v.event?.kind === 'vmentry').step;
    await seek(app, entry);
    await app.user.click(screen.getByTestId('state-tab-level-0'));
    const host = screen.getByTestId('level-0');
    expect(within(host).getByTestId('mode-badge')).toHaveTextContent('SVM host');
    expect(within(host).getByTestId('level-gif')).toHaveTextContent('GIF=1');
    expect(within(host).getByTestId('level-svme')).toHaveTextContent('EFER.SVME=1');
    expect(within(host).getByTestId('level-hsave')).toHaveTextContent(/^0x[0-9a-f]+$/);
    await app.user.click(screen.getByTestId('state-tab-level-1'));
    const guest = screen.getByTestId('level-1');
    expect(within(guest).getByTestId('mode-badge')).toHaveTextContent('SVM guest');
    expect(within(guest).getByTestId('level-gif')).toHaveTextContent('GIF=1');
    expect(within(guest).queryByTestId('level-vgif')).toBeNull();
    // After the #VMEXIT the host's GIF is 0 and marked changed.
    const exit = stepWhere(s, (v) => v.event?.kind === 'vmexit' && v.step > entry).step;
    await seek(app, exit);
    await app.user.click(screen.getByTestId('state-tab-level-0'));
    await waitFor(() => expect(app.store.getState().prevView?.step).toBe(exit - 1));
    expect(within(screen.getByTestId('level-0')).getByTestId('level-gif')).toHaveTextContent('GIF=0');
    expect(within(screen.getByTestId('level-0')).getByTestId('level-gif')).toHaveAttribute(
      'data-changed',
      'true',
    );
  });
});
