// "Why:" under the explanation (docs/causes.md): what the step's decision read, the value it
// read, and a link to the step that set it ("INTR_WINDOW_EXITING = 1, set at step 31 by
// kvm_check_and_inject_events"). The checks of higher priority that found nothing due are
// folded under "also checked". Under nesting, the rule that sent the exit to L0 or L1.
import type { CauseInput } from '../../core/causes/causes';
import { StepLink } from '../search/StepLink';
import { useCauses } from './use-causes';

function Input({ input }: { input: CauseInput }) {
  const set = input.setBy;
  return (
    <li
      className={`why-input${input.decides ? ' decides' : ''}`}
      data-testid="why-input"
      data-label={input.label}
      data-decides={input.decides ? 'true' : 'false'}
      title={`Read by ${input.by}${input.query ? `\nEvery change: search “${input.query}”` : ''}`}
    >
      <span className="why-name mono">{input.label}</span> ={' '}
      <span className="why-value mono">{input.value}</span>
      {set ? (
        <span className="why-set" data-testid="why-set">
          {' '}
          — set at{' '}
          <span className="why-cause" data-testid="cause-link" data-cause-step={set.step}>
            <StepLink step={set.step} />
          </span>{' '}
          by {set.actor}
          <span className="why-was">
            {' '}
            ({set.from} → {set.to})
          </span>
        </span>
      ) : (
        <span className="why-set muted">
          {input.sameSince > 0 ? (
            <>
              {' '}
              — unchanged since at least <StepLink step={input.sameSince} />
            </>
          ) : (
            ' — since the start'
          )}
        </span>
      )}
    </li>
  );
}

export function WhyList() {
  const causes = useCauses();
  if (!causes || !causes.recorded) return null;
  const deciding = causes.inputs.filter((i) => i.decides);
  const checked = causes.inputs.filter((i) => !i.decides);
  const routing = causes.routing;
  return (
    <div className="why" data-testid="why">
      <span className="why-title">Why:</span>
      <ul className="why-list">
        {deciding.map((i) => (
          <Input key={i.label} input={i} />
        ))}
        {routing && (
          <li className="why-route" data-testid="why-route" data-to={routing.to}>
            Route
            {routing.step !== causes.step && (
              <>
                {' '}
                (<StepLink step={routing.step} />)
              </>
            )}
            : {routing.text}
            {routing.inputs.map((i) =>
              i.setBy ? (
                <span key={i.label} className="why-set">
                  {' '}
                  — {i.label.split(' of ')[0]} set at{' '}
                  <span className="why-cause" data-testid="cause-link" data-cause-step={i.setBy.step}>
                    <StepLink step={i.setBy.step} />
                  </span>{' '}
                  by {i.setBy.actor}
                </span>
              ) : null,
            )}
          </li>
        )}
      </ul>
      {checked.length > 0 && (
        <details className="why-checked" data-testid="why-checked">
          <summary>also checked, nothing due ({checked.length})</summary>
          <ul className="why-list">
            {checked.map((i) => (
              <Input key={i.label} input={i} />
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
