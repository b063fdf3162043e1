// The processor's VMX state (VMX operation, root or non-root, the preemption timer, a pending
// MTF exit) and one panel per VMCS of the stack: the processor's (vmcs01, vmcs02) and those a
// hypervisor emulates for its guest (vmcs12). With several, an index to jump to each.
import type { StepView, VmcsView, VmxView } from '../../core/engine/view';
import { cycles } from '../format';
import { Chip } from '../level/fields';
import { useLab } from '../sim-client-context';
import { selectPrevView, selectView } from '../store/selectors';
import { vmcsKey, vmcsRelation } from './provenance';
import { fieldGroups, previousVmcs } from './vmcs-model';
import { VmcsPanel } from './VmcsPanel';

/** Whether a run shows VMX state at all (the panel and its tab are left out otherwise). */
export function usesVmx(view: StepView | null): boolean {
  return !!view && (view.vmx.on || view.vmx.vmcs.length > 0);
}

export function VmxStatus({ vmx, prev }: { vmx: VmxView; prev: VmxView | undefined }) {
  const changed = (a: unknown, b: unknown) => prev !== undefined && a !== b;
  const operation = !vmx.on ? 'off' : vmx.nonRoot ? 'non-root operation' : 'root operation';
  return (
    <div className="vmx-status panel" data-testid="vmx-status" aria-label="Processor VMX state">
      <span className="vmx-status-title">Processor</span>
      <Chip
        label="VMX"
        text={vmx.on ? 'VMX on' : 'VMX off'}
        on={vmx.on}
        testId="vmx-on"
        changed={changed(prev?.on, vmx.on)}
        hint="VMX operation (after VMXON)"
      />
      <span
        className={`vmx-status-item${changed(prev?.nonRoot, vmx.nonRoot) ? ' changed' : ''}`}
        data-testid="vmx-operation"
        title="VMX root operation runs the hypervisor; VMX non-root operation runs a guest"
      >
        {operation}
      </span>
      <span
        className={`vmx-status-item${changed(prev?.preemptionTimer, vmx.preemptionTimer) ? ' changed' : ''}`}
        data-testid="vmx-preemption-timer"
        title="VMX-preemption timer: counts down in non-root operation, VM exit (reason 52) at zero"
      >
        preemption timer{' '}
        <span className="mono">{vmx.preemptionTimer === null ? 'off' : cycles(vmx.preemptionTimer)}</span>
      </span>
      <Chip
        label="MTF"
        text={vmx.mtfPending ? 'MTF exit pending' : 'no MTF exit pending'}
        on={vmx.mtfPending}
        testId="vmx-mtf"
        changed={changed(prev?.mtfPending, vmx.mtfPending)}
        hint="Monitor trap flag: a VM exit (reason 37) is pending at the next instruction boundary"
      />
    </div>
  );
}

/** Scrolls a VMCS panel to the top of the pane, just below the (sticky) index. */
function showPanel(key: string, index: HTMLElement | null) {
  const panel = document.getElementById(`vmcs-panel-${key}`);
  if (!panel) return;
  panel.style.scrollMarginTop = `${(index?.offsetHeight ?? 0) + 6}px`;
  panel.scrollIntoView?.({ block: 'start' });
}

/** One chip per VMCS: its role and relation, current, how many fields changed; a click scrolls to it. */
function VmcsIndex({ vmcs, basis }: { vmcs: VmcsView[]; basis: StepView | undefined }) {
  return (
    <nav className="vmcs-index" aria-label="VMCS list" data-testid="vmcs-index">
      {vmcs.map((v) => {
        const key = vmcsKey(v);
        const before = basis ? (previousVmcs(basis.vmx.vmcs, v) ?? null) : undefined;
        const changed = fieldGroups(v, before, true).reduce(
          (n, g) => n + g.rows.filter((r) => r.changed).length,
          0,
        );
        return (
          <button
            key={key}
            type="button"
            className={`vmcs-index-item${v.current ? ' current' : ''}`}
            data-testid={`vmcs-index-${v.role}`}
            title={`${vmcsRelation(v)}; held by ${v.heldBy}${v.current ? ' · current' : ''}`}
            onClick={(e) => showPanel(key, e.currentTarget.parentElement)}
          >
            <span className="mono">{v.role}</span>
            <span className="vmcs-index-rel">
              L{v.owner}→L{v.runs}
            </span>
            {changed > 0 && <span className="vmcs-index-changed">{changed}</span>}
          </button>
        );
      })}
    </nav>
  );
}

export function VmxPane() {
  const view = useLab(selectView);
  const prevView = useLab(selectPrevView);
  if (!view) return null;
  const { vmx } = view;
  // Compare only with the step just before: after a jump the basis arrives a moment later.
  const basis = prevView && prevView.step === view.step - 1 ? prevView : undefined;
  return (
    <div className="vmx-pane" data-testid="vmx-pane">
      <VmxStatus vmx={vmx} prev={basis?.vmx} />
      {vmx.vmcs.length > 1 && <VmcsIndex vmcs={vmx.vmcs} basis={basis} />}
      {vmx.vmcs.length === 0 ? (
        <p className="panel empty">No VMCS yet: the hypervisor has not run VMCLEAR or VMPTRLD.</p>
      ) : (
        vmx.vmcs.map((vmcs) => (
          <VmcsPanel
            key={vmcsKey(vmcs)}
            vmcs={vmcs}
            prev={basis ? (previousVmcs(basis.vmx.vmcs, vmcs) ?? null) : undefined}
          />
        ))
      )}
    </div>
  );
}
