// KVM's nested-VMX state (struct nested_vmx in arch/x86/kvm/vmx/vmx.h): the VMX operation it
// emulates for the level above — whether that level's guest runs (guest mode), the current
// vmcs12, a nested entry still pending, and vmcs12's preemption timer, which KVM emulates with
// an hrtimer. KVM's own names (vmcs01, vmcs12, vmcs02) are shown as the stack's.
import type { KvmView, VmcsView } from '../../core/engine/view';
import { cycles, hexShort } from '../format';
import { Chip, Field } from '../level/fields';

export type NestedView = NonNullable<KvmView['nested']>;

/** Keys ("nested:guestMode", ...) of the nested fields that differ from the step before. */
export function nestedChanges(prev: NestedView | null | undefined, cur: NestedView | null): string[] {
  if (!cur || prev === undefined) return [];
  return (Object.keys(cur) as (keyof NestedView)[])
    .filter((k) => prev === null || prev[k] !== cur[k])
    .map((k) => `nested:${k}`);
}

/**
 * What the KVM at `lane` runs, in the stack's names: in guest mode the level its current vmcs12
 * runs (L2 for L0 under a program hypervisor; L3 when L1 is a KVM that runs L3 through vmcs13),
 * on the VMCS it merged; otherwise the level above it on its own VMCS.
 */
export function guestModeText(nested: NestedView, lane: number, vmcs: readonly VmcsView[]): string {
  if (!nested.guestMode) return `L${lane + 1} on vmcs${lane}${lane + 1}`;
  const runs = currentVmcs12(nested, lane, vmcs)?.runs ?? lane + 2;
  return `L${runs} on vmcs${lane}${runs}`;
}

/** The VMCS the level above the KVM at `lane` made current (KVM's vmcs12), if the step has it. */
function currentVmcs12(nested: NestedView, lane: number, vmcs: readonly VmcsView[]): VmcsView | undefined {
  return vmcs.find((v) => v.owner === lane + 1 && v.addr === nested.currentVmptr);
}

/** The flags of struct nested_vmx shown as chips, with what each means. */
const FLAGS: {
  key: 'vmxon' | 'runPending' | 'preemptionTimerExpired' | 'mtfPending';
  label: string;
  testId: string;
  hint: string;
}[] = [
  {
    key: 'vmxon',
    label: 'vmxon',
    testId: 'kvm-nested-vmxon',
    hint: 'nested.vmxon: L1 executed VMXON; KVM emulates VMX operation for it',
  },
  {
    key: 'runPending',
    label: 'nested_run_pending',
    testId: 'kvm-nested-run-pending',
    hint: "nested.nested_run_pending: L1's VMLAUNCH/VMRESUME has not yet entered L2; no VM exit to L1 may be emulated before it has",
  },
  {
    key: 'preemptionTimerExpired',
    label: 'preemption_timer_expired',
    testId: 'kvm-nested-timer-expired',
    hint: "nested.preemption_timer_expired: vmcs12's timer fired; vmx_check_nested_events turns it into exit 52 for L1",
  },
  {
    key: 'mtfPending',
    label: 'mtf_pending',
    testId: 'kvm-nested-mtf',
    hint: 'nested.mtf_pending: a monitor-trap-flag exit for L1 is due',
  },
];

export function NestedVmxState({
  nested,
  changed,
  lane,
  vmcs,
}: {
  nested: NestedView;
  changed: ReadonlySet<string>;
  /** The KVM's level. */
  lane: number;
  /** Every VMCS of the step, to name the current vmcs12 by its role. */
  vmcs: readonly VmcsView[];
}) {
  const c = (key: keyof NestedView) => changed.has(`nested:${key}`);
  const current = currentVmcs12(nested, lane, vmcs);
  const vmptr =
    nested.currentVmptr < 0
      ? 'none (INVALID_GPA)'
      : `${hexShort(nested.currentVmptr)}${current ? ` (${current.role})` : ''}`;
  const deadline = nested.preemptionTimerDeadline;
  return (
    <div className="kvm-nested" data-testid="kvm-nested" aria-label="Nested VMX state">
      <div className="kvm-grid kvm-nested-grid">
        <Field
          label="guest mode"
          testId="kvm-nested-guest-mode"
          changed={c('guestMode')}
          mono={false}
          hint={`is_guest_mode(vcpu): the guest of L${lane + 1} runs, on the VMCS L${lane} merged (KVM's vmcs02); otherwise L${lane + 1} runs on vmcs${lane}${lane + 1} (KVM's vmcs01)`}
        >
          {guestModeText(nested, lane, vmcs)}
        </Field>
        <Field
          label="current_vmptr"
          testId="kvm-nested-vmptr"
          changed={c('currentVmptr')}
          hint={`nested.current_vmptr: the VMCS L${lane + 1} made current with VMPTRLD (KVM's vmcs12, which it caches)`}
        >
          {vmptr}
        </Field>
        <Field
          label="hrtimer"
          testId="kvm-nested-timer-deadline"
          changed={c('preemptionTimerDeadline')}
          mono={false}
          hint="The hrtimer that emulates vmcs12's VMX-preemption timer (vmx_start_preemption_timer): its TSC deadline"
        >
          {deadline < 0 ? 'not armed' : `TSC ${cycles(deadline)}`}
        </Field>
      </div>
      <div className="chips" aria-label="nested_vmx flags">
        {FLAGS.map((f) => (
          <Chip
            key={f.key}
            label={f.label}
            on={nested[f.key]}
            testId={f.testId}
            changed={c(f.key)}
            hint={f.hint}
          />
        ))}
      </div>
    </div>
  );
}
