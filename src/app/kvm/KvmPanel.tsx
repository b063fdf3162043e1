// The KVM model's software state for the vCPU it runs, named as in the kernel: where the run
// loop is, the NMI and IRQ bookkeeping, the pending requests, the soft-vNMI heuristic's
// blocked time (with the 1 s break-out), the last exit handled, the nested VMX it emulates for
// its guest, and KVM's log lines.
import { StepLink, linkSteps } from '../search/StepLink';
import type { KvmView, VmcsView } from '../../core/engine/view';
import { exitReasonByCode } from '../../core/vmx';
import { hexShort, hexVector } from '../format';
import { Chip, Field } from '../level/fields';
import { nestedChanges, NestedVmxState } from './NestedVmxState';

/** kvm_intel's break-out: soft_vnmi_blocked is dropped after 1 s of guest time (vmx.c). */
export const VNMI_BREAKOUT_NS = 1_000_000_000;

/** Requests the panel always shows (lit when pending), in this order; others are added. */
const KNOWN_REQUESTS = ['KVM_REQ_EVENT', 'KVM_REQ_NMI'];

/** Keys of the KVM fields that differ from the step before. */
export function kvmChanges(prev: KvmView | null | undefined, cur: KvmView): ReadonlySet<string> {
  const out = new Set<string>();
  if (!prev) return out;
  for (const key of Object.keys(cur) as (keyof KvmView)[]) {
    if (key === 'log' || key === 'requests' || key === 'nested' || key === 'svm') continue;
    if (prev[key] !== cur[key]) out.add(key);
  }
  for (const key of nestedChanges(prev.nested, cur.nested)) out.add(key);
  if (prev.svm && cur.svm) {
    for (const key of Object.keys(cur.svm) as (keyof NonNullable<KvmView['svm']>)[])
      if (key !== 'nested' && prev.svm[key] !== cur.svm[key]) out.add(`svm.${key}`);
    const pn = prev.svm.nested;
    const cn = cur.svm.nested;
    if (cn)
      for (const key of Object.keys(cn) as (keyof typeof cn)[])
        if (!pn || pn[key] !== cn[key]) out.add(`svm.nested.${key}`);
  }
  for (const r of new Set([...prev.requests, ...cur.requests])) {
    if (prev.requests.includes(r) !== cur.requests.includes(r)) out.add(`req:${r}`);
  }
  return out;
}

export function exitReasonName(code: number): string {
  if (code < 0) return 'none yet';
  const basic = code & 0xffff;
  const name = exitReasonByCode(basic)?.name.replace(/^EXIT_REASON_/, '') ?? 'unknown';
  return `${basic} ${name}${code & 0x80000000 ? ' (VM-entry failure)' : ''}`;
}

function grouped(n: number): string {
  return n.toLocaleString('en-US');
}

/** struct vcpu_svm's NMI state (kvm_amd): the software mask, the IRET wait, the single-step. */
function SvmVcpuRow({ svm, c }: { svm: NonNullable<KvmView['svm']>; c: (k: string) => boolean }) {
  return (
    <div className="kvm-row">
      <span className="row-label" title="struct vcpu_svm (arch/x86/kvm/svm/svm.h)">
        SVM NMI
      </span>
      <div className="chips">
        <Chip
          label="nmi_masked"
          on={svm.nmiMasked}
          testId="kvm-svm-nmi-masked"
          changed={c('svm.nmiMasked')}
          hint="svm->nmi_masked: KVM's software NMI mask without vNMI (set by svm_inject_nmi)"
        />
        <Chip
          label="awaiting_iret_completion"
          on={svm.awaitingIretCompletion}
          testId="kvm-svm-awaiting-iret"
          changed={c('svm.awaitingIretCompletion')}
          hint={`iret_interception fired at ${svm.nmiIretRip.toString(16)}h: NMIs unmask once RIP moves on`}
        />
        <Chip
          label="nmi_singlestep"
          on={svm.nmiSinglestep}
          testId="kvm-svm-nmi-singlestep"
          changed={c('svm.nmiSinglestep')}
          hint="svm_enable_nmi_window set RFLAGS.TF|RF; the #DB intercept ends the window"
        />
      </div>
    </div>
  );
}

type SvmNested = NonNullable<NonNullable<KvmView['svm']>['nested']>;

/**
 * struct svm_nested_state: the SVM KVM emulates for the level above — its EFER.SVME and GIF,
 * guest mode (its guest runs on vmcb02), a nested VMRUN still pending, its vmcb12 and
 * VM_HSAVE_PA (arch/x86/kvm/svm/nested.c).
 */
