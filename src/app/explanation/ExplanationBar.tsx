// What happened at this step and why, in one plain line, with the manual section or kernel
// function it follows (every step number in it a link). The chip names the event in the
// colour of its kind.
import type { TraceEventView } from '../../core/engine/view';
import { EVENT_KIND_NAMES, EVENT_TYPE_NAMES } from '../../core/engine/view';
import { WhyList } from '../causes/WhyList';
import { hexVector } from '../format';
import { linkSteps } from '../search/StepLink';
import { useLab } from '../sim-client-context';
import { selectAllAssertions, selectView } from '../store/selectors';
import { KIND_COLORS, markCategory } from '../theme';
import { exitReasonLabel } from '../timeline/transition-text';

const KIND_NUMBERS: Record<string, number> = Object.fromEntries(
  Object.entries(EVENT_KIND_NAMES).map(([n, name]) => [name, Number(n)]),
);

function describeEvent(event: TraceEventView, arch: 'vmx' | 'svm'): string {
  const parts = [`L${event.level}`, event.kind];
  const { vector, type, reason, injected } = event.data;
  if (type !== undefined && EVENT_TYPE_NAMES[type]) parts.push(EVENT_TYPE_NAMES[type]);
  if (vector !== undefined && vector >= 0) parts.push(`vector ${hexVector(vector)}`);
  if (event.kind === 'vmexit' && reason !== undefined)
    parts.push(`${arch === 'svm' ? 'exit code' : 'reason'} ${exitReasonLabel(reason, arch)}`);
  if (event.kind === 'vmentry' && injected !== undefined && injected & 0x80000000) {
    parts.push(
      `injects ${EVENT_TYPE_NAMES[(injected >>> 8) & 7] ?? 'an event'} ${hexVector(injected & 0xff)}`,
    );
  }
  return parts.join(' · ');
}

export function ExplanationBar() {
  const view = useLab(selectView);
  const assertions = useLab(selectAllAssertions);
  const arch = useLab((s) => s.info?.arch ?? 'vmx');
  const event = view?.event ?? null;
  // A skip is not a failure: it is drawn like a pass.
  const outcome = event ? assertions.find((a) => a.step === event.step) : undefined;
  const passed = outcome ? outcome.passed || outcome.skipped : true;
  const color = event
    ? KIND_COLORS[markCategory(KIND_NUMBERS[event.kind] ?? 0, event.data.type ?? -1, passed)]
    : undefined;

  return (
    <div className="explanation" data-testid="explanation" aria-live="polite">
      {event ? (
        <span className="event-chip" style={{ borderColor: color, color }} data-testid="event-chip">
          {describeEvent(event, arch)}
        </span>
      ) : (
        <span className="event-chip muted">initial state</span>
      )}
      <span className="explanation-text" data-testid="explanation-text">
        {linkSteps(view?.explanation.text ?? '')}
      </span>
      {view?.explanation.cite && (
        <cite className="explanation-cite" data-testid="explanation-cite">
          {view.explanation.cite}
        </cite>
      )}
      <WhyList />
    </div>
  );
}
