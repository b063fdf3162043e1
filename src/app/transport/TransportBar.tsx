// The transport: jump, step, play, step by delivery / VM transition / hypervisor decision,
// speed, and where we are (step and cycles). Each button performs the registered action,
// whose keys its tooltip shows.
import { useMemo, type ReactNode } from 'react';
import { EventKind } from '../../core/engine/view';
import { ACTIONS_BY_NAME, actionTitle, type ActionName } from '../actions';
import { cycles } from '../format';
import { useLab, useLabStoreApi } from '../sim-client-context';
import {
  selectPlaying,
  selectSpeed,
  selectShownStep,
  selectTimeline,
  selectTotalSteps,
  selectView,
} from '../store/selectors';
import { SPEEDS } from '../store/types';
import { SearchControls } from '../search/SearchControls';

const ICONS: Record<string, ReactNode> = {
  start: <path d="M3 2h2v12H3zM14 2v12L6 8z" />,
  back: <path d="M12 2v12L4 8z" />,
  play: <path d="M4 2v12l10-6z" />,
  pause: <path d="M3.5 2h3v12h-3zM9.5 2h3v12h-3z" />,
  forward: <path d="M4 2v12l8-6z" />,
  end: <path d="M11 2h2v12h-2zM2 2v12l8-6z" />,
  prevKind: <path d="M12 3v10L5 8z" />,
  nextKind: <path d="M4 3v10l7-5z" />,
};

function TransportButton({
  action,
  icon,
  testId,
  disabled,
}: {
  action: ActionName;
  icon: keyof typeof ICONS;
  testId: string;
  disabled?: boolean;
}) {
  const store = useLabStoreApi();
  return (
    <button
      type="button"
      className="btn transport-btn"
      data-testid={testId}
      title={actionTitle(action)}
      aria-label={ACTIONS_BY_NAME[action].label}
      disabled={disabled}
      onClick={() => ACTIONS_BY_NAME[action].perform(store.getState())}
    >
      <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" fill="currentColor">
        {ICONS[icon]}
      </svg>
    </button>
  );
}

/** ◀ what ▶: the previous and next step of one kind, around the kind's name. */
function KindStepper({
  prev,
  next,
  what,
  testId,
  disabled,
}: {
  prev: ActionName;
  next: ActionName;
  what: string;
  testId: string;
  disabled: boolean;
}) {
  return (
    <div className="kind-stepper" role="group" aria-label={`Step by ${what}`}>
      <TransportButton action={prev} icon="prevKind" testId={`btn-prev-${testId}`} disabled={disabled} />
      <span className="kind-stepper-label" aria-hidden="true">
        {what}
      </span>
      <TransportButton action={next} icon="nextKind" testId={`btn-next-${testId}`} disabled={disabled} />
    </div>
  );
}

export function TransportBar() {
  const store = useLabStoreApi();
  const step = useLab(selectShownStep);
  const total = useLab(selectTotalSteps);
  const playing = useLab(selectPlaying);
  const speed = useLab(selectSpeed);
  const view = useLab(selectView);
  const timeline = useLab(selectTimeline);
  const none = total === 0;
  const kinds = useMemo(() => {
    const k = new Set(timeline?.kinds ?? []);
    return {
      transitions: k.has(EventKind.VMENTRY) || k.has(EventKind.VMEXIT),
      decisions: k.has(EventKind.DECISION),
    };
  }, [timeline]);

  return (
    <div className="transport" role="toolbar" aria-label="Transport">
      <div className="transport-group">
        <TransportButton action="jumpToStart" icon="start" testId="btn-start" disabled={step === 0} />
        <TransportButton action="stepBack" icon="back" testId="btn-step-back" disabled={step === 0} />
        <TransportButton
          action="togglePlay"
          icon={playing ? 'pause' : 'play'}
          testId="btn-play"
          disabled={none}
        />
        <TransportButton
          action="stepForward"
          icon="forward"
          testId="btn-step-forward"
          disabled={step >= total}
        />
        <TransportButton action="jumpToEnd" icon="end" testId="btn-end" disabled={step >= total} />
      </div>
      <div className="transport-group kinds">
        <KindStepper
          prev="prevDelivery"
          next="nextDelivery"
          what="delivery"
          testId="delivery"
          disabled={none}
        />
        <KindStepper
          prev="prevTransition"
          next="nextTransition"
          what="VM exit/entry"
          testId="transition"
          disabled={none || !kinds.transitions}
        />
        <KindStepper
          prev="prevDecision"
          next="nextDecision"
          what="decision"
          testId="decision"
          disabled={none || !kinds.decisions}
        />
      </div>
      <SearchControls />
      <label className="speed" title="Playing speed (+ / -)">
        <span className="speed-label">Speed</span>
        <select
          data-testid="speed-select"
          value={speed}
          onChange={(e) => store.getState().setSpeed(Number(e.target.value))}
        >
          {SPEEDS.map((s) => (
            <option key={s} value={s}>
              {s} steps/s
            </option>
          ))}
        </select>
      </label>
      <div className="transport-position">
        <span className="step-counter" data-testid="step-counter" aria-live="polite">
          step {step} / {total}
        </span>
        <span className="time-cycles" data-testid="time-cycles" title="Time at this step, in TSC cycles">
          {view ? `${cycles(view.time)} cycles` : '—'}
        </span>
      </div>
    </div>
  );
}