function SvmNestedRow({ n, lane, c }: { n: SvmNested; lane: number; c: (k: string) => boolean }) {
  const up = lane + 1;
  return (
    <div className="kvm-row kvm-nested-row" data-testid="kvm-svm-nested">
      <span className="row-label" title="struct svm_nested_state (arch/x86/kvm/svm/svm.h)">
        nested SVM
      </span>
      <div className="kvm-nested" aria-label="Nested SVM state">
        <div className="kvm-grid kvm-nested-grid">
          <Field label="guest mode" testId="kvm-svm-nested-guest-mode" changed={c('svm.nested.guestMode')}>
            {n.guestMode ? `L${n.l2} on vmcb${lane}${n.l2}` : `L${up} on vmcb${lane}${up}`}
          </Field>
          <Field label={`vmcb${up}${n.l2}`} testId="kvm-svm-nested-vmcb12" changed={c('svm.nested.vmcb12')}>
            {n.vmcb12 ? hexShort(n.vmcb12) : 'no VMRUN yet'}
          </Field>
          <Field label="hsave_msr" testId="kvm-svm-nested-hsave" changed={c('svm.nested.hsave')}>
            {hexShort(n.hsave)}
          </Field>
        </div>
        <div className="chips" aria-label="svm_nested_state flags">
          <Chip
            label="EFER.SVME"
            on={n.svme}
            testId="kvm-svm-nested-svme"
            changed={c('svm.nested.svme')}
            hint={`L${up}'s EFER.SVME (svm_set_efer): its SVM instructions run, emulated by KVM`}
          />
          <Chip
            label={`GIF (L${up})`}
            on={n.gif}
            testId="kvm-svm-nested-gif"
            changed={c('svm.nested.gif')}
            hint={`gif_set: L${up}'s GIF, V_GIF of ${n.guestMode ? 'vmcb02 (unless L' + up + ' uses vGIF itself)' : 'vmcb01'}; 0 after the #VMEXIT KVM emulates, until L${up}'s STGI`}
          />
          <Chip
            label="nested_run_pending"
            on={n.runPending}
            testId="kvm-svm-nested-run-pending"
            changed={c('svm.nested.runPending')}
            hint={`L${up}'s VMRUN is not complete until L${n.l2} has been entered: events for L${up} wait (-EBUSY)`}
          />
        </div>
      </div>
    </div>
  );
}

function BlockedTime({ kvm, changed }: { kvm: KvmView; changed: boolean }) {
  const share = Math.min(1, kvm.vnmiBlockedTimeNs / VNMI_BREAKOUT_NS);
  return (
    <div
      className="kvm-blocked"
      title="vmx_recover_nmi_blocking: guest time spent with soft_vnmi_blocked set"
    >
      <Field label="vnmi_blocked_time" testId="kvm-vnmi-blocked-time" changed={changed}>
        {grouped(kvm.vnmiBlockedTimeNs)} ns
      </Field>
      {!kvm.enableVnmi && (
        <div
          className="kvm-bar"
          role="meter"
          aria-label="Blocked time toward the 1 s break-out"
          aria-valuemin={0}
          aria-valuemax={VNMI_BREAKOUT_NS}
          aria-valuenow={kvm.vnmiBlockedTimeNs}
          data-testid="kvm-breakout-bar"
        >
          <div className={`kvm-bar-fill${share >= 1 ? ' full' : ''}`} style={{ width: `${share * 100}%` }} />
          <span className="kvm-bar-label">
            {(share * 100).toFixed(share < 0.01 && share > 0 ? 3 : 1)}% of the 1 s break-out
          </span>
        </div>
      )}
    </div>
  );
}

