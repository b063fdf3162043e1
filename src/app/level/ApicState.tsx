// A level's interrupt controller: level 0 the physical APIC, level k > 0 the virtual APIC that
// level k-1 emulates. IRR and ISR as vector chips, TPR and PPR beside their labels.
import type { ApicView } from '../../core/engine/view';
import { hexVector } from '../format';
import { Field, VectorChip } from './fields';
import type { ChangedFields } from './level-diff';

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

export function ApicState({
  apic,
  changed,
  level,
  title,
}: {
  apic: ApicView;
  changed: ChangedFields;
  level: number;
  /** Overrides the section title (a KVM guest's APIC is KVM's emulated local APIC). */
  title?: string;
}) {
  return (
    <section className="panel-section">
      <h3 className="section-title">
        {title ?? (level === 0 ? 'Local APIC' : `Virtual APIC (emulated by L${level - 1})`)}
      </h3>
      <VectorList name="irr" vectors={apic.irr} changed={changed} />
      <VectorList name="isr" vectors={apic.isr} changed={changed} />
      <div className="apic-priorities">
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
