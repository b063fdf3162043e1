// The run's assertions, pass or fail, like kvm-unit-tests' report() lines. Those the
// playhead has not reached yet are dimmed; clicking one seeks to its step. Asserts the whole
// run never executed (a stage it never got to, or a failure path it did not take) are listed
// last, so a harness that stopped early does not look like one that passed. Each row's step
// is a link (a jump); above them, what of the search on screen is still ahead of this step.
import { SearchAhead } from '../search/SearchAhead';
import { StepLink } from '../search/StepLink';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectAllAssertions, selectInfo, selectStep } from '../store/selectors';

export function AssertionList() {
  const store = useLabStoreApi();
  const info = useLab(selectInfo);
  const all = useLab(selectAllAssertions);
  const step = useLab(selectStep);
  if (!info) return null;
  const { passed, failed, skipped, notReached } = info.assertions;
  const end = info.expectedEnd;
  const endMissed = end !== null && !end.reached;

  return (
    <section className="panel assertions" aria-label="Assertions" data-testid="assertions">
      <header className="panel-head">
        <h2 className="panel-title">Assertions</h2>
        <span className="assert-totals">
          <span className="pass-count">{passed} passed</span>
          <span className={failed > 0 ? 'fail-count' : 'muted'}>{failed} failed</span>
          {skipped > 0 && (
            <span className="muted" data-testid="assertions-skipped">
              {skipped} skipped
            </span>
          )}
          {endMissed && (
            <span className="fail-count" data-testid="assertions-end-missed">
              end not reached
            </span>
          )}
          {notReached.length > 0 && (
            <span className="never-count" data-testid="assertions-not-reached">
              {notReached.length} never run
            </span>
          )}
        </span>
      </header>
      {all.length === 0 && notReached.length === 0 && !endMissed ? (
        <p className="empty-inline">
          {passed + failed + skipped === 0 ? 'This scenario has no assertions.' : 'Loading…'}
        </p>
      ) : (
        <ul className="assert-list">
          <SearchAhead />
          {all.map((a) => (
            <li key={`${a.step}:${a.level}:${a.line}`}>
              <div
                role="button"
                tabIndex={0}
                className={`assert-row${a.passed ? ' pass' : a.skipped ? ' skip' : ' fail'}${a.step > step ? ' ahead' : ''}`}
                data-testid="assertion"
                data-passed={a.passed ? 'true' : 'false'}
                data-skipped={a.skipped ? 'true' : 'false'}
                title={`Go to step ${a.step}`}
                onClick={() => store.getState().seek(a.step)}
                onKeyDown={(e) => {
                  if (e.key !== 'Enter' && e.key !== ' ') return;
                  e.preventDefault();
                  e.stopPropagation();
                  store.getState().seek(a.step);
                }}
              >
                <span
                  className="assert-mark"
                  aria-label={a.passed ? 'passed' : a.skipped ? 'skipped' : 'failed'}
                >
                  {a.passed ? '✓' : a.skipped ? '↷' : '✗'}
                </span>
                <span className="assert-message">{a.skipped ? `skipped: ${a.message}` : a.message}</span>
                <span className="assert-where">
                  L{a.level}:{a.line} · <StepLink step={a.step} />
                </span>
              </div>
            </li>
          ))}
          {endMissed && (
            <li
              className="assert-row fail"
              data-testid="assertion-end-missed"
              title="limits.expectEnd: a run that ends before this instruction fails, as a kvm-unit-tests test that never finishes does"
            >
              <span className="assert-mark" aria-label="failed">
                ✗
              </span>
              <span className="assert-message">
                the run ended at <StepLink step={info.totalSteps} /> before reaching {end.label}
              </span>
              <span className="assert-where">
                L{end.level}:{end.line} · never run
              </span>
            </li>
          )}
          {notReached.map((a) => (
            <li
              key={`never:${a.level}:${a.line}`}
              className="assert-row never"
              data-testid="assertion-not-reached"
              title="The run never executed this assert: a stage it did not get to, or a failure path it did not take"
            >
              <span className="assert-mark" aria-label="never run">
                –
              </span>
              <span className="assert-message">{a.message}</span>
              <span className="assert-where">
                L{a.level}:{a.line} · never run
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
