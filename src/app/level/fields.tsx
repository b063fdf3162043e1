// The small pieces the level panel is made of: a labelled value, an on/off chip, a hex value
// with its leading zeros dimmed, a vector chip. Each shows whether it changed this step.
import type { ReactNode } from 'react';
import { hexVector, splitLeadingZeros } from '../format';

function changedProps(changed: boolean) {
  return {
    'data-changed': changed ? 'true' : undefined,
    title: changed ? 'changed in this step' : undefined,
  };
}

export function Hex({ value }: { value: string }) {
  const [zeros, digits] = splitLeadingZeros(value);
  return (
    <>
      <span className="hex-zeros">{zeros}</span>
      {digits}
    </>
  );
}

export function Field({
  label,
  testId,
  changed,
  mono = true,
  alert = false,
  hint,
  children,
}: {
  label: string;
  testId: string;
  changed: boolean;
  mono?: boolean;
  alert?: boolean;
  hint?: string;
  children: ReactNode;
}) {
  return (
    <div className="field" title={hint}>
      <span className="field-label">{label}</span>
      <span
        className={`field-value${mono ? ' mono' : ''}${changed ? ' changed' : ''}${alert ? ' alert' : ''}`}
        data-testid={testId}
        data-alert={alert || undefined}
        {...changedProps(changed)}
      >
        {children}
      </span>
    </div>
  );
}

/** A flag or a blocking condition: lit when on. */
export function Chip({
  label,
  on,
  testId,
  changed,
  hint,
  text,
}: {
  label: string;
  on: boolean;
  testId: string;
  changed: boolean;
  hint: string;
  /** What the chip reads (defaults to the label). */
  text?: string;
}) {
  return (
    <span
      className={`chip${on ? ' on' : ''}${changed ? ' changed' : ''}`}
      data-testid={testId}
      data-on={on ? 'true' : 'false'}
      aria-label={`${hint}: ${on ? 'yes' : 'no'}`}
      {...changedProps(changed)}
      title={`${hint}${changed ? ' (changed in this step)' : ''}`}
    >
      {text ?? label}
    </span>
  );
}

/** An interrupt controller's vector: always an external interrupt, so always that colour. */
export function VectorChip({ vector, isNew }: { vector: number; isNew: boolean }) {
  return (
    <span
      className={`vector-chip${isNew ? ' changed' : ''}`}
      data-vector={vector}
      data-changed={isNew ? 'true' : undefined}
    >
      {hexVector(vector)}
    </span>
  );
}
