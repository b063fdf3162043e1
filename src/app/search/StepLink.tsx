// Step numbers as links: a click goes to that step, as a jump (a new entry in the browser's
// history). Used wherever the page prints a step: KVM's log lines, assertions, explanations,
// search results.
import type { ReactNode } from 'react';
import { useLabStoreApi } from '../sim-client-context';

export function StepLink({ step, children }: { step: number; children?: ReactNode }) {
  const store = useLabStoreApi();
  return (
    <a
      href={`#step=${step}`}
      className="step-link"
      data-testid="step-link"
      data-step={step}
      title={`Go to step ${step}`}
      onClick={(e) => {
        e.preventDefault();
        e.stopPropagation();
        store.getState().seek(step, { jump: true });
      }}
    >
      {children ?? `step ${step}`}
    </a>
  );
}

/** A step number as the page prints it: 1204 or 1,204 (separators in groups of three). */
const NUM = String.raw`\d{1,3}(?:,\d{3})+(?!\d)|\d+`;
const SEP = String.raw`,\s*|\s+and\s+|\s*[–-]\s*`;
/** "step 31", "steps 31 and 37", "steps 5, 7 and 9", "steps 31–37", "step 1,204". */
const STEP_WORDS = new RegExp(String.raw`\b(steps?)(\s+)(${NUM})((?:(?:${SEP})(?:${NUM}))*)`, 'g');
const MORE = new RegExp(String.raw`(${SEP})(${NUM})`, 'g');

/** The text with every step number in it as a StepLink. */
export function linkSteps(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let k = 0;
  const link = (digits: string) => (
    <StepLink key={k++} step={Number(digits.replace(/,/g, ''))}>
      {digits}
    </StepLink>
  );
  for (const m of text.matchAll(STEP_WORDS)) {
    out.push(text.slice(last, m.index), m[1] + m[2], link(m[3]));
    for (const more of m[4].matchAll(MORE)) out.push(more[1], link(more[2]));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out.filter((x) => x !== '');
}
