// The processor's VMX state (VMX operation, root or non-root, the preemption timer, a pending
// MTF exit) and one panel per VMCS it knows.
import type { StepView, VmxView } from '../../core/engine/view';
import { cycles } from '../format';
import { Chip } from '../level/fields';
import { useLab } from '../sim-client-context';
import { selectPrevView, selectView } from '../store/selectors';
import { previousVmcs } from './vmcs-model';
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
      {vmx.vmcs.length === 0 ? (
        <p className="panel empty">No VMCS yet: the hypervisor has not run VMCLEAR or VMPTRLD.</p>
      ) : (
        vmx.vmcs.map((vmcs) => (
          <VmcsPanel
            key={vmcs.addr}
            vmcs={vmcs}
            prev={basis ? (previousVmcs(basis.vmx.vmcs, vmcs) ?? null) : undefined}
          />
        ))
      )}
    </div>
  );
}
