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

/** "step 31", "steps 31 and 37", "step 1,204": each number after "step(s)" becomes a link. */
const STEP_WORDS = /\b(steps?)(\s+)(\d[\d,]*)((?:(?:,\s*|\s+and\s+|\s*[–-]\s*)\d[\d,]*)*)/g;

/** The text with every step number in it as a StepLink. */
export function linkSteps(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let k = 0;
  for (const m of text.matchAll(STEP_WORDS)) {
    const start = m.index;
    out.push(text.slice(last, start));
    out.push(m[1] + m[2]);
    const numbers = (m[3] + (m[4] ?? '')).split(/(,\s*(?=\d+(?:\D|$))|\s+and\s+|\s*[–-]\s*)/);
    for (const part of numbers) {
      const n = Number(part.replace(/,/g, ''));
      if (/^\d[\d,]*$/.test(part) && Number.isSafeInteger(n))
        out.push(
          <StepLink key={k++} step={n}>
            {part}
          </StepLink>,
        );
      else out.push(part);
    }
    last = start + m[0].length;
  }
  out.push(text.slice(last));
  return out.filter((x) => x !== '');
}
