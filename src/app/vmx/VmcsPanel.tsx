// One VMCS: its fields by group (important ones first, all on demand), each with its Linux
// name, its value and a reading of it; a click shows the field bit by bit, decoded with the
// core's layouts. Fields and bits that changed in this step are highlighted; tooltips name
// the SDM section that defines each field and bit. The title says whose VMCS it is, for whom,
// and who holds it; a merged vmcs02 tags each field with where it came from.
import { OriginLegend, OriginTag } from './Origin';
import { FieldPanelTools, ShowAllFields } from './FieldPanelTools';
import { memo } from 'react';
import { rangeMask } from '../../core/vmx/layout';
import { bitRead, decidingReads } from '../causes/deciding';
import { useCauses } from '../causes/use-causes';
import type { VmcsView } from '../../core/engine/view';
import { layoutOf } from '../../core/vmx';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectExpandedFields, selectVmcsShowAll } from '../store/selectors';
import {
  bitRows,
  fieldGroups,
  fieldHex,
  fieldSummary,
  fieldTitle,
  shortBitName,
  type FieldRow,
} from './vmcs-model';
import {
  fieldOrigin,
  originLegend,
  originTitle,
  vmcsKey,
  vmcsMeta,
  vmcsRelation,
  vmcsRoleTitle,
  type FieldOrigin,
} from './provenance';

function changedAttrs(changed: boolean) {
  return { 'data-changed': changed ? 'true' : undefined };
}

/** Whether bit row `b` was read by the step's decision (docs/causes.md). */
function bitDecides(readMask: number | undefined, bits: readonly [number, number]): boolean {
  return bitRead(readMask, rangeMask(bits[0], Math.min(bits[1], 31)));
}

function FieldBits({ row, readMask }: { row: FieldRow; readMask?: number }) {
  const basis = row.prevValue ?? (row.changed ? 0 : undefined);
  const bits = bitRows(row.name, row.value, basis);
  return (
    <ul className="vmcs-bits" data-testid={`vmcs-bits-${row.name}`}>
      {bits.map((b) => {
        const decides = readMask !== 0xffffffff && b.bit.bits[1] < 32 && bitDecides(readMask, b.bit.bits);
        return (
          <li
            key={b.position}
            className={`vmcs-bit${b.bit.set ? ' set' : ''}${b.changed ? ' changed' : ''}${decides ? ' deciding' : ''}${b.bit.kind !== 'defined' ? ` ${b.bit.kind}` : ''}`}
            data-bit={b.bit.linuxName ?? b.bit.name}
            data-set={b.bit.set ? 'true' : 'false'}
            data-value={String(b.bit.value)}
            data-deciding={decides ? 'true' : undefined}
            {...changedAttrs(b.changed)}
            title={`${decides ? 'Read to decide this step.\n' : ''}${b.description}\n${b.section}`}
          >
            <span className="vmcs-bit-pos">{b.position}</span>
            <span className="vmcs-bit-name mono">{b.bit.linuxName ? shortBitName(b.bit) : ''}</span>
            <span className="vmcs-bit-text">{b.bit.text}</span>
          </li>
        );
      })}
    </ul>
  );
}

/** The names of the bits of a field a decision read (the whole field: its name). */
function readBitNames(row: FieldRow, readMask: number): string {
  if (readMask === 0xffffffff) return 'the whole field';
  const names = bitRows(row.name, row.value, undefined)
    .filter((b) => b.bit.bits[1] < 32 && bitDecides(readMask, b.bit.bits))
    .map((b) => (b.bit.linuxName ? shortBitName(b.bit) : `bit ${b.position}`));
  return names.join(', ') || `mask 0x${readMask.toString(16)}`;
}

