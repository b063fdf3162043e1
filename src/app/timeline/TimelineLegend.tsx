// The key to the timeline: each glyph with what it means, drawn by the same code as the lanes.
// The VM-transition entries appear when the run has VM exits, entries or decisions; the
// nesting ones (an emulated exit's link, a fold) when the run has them.
import { useMemo } from 'react';
import { EventKind } from '../../core/engine/view';
import { useLab } from '../sim-client-context';
import { selectFoldTrapped, selectInfo, selectTimeline, selectTransitions } from '../store/selectors';
import type { MarkCategory } from '../theme';
import { KIND_COLORS, KIND_LABELS } from '../theme';
import { MarkGlyph } from './MarkGlyph';
import { kvmLanesOf, nestingOf } from './nesting';
import type { MarkKind } from './visible-marks';

type Glyph = MarkKind | 'instruction' | 'injection';
interface Entry {
  kind: Glyph;
  category: MarkCategory;
  label: string;
  title?: string;
}

const ENTRIES: Entry[] = [
  { kind: 'instruction', category: 'instruction', label: 'instruction' },
  { kind: 'delivery', category: 'extint', label: KIND_LABELS.extint },
  { kind: 'delivery', category: 'nmi', label: KIND_LABELS.nmi },
  { kind: 'delivery', category: 'exception', label: KIND_LABELS.exception },
  { kind: 'delivery', category: 'software', label: 'software int' },
  { kind: 'raise', category: 'extint', label: 'raised' },
  { kind: 'iret', category: 'iret', label: 'IRET' },
  { kind: 'assert', category: 'assert-pass', label: 'assert pass' },
  { kind: 'assert', category: 'assert-fail', label: 'assert fail' },
  { kind: 'shutdown', category: 'shutdown', label: 'shutdown' },
];

const VMX_ENTRIES: Entry[] = [
  {
    kind: 'exit',
    category: 'vmexit',
    label: 'VM exit',
    title: 'VM exit: from the guest lane to its host; labelled with the exit reason',
  },
  {
    kind: 'entry',
    category: 'vmentry',
    label: 'VM entry',
    title: 'VM entry: from the host lane to the guest it enters',
  },
  {
    kind: 'injection',
    category: 'nmi',
    label: 'injected',
    title: 'An event injected by the VM entry (VM_ENTRY_INTR_INFO_FIELD), in its type’s colour',
  },
  {
    kind: 'decision',
    category: 'decision',
    label: 'decision',
    title: 'A decision of the KVM model (the kernel function is in the tooltip)',
  },
];

/** Glyphs sit at different heights in a lane; in the legend each is centred. */
const LEGEND_CY: Partial<Record<Glyph, number>> = { raise: 6 };

/** The glyphs of nesting, as NestingLayer draws them (small). */
function NestingGlyph({ kind }: { kind: 'reflection' | 'fold' }) {
  if (kind === 'fold')
    return (
      <>
        <rect x={-6} y={-2.5} width={12} height={5} rx={2.5} className="fold-bar" />
        <path d="M-6 -6V6" className="fold-tick" />
      </>
    );
  return (
    <path
      d="M-6 7C0 7 0 -6 6 -6M2 -9L6 -6L2 -3"
      fill="none"
      stroke={KIND_COLORS.vmexit}
      strokeWidth={1.5}
      strokeDasharray="3 2"
    />
  );
}

const NESTING_ENTRIES = {
  reflection: {
    label: 'emulated exit',
    title:
      'An exit of L2 that L0 turned into a VM exit to L1 (nested_vmx_reflect_vmexit, vmx_check_nested_events): from the exit of L2 to L0’s entry into L1, labelled with the reason L1 sees',
  },
  fold: {
    label: 'folded',
    title:
      'Trapped instructions folded: round trips in which L0 handles a guest’s VMREAD, VMWRITE, RDMSR, ... itself (the count is in the tooltip)',
  },
} as const;

export function TimelineLegend() {
  const data = useLab(selectTimeline);
  const transitions = useLab(selectTransitions);
  const fold = useLab(selectFoldTrapped);
  const info = useLab(selectInfo);
  const nesting = useMemo(
    () => (data && transitions && info ? nestingOf(data, transitions, kvmLanesOf(info)) : null),
    [data, transitions, info],
  );
  const nestKinds = [
    ...(nesting && nesting.reflections.length > 0 ? (['reflection'] as const) : []),
    ...(nesting && fold && nesting.folds.length > 0 ? (['fold'] as const) : []),
  ];
  const vmx = useMemo(() => {
    const kinds = new Set(data?.kinds ?? []);
    return kinds.has(EventKind.VMEXIT) || kinds.has(EventKind.VMENTRY) || kinds.has(EventKind.DECISION);
  }, [data]);
  const entries = vmx ? [...ENTRIES, ...VMX_ENTRIES] : ENTRIES;
  return (
    <ul className="timeline-legend" data-testid="timeline-legend" aria-label="Timeline legend">
      {entries.map((e) => (
        <li key={`${e.kind}:${e.category}`} data-legend={`${e.kind}:${e.category}`} title={e.title}>
          <svg width="14" height="20" viewBox="-7 -10 14 20" aria-hidden="true">
            {e.kind === 'exit' || e.kind === 'entry' ? (
              <MarkGlyph
                kind={e.kind}
                category={e.category}
                x={0}
                cy={e.kind === 'exit' ? 8 : -8}
                half={10}
                ty={e.kind === 'exit' ? -8 : 8}
              />
            ) : (
              <MarkGlyph kind={e.kind} category={e.category} x={0} cy={LEGEND_CY[e.kind] ?? 0} half={10} />
            )}
          </svg>
          {e.label}
        </li>
      ))}
      {nestKinds.map((k) => (
        <li key={k} data-legend={k} title={NESTING_ENTRIES[k].title}>
          <svg width="14" height="20" viewBox="-7 -10 14 20" aria-hidden="true">
            <NestingGlyph kind={k} />
          </svg>
          {NESTING_ENTRIES[k].label}
        </li>
      ))}
    </ul>
  );
}
