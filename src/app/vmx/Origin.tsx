// Where a field of a merged control structure came from (KVM's vmcs02 or vmcb02): a short tag
// (12, 01, 01+12, L0) with the full story in its tooltip, and the legend above the fields.
// Shared by the VMCS and VMCB panels; each says what its tags mean.

export type OriginKind = 'upper' | 'own' | 'merged' | 'self' | 'unknown';

/** A field's tag; `origin` null: nothing recorded (`none` says why, in the tooltip). */
export function OriginTag({
  origin,
  testId,
  none,
}: {
  origin: { tag: string; kind: OriginKind; title: string } | null;
  testId: string;
  none: string;
}) {
  if (!origin)
    return (
      <span className="vmcs-origin none" data-testid={testId} title={none}>
        ·
      </span>
    );
  return (
    <span
      className={`vmcs-origin origin-${origin.kind}`}
      data-testid={testId}
      data-origin={origin.tag}
      title={origin.title}
    >
      {origin.tag}
    </span>
  );
}

export interface LegendItem {
  tag: string;
  kind: OriginKind;
  label: string;
  title: string;
}

export function OriginLegend({ items, testId }: { items: readonly LegendItem[]; testId: string }) {
  return (
    <p className="vmcs-origin-legend" data-testid={testId}>
      <span className="vmcs-origin-legend-title">Where each field came from:</span>
      {items.map((o) => (
        <span key={o.tag} className="vmcs-origin-legend-item" title={o.title}>
          <span className={`vmcs-origin origin-${o.kind}`}>{o.tag}</span>
          {o.label}
        </span>
      ))}
    </p>
  );
}
