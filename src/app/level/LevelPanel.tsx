// One panel per level: its CPU, its general registers and its interrupt controller (level 0
// the physical APIC, level k > 0 the virtual APIC that level k-1 emulates).
import { memo } from 'react';
import type { ApicView, LevelView, RegisterView } from '../../core/engine/view';
import { hexVector } from '../format';
import { useLab } from '../sim-client-context';
import { selectPrevView, selectView } from '../store/selectors';
import { CpuState } from './CpuState';
import { Field, Hex, VectorChip } from './fields';
import { levelChanges, type ChangedFields } from './level-diff';

function RegisterGrid({ regs, changed }: { regs: RegisterView[]; changed: ChangedFields }) {
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

function VectorList({
  name,
  vectors,
  changed,
}: {
  name: 'irr' | 'isr';
  vectors: number[];
  changed: ChangedFields;
}) {
  const isChanged = changed.has(name);
  return (
    <div className="apic-row">
      <span
        className="row-label"
        title={name === 'irr' ? 'Interrupt Request Register' : 'In-Service Register'}
      >
        {name.toUpperCase()}
      </span>
      <span
        className={`vector-list${isChanged ? ' changed' : ''}`}
        data-testid={`apic-${name}`}
        data-changed={isChanged ? 'true' : undefined}
      >
        {vectors.length === 0 ? (
          <span className="empty-inline">empty</span>
        ) : (
          vectors.map((v) => <VectorChip key={v} vector={v} isNew={changed.has(`${name}:${v}`)} />)
        )}
      </span>
    </div>
  );
}

function ApicState({ apic, changed, level }: { apic: ApicView; changed: ChangedFields; level: number }) {
  return (
    <section className="panel-section">
      <h3 className="section-title">
        {level === 0 ? 'Local APIC' : `Virtual APIC (emulated by L${level - 1})`}
      </h3>
      <VectorList name="irr" vectors={apic.irr} changed={changed} />
      <VectorList name="isr" vectors={apic.isr} changed={changed} />
      <div className="cpu-grid">
        <Field label="TPR" testId="apic-tpr" changed={changed.has('tpr')} hint="Task-priority register">
          {hexVector(apic.tpr)}
        </Field>
        <Field label="PPR" testId="apic-ppr" changed={changed.has('ppr')} hint="Processor-priority register">
          {hexVector(apic.ppr)}
        </Field>
      </div>
    </section>
  );
}

const LevelCard = memo(function LevelCard({
  level,
  prev,
}: {
  level: LevelView;
  prev: LevelView | undefined;
}) {
  const changed = levelChanges(prev, level);
  return (
    <article className="level-panel panel" data-testid={`level-${level.index}`} aria-label={level.name}>
      <header className="panel-head">
        <h2 className="panel-title">{level.name}</h2>
        <span className={`activity-badge activity-${level.cpu.activity}`}>{level.cpu.activity}</span>
      </header>
      <section className="panel-section">
        <h3 className="section-title">CPU</h3>
        <CpuState cpu={level.cpu} changed={changed} nextInstruction={level.nextInstruction} />
      </section>
      <section className="panel-section">
        <h3 className="section-title">Registers</h3>
        <RegisterGrid regs={level.cpu.regs} changed={changed} />
      </section>
      <ApicState apic={level.apic} changed={changed} level={level.index} />
    </article>
  );
});

export function LevelPanels() {
  const view = useLab(selectView);
  const prev = useLab(selectPrevView);
  if (!view) return <div className="panel empty">Waiting for the simulation…</div>;
  return (
    <>
      {view.levels.map((level) => (
        <LevelCard key={level.index} level={level} prev={prev?.levels.find((l) => l.index === level.index)} />
      ))}
    </>
  );
}
