// One panel per level: badges for its mode (bare metal, VMX root, non-root guest) and
// whether it runs now; its CPU; its registers, or for a KVM lane the KVM model's state; its
// interrupt controller. A level that waits says which state it shows: a host where it
// resumes (HOST_RIP), a guest the guest area of its VMCS.
import { memo } from 'react';
import type { CpuView, LevelView, StepView, VmxView } from '../../core/engine/view';
import { fieldByName } from '../../core/vmx';
import { KvmPanel } from '../kvm/KvmPanel';
import { hexShort } from '../format';
import { ApicState } from './ApicState';
import { CpuState } from './CpuState';
import { Hex } from './fields';
import { levelChanges, type ChangedFields } from './level-diff';

const MODE_LABELS: Record<CpuView['mode'], [string, string]> = {
  bare: ['bare metal', 'Outside VMX operation'],
  root: ['VMX root', 'VMX root operation: the hypervisor'],
  'non-root': ['non-root guest', 'VMX non-root operation: a guest'],
};

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

/** The VMCS a waiting level's state comes from: its own (host) or the one that runs it (guest). */
function vmcsOf(vmx: VmxView, level: LevelView) {
  const k = level.index;
  const mine = vmx.vmcs.filter((v) =>
    level.cpu.mode === 'non-root'
      ? /^vmcs\d\d$/.test(v.role) && v.role.endsWith(String(k))
      : v.role.startsWith(`vmcs${k}`),
  );
  return mine.find((v) => v.current) ?? mine[0];
}

function fieldValue(vmcs: ReturnType<typeof vmcsOf>, name: string): number | undefined {
  const enc = fieldByName(name)?.encoding;
  return vmcs?.fields.find((f) => f.encoding === enc)?.value;
}

/** What a level that is not running shows, in a sentence. */
function waitingNote(level: LevelView, view: StepView): string | null {
  if (level.cpu.running) return null;
  const runner = view.levels.find((l) => l.cpu.running);
  const who = runner ? `L${runner.index} runs` : 'Another level runs';
  const vmcs = vmcsOf(view.vmx, level);
  if (level.cpu.mode === 'non-root') {
    const rip = fieldValue(vmcs, 'GUEST_RIP');
    const from = vmcs ? `the guest-state area of ${vmcs.role}` : 'its VMCS guest-state area';
    return `Waiting: ${who}. Shown: ${from}${rip !== undefined ? ` (GUEST_RIP ${hexShort(rip)})` : ''}, where the guest resumes at the next VM entry.`;
  }
  const rip = fieldValue(vmcs, 'HOST_RIP');
  const where = rip !== undefined ? `HOST_RIP ${hexShort(rip)}${vmcs ? ` in ${vmcs.role}` : ''}` : 'HOST_RIP';
  return `Waiting in VMX root while ${who.replace(' runs', '')} runs as its guest. Shown: where it resumes at the next VM exit (${where}).`;
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
  const [modeText, modeHint] = MODE_LABELS[cpu.mode];
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
      </section>
      {isKvm ? (
        <section className="panel-section">
          <h3 className="section-title">KVM (struct kvm_vcpu_arch)</h3>
          <KvmPanel kvm={level.kvm!} prev={prev?.kvm} step={view.step} />
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
