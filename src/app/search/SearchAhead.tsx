// The Assertions panel's line about the search on screen: how many of its results are still
// in the future of the step shown, with links to the next few.
import { useLab } from '../sim-client-context';
import type { LabState } from '../store/types';
import { StepLink } from './StepLink';

const selectResults = (s: LabState) => s.searchResults;
const selectStepNow = (s: LabState) => s.step;

/** How many of the next results are linked. */
const SHOWN = 5;

export function SearchAhead() {
  const results = useLab(selectResults);
  const step = useLab(selectStepNow);
  if (!results) return null;
  const ahead = results.steps.filter((n) => n > step);
  // Results past the list's cap are counted, not listed.
  const beyond = results.total - results.steps.length;
  const count = ahead.length + beyond;
  return (
    <li className="assert-ahead" data-testid="search-ahead" data-ahead={count}>
      Search “{results.query}”:{' '}
      {count === 0 ? (
        <>no result after step {step}</>
      ) : (
        <>
          {count.toLocaleString('en-US')} of {results.total.toLocaleString('en-US')} result
          {results.total === 1 ? '' : 's'} still ahead of step {step} —{' '}
          {ahead.slice(0, SHOWN).map((n, i) => (
            <span key={n}>
              {i > 0 && ', '}
              <StepLink step={n} />
            </span>
          ))}
          {count > SHOWN && ', …'}
        </>
      )}
    </li>
  );
}
