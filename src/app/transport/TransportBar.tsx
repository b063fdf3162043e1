// The transport: jump, step, play, step by delivery, speed, and where we are (step and
// cycles). Each button performs the registered action, whose keys its tooltip shows.
import type { ReactNode } from 'react';
import { ACTIONS_BY_NAME, actionTitle, type ActionName } from '../actions';
import { cycles } from '../format';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectPlaying, selectSpeed, selectStep, selectTotalSteps, selectView } from '../store/selectors';
import { SPEEDS } from '../store/types';

const ICONS: Record<string, ReactNode> = {
  start: <path d="M3 2h2v12H3zM14 2v12L6 8z" />,
  back: <path d="M12 2v12L4 8z" />,
  play: <path d="M4 2v12l10-6z" />,
  pause: <path d="M3.5 2h3v12h-3zM9.5 2h3v12h-3z" />,
  forward: <path d="M4 2v12l8-6z" />,
  end: <path d="M11 2h2v12h-2zM2 2v12l8-6z" />,
  prevKind: <path d="M2 2h2v12H2zM13 3v10L6 8z" />,
  nextKind: <path d="M12 2h2v12h-2zM3 3v10l7-5z" />,
};

function TransportButton({
  action,
  icon,
  testId,
  label,
  disabled,
}: {
  action: ActionName;
  icon: keyof typeof ICONS;
  testId: string;
  label?: string;
  disabled?: boolean;
}) {
  const store = useLabStoreApi();
  return (
    <button
      type="button"
      className={`btn transport-btn${label ? ' with-label' : ''}`}
      data-testid={testId}
      title={actionTitle(action)}
      aria-label={ACTIONS_BY_NAME[action].label}
      disabled={disabled}
      onClick={() => ACTIONS_BY_NAME[action].perform(store.getState())}
    >
      <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" fill="currentColor">
        {ICONS[icon]}
      </svg>
      {label && <span>{label}</span>}
    </button>
  );
}

export function TransportBar() {
  const store = useLabStoreApi();
  const step = useLab(selectStep);
  const total = useLab(selectTotalSteps);
  const playing = useLab(selectPlaying);
  const speed = useLab(selectSpeed);
  const view = useLab(selectView);
  const none = total === 0;

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
      <div className="transport-group">
        <TransportButton
          action="prevDelivery"
          icon="prevKind"
          testId="btn-prev-delivery"
          label="delivery"
          disabled={none}
        />
        <TransportButton
          action="nextDelivery"
          icon="nextKind"
          testId="btn-next-delivery"
          label="delivery"
          disabled={none}
        />
      </div>
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
