// One VMCB: its fields by group (exit information, control area, save area; the important ones
// first, all on demand), each with its Linux name, value and the core's reading (exit_code by
// its SVM_EXIT_* name, EVENTINJ as an event, the set bits by name); a click shows the field bit
// by bit with the APM's meaning on hover (int_ctl is open from the start). Fields and bits that
// changed in this step are highlighted as in the VMCS panel; int_ctl of the running VMCB is the
// processor's copy, tagged so.
import { type LegendItem, OriginLegend, OriginTag } from '../vmx/Origin';
import { FieldPanelTools, ShowAllFields } from '../vmx/FieldPanelTools';
import { memo } from 'react';
import type { VmcbView } from '../../core/engine/view';
import { hexShort } from '../format';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectExpandedFields, selectVmcsShowAll } from '../store/selectors';
import { BitList, type BitItem } from './BitList';
import {
  OPEN_BY_DEFAULT,
  hasBits,
  vmcbBitRows,
  vmcbFieldTitle,
  vmcbGroups,
  vmcbKey,
  vmcbOrigin,
  vmcbRelation,
  type VmcbRow,
} from './vmcb-model';

function bitItems(row: VmcbRow): BitItem[] {
  const f = row.field;
  return vmcbBitRows(f.name, f.value, row.changed ? f.prevValue : undefined).map((b) => ({
    position: b.position,
    name: b.bit.name,
    text: b.text,
    set: b.bit.set,
    changed: b.changed,
    reserved: b.bit.reserved,
    title: `${b.bit.name} (bit${b.position.includes(':') ? 's' : ''} ${b.position}): ${b.bit.meaning}\n${b.bit.section}`,
  }));
}

const VMCB_ORIGINS: LegendItem[] = [
  {
    tag: '12',
    kind: 'upper',
    label: 'vmcb12 (L1’s)',
    title: 'Copied from vmcb12, the VMCB L1 gave its VMRUN',
  },
  {
    tag: '01',
    kind: 'own',
    label: 'vmcb01 (L0’s for L1)',
    title: 'Taken from vmcb01, the VMCB KVM runs L1 with',
  },
  {
    tag: '01+12',
    kind: 'merged',
    label: 'both, merged',
    title: 'vmcb01’s and vmcb12’s values combined (nested_vmcb02_prepare_control)',
  },
  { tag: 'L0', kind: 'self', label: 'L0’s own', title: 'KVM’s own value (its ASID)' },
];

function FieldLine({ row, owner, merged }: { row: VmcbRow; owner: string; merged: boolean }) {
  const store = useLabStoreApi();
  const f = row.field;
  const key = `vmcb:${owner}:${f.name}`;
  const flipped = useLab((s) => s.expandedFields[key] === true);
  const expandable = hasBits(f.name);
  const expanded = expandable && (OPEN_BY_DEFAULT.has(f.name) ? !flipped : flipped);
  const changed = row.changed;
  return (
    <li className={`vmcs-field${changed ? ' is-changed' : ''}`} data-field={f.name}>
      <button
        type="button"
        className={`vmcs-field-line${merged ? ' with-origin' : ''}`}
        data-testid={`vmcb-field-${f.name}`}
        aria-expanded={expandable ? expanded : undefined}
        disabled={!expandable}
        onClick={() => store.getState().toggleField(key)}
        title={vmcbFieldTitle(row)}
      >
        <span className="vmcs-chevron" aria-hidden="true">
          {expandable ? (expanded ? '▾' : '▸') : ''}
        </span>
        {merged && (
          <OriginTag
            origin={f.from ? { ...vmcbOrigin(f.from), title: f.from } : null}
            testId={`vmcb-origin-${f.name}`}
            none="No origin recorded: the processor wrote it (at a #VMEXIT), or enter_svm_guest_mode left it alone"
          />
        )}
        <span className="vmcs-name mono">
          {f.name}
          {f.live && (
            <span
              className="vmcb-live"
              title="The processor's copy while the guest runs (memory is written at #VMEXIT)"
            >
              {' '}
              cpu
            </span>
          )}
        </span>
        <span
          className={`vmcs-value mono${changed ? ' changed' : ''}`}
          data-testid={`vmcb-value-${f.name}`}
          data-changed={changed ? 'true' : undefined}
        >
          {f.hex}
        </span>
        <span className="vmcs-summary" data-testid={`vmcb-summary-${f.name}`}>
          {f.summary}
          {changed && f.prevHex !== undefined && <span className="vmcs-was mono"> was {f.prevHex}</span>}
        </span>
      </button>
      {expanded && <BitList items={bitItems(row)} testId={`vmcb-bits-${f.name}`} />}
    </li>
  );
}

export const VmcbPanel = memo(function VmcbPanel({ vmcb }: { vmcb: VmcbView }) {
  const showAll = useLab(selectVmcsShowAll);
  // Subscribed so the memoised panel re-renders when a field is expanded.
  useLab(selectExpandedFields);
  const groups = vmcbGroups(vmcb, showAll);
  const hidden = groups.reduce((n, g) => n + g.hidden, 0);
  const changedCount = groups.reduce((n, g) => n + g.rows.filter((r) => r.changed).length, 0);
  const key = vmcbKey(vmcb);
  // KVM's vmcb02: each field tagged with where it came from (enter_svm_guest_mode).
  const merged = vmcb.fields.some((f) => f.from !== undefined);
  const where = `at ${hexShort(vmcb.addr)}${vmcb.label ? ` (${vmcb.label})` : ''} · ${vmcb.heldBy}`;
  return (
    <article
      className="vmcs-panel vmcb-panel panel"
      id={`vmcb-panel-${key}`}
      data-testid={`vmcb-${vmcb.role}`}
      data-addr={vmcb.addr}
      data-owner={vmcb.owner}
      data-runs={vmcb.runs}
      aria-label={`VMCB ${vmcb.role}`}
    >
      <header className="panel-head">
        <h2
          className="panel-title"
          title={`${vmcb.role}: the VMCB L${vmcb.owner} wrote to run L${vmcb.runs} with VMRUN (AMD64 APM Vol. 2 appendix B "Layout of VMCB")`}
        >
          {vmcb.role}
          <span className="vmcs-relation"> · {vmcbRelation(vmcb)}</span>
          {vmcb.running ? (
            <span
              className="badge badge-current"
              title="The processor runs the guest from this VMCB now (between VMRUN and #VMEXIT)"
            >
              running
            </span>
          ) : (
            vmcb.current && (
              <span className="badge badge-current" title="The VMCB of the processor's last VMRUN">
                last VMRUN
              </span>
            )
          )}
        </h2>
        <FieldPanelTools prefix="vmcb" changedCount={changedCount} total={vmcb.fields.length} meta={where} />
      </header>
      {merged && <OriginLegend items={VMCB_ORIGINS} testId="vmcb-origin-legend" />}
      {groups.map(
        (g) =>
          (g.rows.length > 0 || g.hidden > 0) && (
            <section className="vmcs-group" key={g.id} data-group={g.id}>
              <h3 className="section-title">
                {g.title}
                {g.hidden > 0 && <span className="vmcs-hidden"> · {g.hidden} more</span>}
              </h3>
              <ul className="vmcs-fields">
                {g.rows.map((row) => (
                  <FieldLine key={row.field.name} row={row} owner={key} merged={merged} />
                ))}
              </ul>
            </section>
          ),
      )}
      <ShowAllFields prefix="vmcb" total={vmcb.fields.length} hidden={hidden} />
    </article>
  );
});