export function KvmPanel({
  kvm,
  prev,
  step,
  lane = 0,
  vmcs = [],
}: {
  kvm: KvmView;
  prev: KvmView | null | undefined;
  step: number;
  /** The KVM's level, and every VMCS of the step (to name its nested state in the stack's terms). */
  lane?: number;
  vmcs?: readonly VmcsView[];
}) {
  const changed = kvmChanges(prev, kvm);
  const c = (key: string) => changed.has(key);
  const requests = [...KNOWN_REQUESTS, ...kvm.requests.filter((r) => !KNOWN_REQUESTS.includes(r))];
  const log = kvm.log.slice(-8);
  return (
    <div className="kvm-state" data-testid="kvm-panel">
      <div className="kvm-phase-row">
        <span className="field-label">phase</span>
        <span
          className={`kvm-phase mono${c('phase') ? ' changed' : ''}`}
          data-testid="kvm-phase"
          data-changed={c('phase') || undefined}
        >
          {kvm.phase}
        </span>
        {kvm.svm ? (
          <span className="kvm-config" title="kvm_amd.vnmi and the CPU's vNMI (CPUID 8000_000A EDX[25])">
            kvm_amd · vnmi=<b data-testid="kvm-enable-vnmi">{kvm.svm.vnmi ? 1 : 0}</b>
          </span>
        ) : (
          <span
            className="kvm-config"
            title="kvm_intel.vnmi and the CPU's virtual-NMIs control; the era of KVM's injection code"
          >
            enable_vnmi=<b data-testid="kvm-enable-vnmi">{kvm.enableVnmi ? 1 : 0}</b> · era {kvm.era}
          </span>
        )}
      </div>
      <div className="kvm-grid">
        <Field
          label="mp_state"
          testId="kvm-mp-state"
          changed={c('halted')}
          hint="KVM_MP_STATE_HALTED after an emulated HLT"
        >
          {kvm.halted ? 'HALTED' : 'RUNNABLE'}
        </Field>
        <Field
          label="nmi_queued"
          testId="kvm-nmi-queued"
          changed={c('nmiQueued')}
          hint="NMIs raised for the vCPU, not yet processed (kvm_inject_nmi)"
        >
          {kvm.nmiQueued}
        </Field>
        <Field
          label="nmi_pending"
          testId="kvm-nmi-pending"
          changed={c('nmiPending')}
          hint="NMIs waiting to be injected (process_nmi)"
        >
          {kvm.nmiPending}
        </Field>
        <Field
          label="nmi_injected"
          testId="kvm-nmi-injected"
          changed={c('nmiInjected')}
          hint="An NMI is in VM_ENTRY_INTR_INFO_FIELD for the next entry"
        >
          {kvm.nmiInjected ? 'true' : 'false'}
        </Field>
        <Field
          label="interrupt"
          testId="kvm-irq-injected"
          changed={c('irqInjected')}
          hint="vcpu->arch.interrupt: the IRQ being injected"
        >
          {kvm.irqInjected === null ? 'none' : hexVector(kvm.irqInjected)}
        </Field>
        <Field
          label="host IRQs"
          testId="kvm-host-irqs"
          changed={c('hostIrqs')}
          hint="External interrupts the exits acknowledged, handled by the host"
        >
          {kvm.hostIrqs}
        </Field>
      </div>
      <div className="kvm-row">
        <span className="row-label">requests</span>
        <div className="chips" aria-label="Pending requests">
          {requests.map((r) => (
            <Chip
              key={r}
              label={r}
              on={kvm.requests.includes(r)}
              testId={`kvm-req-${r}`}
              changed={c(`req:${r}`)}
              hint={`${r} (kvm_make_request)`}
            />
          ))}
        </div>
      </div>
      {kvm.nested && (
        <div className="kvm-row kvm-nested-row">
          <span className="row-label" title="struct nested_vmx (arch/x86/kvm/vmx/vmx.h)">
            nested VMX
          </span>
          <NestedVmxState nested={kvm.nested} changed={changed} lane={lane} vmcs={vmcs} />
        </div>
      )}
      {kvm.svm && <SvmVcpuRow svm={kvm.svm} c={c} />}
      {kvm.svm?.nested && <SvmNestedRow n={kvm.svm.nested} lane={lane} c={c} />}
      {!kvm.svm && (
        <div className="kvm-row">
          <span className="row-label">soft vNMI</span>
          <Chip
            label="soft_vnmi_blocked"
            on={kvm.softVnmiBlocked}
            testId="kvm-soft-vnmi-blocked"
            changed={c('softVnmiBlocked')}
            hint="loaded_vmcs->soft_vnmi_blocked: KVM's guess that the guest's NMI handler runs (no virtual NMIs)"
          />
        </div>
      )}
      {!kvm.svm && <BlockedTime kvm={kvm} changed={c('vnmiBlockedTimeNs')} />}
      <Field
        label="last exit handled"
        testId="kvm-last-exit"
        changed={c('lastExitReason')}
        hint="The exit reason KVM handled last"
      >
        {kvm.svm ? kvm.svm.lastExit : exitReasonName(kvm.lastExitReason)}
      </Field>
      <div className="kvm-log" data-testid="kvm-log" aria-label="KVM log">
        {log.length === 0 ? (
          <span className="empty-inline">no log lines yet</span>
        ) : (
          log.map((l, i) => (
            <div
              key={`${l.step}:${i}`}
              className={`kvm-log-line mono${l.step === step ? ' new' : ''}${/breaking out|timeout/i.test(l.text) ? ' warn' : ''}`}
              data-step={l.step}
            >
              <span className="kvm-log-step">
                <StepLink step={l.step} />
              </span>{' '}
              {linkSteps(l.text)}
            </div>
          ))
        )}
      </div>
    </div>
  );
}