function FieldLine({
  row,
  vmcsKey: owner,
  origin,
  readMask,
}: {
  row: FieldRow;
  vmcsKey: string;
  /** For a merged VMCS: the field's origin (null: none recorded); undefined: not merged. */
  origin?: FieldOrigin | null;
  /** The bits the step's decision read in this field (undefined: none). */
  readMask?: number;
}) {
  const store = useLabStoreApi();
  const key = `${owner}:${row.name}`;
  const expanded = useLab((s) => s.expandedFields[key] === true);
  const summary = fieldSummary(row.name, row.value);
  const expandable = layoutOf(row.name) !== undefined;
  const toggle = () => store.getState().toggleField(key);
  return (
    <li
      className={`vmcs-field${row.changed ? ' is-changed' : ''}${readMask !== undefined ? ' is-deciding' : ''}`}
      data-field={row.name}
      data-deciding={readMask !== undefined ? 'true' : undefined}
    >
      <button
        type="button"
        className={`vmcs-field-line${origin !== undefined ? ' with-origin' : ''}`}
        data-testid={`vmcs-field-${row.name}`}
        aria-expanded={expandable ? expanded : undefined}
        disabled={!expandable}
        onClick={toggle}
        title={fieldTitle(row)}
      >
        <span className="vmcs-chevron" aria-hidden="true">
          {expandable ? (expanded ? '▾' : '▸') : ''}
        </span>
        {origin !== undefined && (
          <OriginTag
            origin={origin && { ...origin, title: originTitle(origin) }}
            testId={`vmcs-origin-${row.name}`}
            none="No origin recorded: the processor wrote it (at a VM exit), or prepare_vmcs02 left it alone"
          />
        )}
        <span className="vmcs-name mono">
          {readMask !== undefined && (
            <span
              className="vmcs-deciding-mark"
              data-testid={`vmcs-deciding-${row.name}`}
              title={`Read to decide this step: ${readBitNames(row, readMask)}`}
            >
              ◆{' '}
            </span>
          )}
          {row.name}
        </span>
        <span
          className={`vmcs-value mono${row.changed ? ' changed' : ''}`}
          data-testid={`vmcs-value-${row.name}`}
          {...changedAttrs(row.changed)}
        >
          {fieldHex(row.field, row.value)}
        </span>
        <span className="vmcs-summary" data-testid={`vmcs-summary-${row.name}`}>
          {readMask !== undefined && (
            <span className="vmcs-deciding-bits">read: {readBitNames(row, readMask)} · </span>
          )}
          {summary}
          {row.changed && row.prevValue !== undefined && (
            <span className="vmcs-was mono"> was {fieldHex(row.field, row.prevValue)}</span>
          )}
        </span>
      </button>
      {expanded && expandable && <FieldBits row={row} readMask={readMask} />}
    </li>
  );
}

export const VmcsPanel = memo(function VmcsPanel({
  vmcs,
  prev,
}: {
  vmcs: VmcsView;
  /** The same VMCS at the step before; null when it did not exist then; undefined: no basis. */
  prev: VmcsView | null | undefined;
}) {
  const showAll = useLab(selectVmcsShowAll);
  // Subscribed so the memoised panel re-renders when a field is expanded.
  useLab(selectExpandedFields);
  // The fields and bits the step's decision read in this VMCS (docs/causes.md).
  const deciding = decidingReads(useCauses(), vmcs.owner, vmcs.addr).fields;
  const groups = fieldGroups(vmcs, prev, showAll, (enc) => deciding.has(enc));
  const hidden = groups.reduce((n, g) => n + g.hidden, 0);
  const changedCount = groups.reduce((n, g) => n + g.rows.filter((r) => r.changed).length, 0);
  const key = vmcsKey(vmcs);
  const provenance = vmcs.provenance;
  const originOf = (row: FieldRow) =>
    provenance ? fieldOrigin(provenance[row.encoding], vmcs.owner, vmcs.runs) : undefined;
  return (
    <article
      className="vmcs-panel panel"
      id={`vmcs-panel-${key}`}
      data-testid={`vmcs-${vmcs.role}`}
      data-addr={vmcs.addr}
      data-owner={vmcs.owner}
      data-runs={vmcs.runs}
      aria-label={`VMCS ${vmcs.role}`}
    >
      <header className="panel-head">
        <h2 className="panel-title" title={vmcsRoleTitle(vmcs)}>
          {vmcs.role}
          <span className="vmcs-relation"> · {vmcsRelation(vmcs)}</span>
          {vmcs.current && (
            <span
              className="badge badge-current"
              title={
                vmcs.owner === 0
                  ? "The processor's current VMCS: VMREAD, VMWRITE and VM entry use it"
                  : `L${vmcs.owner}'s current VMCS (its last VMPTRLD): the VMREAD, VMWRITE and VM entries L${vmcs.owner} asks for use it`
              }
            >
              current
            </span>
          )}
        </h2>
        <FieldPanelTools
          prefix="vmcs"
          changedCount={changedCount}
          total={vmcs.fields.length}
          meta={vmcsMeta(vmcs)}
        />
      </header>
      {provenance && <OriginLegend items={originLegend(vmcs)} testId="vmcs-origin-legend" />}
      {(deciding.size > 0 || changedCount > 0) && (
        <p className="vmcs-legend" data-testid="vmcs-legend">
          <span className="vmcs-legend-deciding">◆ read to decide this step</span>
          <span className="vmcs-legend-changed">changed in this step</span>
        </p>
      )}
      {groups.map((g) => (
        <section className="vmcs-group" key={g.type} data-group={g.type}>
          <h3 className="section-title">
            {g.title}
            {g.hidden > 0 && <span className="vmcs-hidden"> · {g.hidden} more</span>}
          </h3>
          <ul className="vmcs-fields">
            {g.rows.map((row) => (
              <FieldLine
                key={row.encoding}
                row={row}
                vmcsKey={key}
                origin={originOf(row)}
                readMask={deciding.get(row.encoding)}
              />
            ))}
          </ul>
        </section>
      ))}
      <ShowAllFields prefix="vmcs" total={vmcs.fields.length} hidden={hidden} />
    </article>
  );
});
