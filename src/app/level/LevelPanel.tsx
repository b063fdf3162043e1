// One panel per level: badges for its mode (bare metal, VMX root, non-root guest) and
// whether it runs now; its CPU; its registers, or for a KVM lane the KVM model's state; its
// interrupt controller. A level that waits says which VMCS area its state comes from (the core
// says: a host-state area where it resumes at HOST_RIP, a guest-state area at GUEST_RIP).
import { memo } from 'react';
import type { CpuView, LevelView, StepView } from '../../core/engine/view';
import { KvmPanel } from '../kvm/KvmPanel';
import { hexShort } from '../format';
import { ApicState } from './ApicState';
import { CpuState } from './CpuState';
import { Hex } from './fields';
import { levelChanges, type ChangedFields } from './level-diff';
import { SvmLevelState } from '../svm/SvmLevelState';

const MODE_LABELS: Record<CpuView['mode'], [string, string]> = {
  bare: ['bare metal', 'Outside VMX operation'],
  root: ['VMX root', 'VMX root operation: the hypervisor'],
  'non-root': ['non-root guest', 'VMX non-root operation: a guest'],
};

/** On an AMD processor the level is an SVM host (runs VMRUN) or its guest. */
function modeLabel(level: LevelView): [string, string] {
  if (level.svm?.role === 'host' && level.svm.svme)
    return ['SVM host', 'EFER.SVME = 1: runs guests with VMRUN'];
  if (level.svm?.role === 'guest') return ['SVM guest', 'Runs from a VMCB, between VMRUN and #VMEXIT'];
  return MODE_LABELS[level.cpu.mode];
}

function RegisterGrid({ regs, changed }: { regs: LevelView['cpu']['regs']; changed: ChangedFields }) {
  return (
    <div className="reg-grid" aria-label="General registers">
      {regs.map((r) => {
        const key = r.name.toLowerCase();
        const isChanged = changed.has(`reg:${key}`);
        return (
          <div className="reg" key={r.name}>
            <span className="reg-name">{key}</span>
            <span
              className={`reg-value mono${isChanged ? ' changed' : ''}`}
              data-testid={`reg-${key}`}
              data-changed={isChanged ? 'true' : undefined}
            >
              <Hex value={r.value} />
            </span>
          </div>
        );
      })}
    </div>
  );
}

/**
 * What a level that is not running shows, in a sentence: the VMCS area its state comes from
 * (LevelView.restingIn, from the core: "the host-state area of vmcs12" for L1 while L2 runs),
 * the RIP it resumes at, and when.
 */
function waitingNote(level: LevelView, view: StepView): string | null {
  if (level.cpu.running) return null;
  const runner = view.levels.find((l) => l.cpu.running);
  const who = runner ? `L${runner.index}` : 'another level';
  const area = level.restingIn;
  if (!area) return `Waiting while ${who} runs.`;
  const rip = hexShort(level.cpu.rip);
  if (level.svm?.role === 'host')
    return `Waiting while ${who} runs. Shown: ${area}, where it resumes after its VMRUN at the next #VMEXIT (RIP ${rip}).`;
  if (level.svm)
    return `Waiting: ${who} runs. Shown: ${area} (RIP ${rip}), where it resumes at the next VMRUN.`;
  const role = /\b(vmcs\d+)\b/.exec(area)?.[1];
  if (/^the host-state area/.test(area)) {
    // vmcsAB with A > 0 is LA's VMCS, which the processor never exits to: the KVM at LA-1
    // emulates that exit.
    const owner = role ? Number(role[4]) : 0;
    const when = owner > 0 ? `at the next VM exit L${owner - 1} emulates for it` : 'at the next VM exit';
    const root = level.cpu.mode === 'root' ? ' in VMX root' : '';
    return `Waiting${root} while ${who} runs. Shown: ${area}, where it resumes ${when} (HOST_RIP ${rip}${role ? ` in ${role}` : ''}).`;
  }
  return `Waiting: ${who} runs. Shown: ${area} (GUEST_RIP ${rip}), where it resumes at its next VM entry.`;
}

const LevelCard = memo(function LevelCard({
  level,
  prev,
  view,
}: {
  level: LevelView;
  prev: LevelView | undefined;
  view: StepView;
}) {
  const changed = levelChanges(prev, level);
  const { cpu } = level;
  const [modeText, modeHint] = modeLabel(level);
  const note = waitingNote(level, view);
  const isKvm = level.kind === 'kvm' && level.kvm !== null;
  return (
    <article
      className={`level-panel panel${cpu.running ? ' running' : ' waiting'}`}
      data-testid={`level-${level.index}`}
      data-running={cpu.running ? 'true' : 'false'}
      data-mode={cpu.mode}
      aria-label={level.name}
    >
      <header className="panel-head">
        <h2 className="panel-title">{level.name}</h2>
        <span
          className={`badge badge-mode mode-${cpu.mode}${changed.has('mode') ? ' changed' : ''}`}
          data-testid="mode-badge"
          title={modeHint}
        >
          {modeText}
        </span>
        {view.levels.length > 1 && (
          <span
            className={`badge badge-run ${cpu.running ? 'is-running' : 'is-waiting'}`}
            data-testid="run-badge"
            title={cpu.running ? 'This level’s code runs on the processor at this step' : 'This level waits'}
          >
            {cpu.running ? 'running' : 'waiting'}
          </span>
        )}
        {cpu.nmiDepth >= 2 && (
          <span
            className="badge badge-alert"
            data-testid="nested-nmi-badge"
            title="An NMI handler runs inside another NMI handler"
          >
            nested NMI ×{cpu.nmiDepth}
          </span>
        )}
        {cpu.running && <span className={`activity-badge activity-${cpu.activity}`}>{cpu.activity}</span>}
      </header>
      {note && (
        <p className="waiting-note" data-testid="waiting-note">
          {note}
        </p>
      )}
      <section className="panel-section">
        <h3 className="section-title">{isKvm ? 'Host CPU' : 'CPU'}</h3>
        <CpuState cpu={cpu} changed={changed} nextInstruction={level.nextInstruction} />
        {level.svm && <SvmLevelState svm={level.svm} prev={prev?.svm} />}
      </section>
      {isKvm ? (
        <section className="panel-section">
          <h3 className="section-title">KVM (struct kvm_vcpu_arch)</h3>
          <KvmPanel
            kvm={level.kvm!}
            prev={prev?.kvm}
            step={view.step}
            lane={level.index}
            vmcs={view.vmx.vmcs}
          />
        </section>
      ) : (
        <section className="panel-section">
          <h3 className="section-title">Registers</h3>
          <RegisterGrid regs={cpu.regs} changed={changed} />
        </section>
      )}
      <ApicState
        apic={level.apic}
        changed={changed}
        level={level.index}
        title={
          level.kind === 'guest' && view.levels[level.index - 1]?.kind === 'kvm'
            ? 'Local APIC (emulated by KVM)'
            : undefined
        }
      />
    </article>
  );
});

export function LevelCards({
  view,
  prev,
  only,
}: {
  view: StepView;
  prev: StepView | null;
  /** Draw only this level (the tab shown when the panels do not fit side by side). */
  only?: number;
}) {
  return (
    <>
      {view.levels
        .filter((l) => only === undefined || l.index === only)
        .map((level) => (
          <LevelCard
            key={level.index}
            level={level}
            view={view}
            prev={prev?.levels.find((l) => l.index === level.index)}
          />
        ))}
    </>
  );
}
