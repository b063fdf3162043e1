// A field's bits, one row each: position, name, value and a short reading; the whole meaning
// and the manual's section in the tooltip. Set bits stand out, bits that changed in this step
// are marked, and bits named in `highlight` (the ones a decision read) are called out. Shared
// by the VMCB panel and anything else that shows a control word bit by bit.
export interface BitItem {
  /** Stable per field: the position ("12", "10:8"). */
  position: string;
  /** "V_NMI_MASK"; '' for an unnamed bit. */
  name: string;
  text: string;
  set: boolean;
  changed: boolean;
  /** A set bit no layout defines. */
  reserved?: boolean;
  /** Tooltip: the meaning and the manual's section. */
  title: string;
}

export function BitList({
  items,
  testId,
  highlight,
}: {
  items: BitItem[];
  testId: string;
  /** Names of the bits to call out (e.g. the ones a decision read). */
  highlight?: ReadonlySet<string>;
}) {
  return (
    <ul className="vmcs-bits" data-testid={testId}>
      {items.map((b) => {
        const hot = highlight?.has(b.name) ?? false;
        return (
          <li
            key={b.position}
            className={`vmcs-bit${b.set ? ' set' : ''}${b.changed ? ' changed' : ''}${b.reserved ? ' reserved' : ''}${hot ? ' decides' : ''}`}
            data-bit={b.name}
            data-set={b.set ? 'true' : 'false'}
            data-changed={b.changed ? 'true' : undefined}
            data-decides={hot ? 'true' : undefined}
            title={b.title}
          >
            <span className="vmcs-bit-pos">{b.position}</span>
            <span className="vmcs-bit-name mono">{b.name}</span>
            <span className="vmcs-bit-text">{b.text}</span>
          </li>
        );
      })}
    </ul>
  );
}
