// The processor's SVM state (EFER.SVME, GIF, whether a guest runs, VM_HSAVE_PA) and one panel
// per VMCB the run knows (vmcb01 of a program hypervisor today; vmcb01, vmcb02 and vmcb12 when
// hypervisor models keep theirs), with an index to jump to each when there are several. It
// stands where the VMCS panels stand in a VMX run.
import type { ScenarioInfo, StepView, SvmView } from '../../core/engine/view';
import { hexShort } from '../format';
import { Chip } from '../level/fields';
import { useLab } from '../sim-client-context';
import { selectPrevView, selectView } from '../store/selectors';
import { vmcbChangedCount, vmcbKey, vmcbRelation } from './vmcb-model';
import { VmcbPanel } from './VmcbPanel';

/** Whether a run shows SVM state: an AMD scenario that uses the virtualization extensions. */
export function usesSvm(info: ScenarioInfo | null, view: StepView | null): boolean {
  return !!view?.svm && !!info && info.arch === 'svm' && info.virtualization;
}

/** Fields changed in this step, over every VMCB. */
export function svmChangedCount(view: StepView): number {
  return (view.svm?.vmcbs ?? []).reduce((n, v) => n + vmcbChangedCount(v), 0);
}

export function SvmStatus({ svm, prev }: { svm: SvmView; prev: SvmView | undefined }) {
  const changed = (a: unknown, b: unknown) => prev !== undefined && a !== b;
  return (
    <div className="vmx-status panel" data-testid="svm-status" aria-label="Processor SVM state">
      <span className="vmx-status-title">Processor</span>
      <Chip
        label="SVME"
        text={`EFER.SVME=${svm.enabled ? 1 : 0}`}
        on={svm.enabled}
        testId="svm-svme"
        changed={changed(prev?.enabled, svm.enabled)}
        hint="EFER.SVME: the SVM instructions (VMRUN, VMMCALL, STGI, CLGI, ...) may run"
      />
      <Chip
        label="GIF"
        text={`GIF=${svm.gif ? 1 : 0}`}
        on={svm.gif}
        testId="svm-gif"
        changed={changed(prev?.gif, svm.gif)}
        hint="Global interrupt flag (APM “Global Interrupt Flag”): 0 holds INTR, NMI, SMI and INIT pending; CLGI clears it, STGI and VMRUN set it, #VMEXIT clears it"
      />
      <span
        className={`vmx-status-item${changed(prev?.guest, svm.guest) ? ' changed' : ''}`}
        data-testid="svm-mode"
        title="Between VMRUN and #VMEXIT the processor runs the guest of a VMCB"
      >
        {svm.guest ? 'guest runs (VMRUN)' : 'host'}
      </span>
      <span
        className={`vmx-status-item${changed(prev?.vmHsavePa, svm.vmHsavePa) ? ' changed' : ''}`}
        data-testid="svm-hsave"
        title="VM_HSAVE_PA (MSR C001_0117): where VMRUN saves the host's state and #VMEXIT reloads it"
      >
        VM_HSAVE_PA <span className="mono">{hexShort(svm.vmHsavePa)}</span>
      </span>
    </div>
  );
}

function showPanel(key: string, index: HTMLElement | null) {
  const panel = document.getElementById(`vmcb-panel-${key}`);
  if (!panel) return;
  panel.style.scrollMarginTop = `${(index?.offsetHeight ?? 0) + 6}px`;
  panel.scrollIntoView?.({ block: 'start' });
}

export function SvmPane() {
  const view = useLab(selectView);
  const prevView = useLab(selectPrevView);
  if (!view?.svm) return null;
  const svm = view.svm;
  const basis = prevView && prevView.step === view.step - 1 ? prevView.svm : undefined;
  return (
    <div className="vmx-pane" data-testid="svm-pane">
      <SvmStatus svm={svm} prev={basis} />
      {svm.vmcbs.length > 1 && (
        <nav className="vmcs-index" aria-label="VMCB list" data-testid="vmcb-index">
          {svm.vmcbs.map((v) => {
            const key = vmcbKey(v);
            const n = vmcbChangedCount(v);
            return (
              <button
                key={key}
                type="button"
                className={`vmcs-index-item${v.running ? ' current' : ''}`}
                data-testid={`vmcb-index-${v.role}`}
                title={`${vmcbRelation(v)}; ${v.heldBy}`}
                onClick={(e) => showPanel(key, e.currentTarget.parentElement)}
              >
                <span className="mono">{v.role}</span>
                <span className="vmcs-index-rel">
                  L{v.owner}→L{v.runs}
                </span>
                {n > 0 && <span className="vmcs-index-changed">{n}</span>}
              </button>
            );
          })}
        </nav>
      )}
      {svm.vmcbs.length === 0 ? (
        <p className="panel empty" data-testid="vmcb-none">
          No VMCB yet: a VMCB is shown from the first VMRUN that uses it.
        </p>
      ) : (
        svm.vmcbs.map((v) => <VmcbPanel key={vmcbKey(v)} vmcb={v} />)
      )}
    </div>
  );
}
