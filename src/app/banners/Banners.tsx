// Messages above the work area: a worker crash (dismissible), a run stopped by a limit (its
// steps stay navigable), a link that could not be opened, and short notices such as "link
// copied".
import { linkSteps } from '../search/StepLink';
import { useEffect } from 'react';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectCrash, selectLinkError, selectNotice, selectRunError } from '../store/selectors';

/** A message without its final full stop, to sit inside our own sentence. */
function sentence(message: string): string {
  return message.replace(/[.\s]+$/, '');
}

export function Banners() {
  const store = useLabStoreApi();
  const crash = useLab(selectCrash);
  const runError = useLab(selectRunError);
  const notice = useLab(selectNotice);
  const linkError = useLab(selectLinkError);

  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => store.getState().setNotice(null), 4000);
    return () => clearTimeout(timer);
  }, [notice, store]);

  // Always rendered (even empty) so the page grid keeps its rows.
  return (
    <div className="banners">
      {crash && (
        <div className="banner banner-danger" role="alert" data-testid="crash-banner">
          <span className="banner-text">
            The simulation worker crashed: {sentence(crash.message)}. It was restarted and the scenario
            reloaded.
          </span>
          <button
            type="button"
            className="banner-close"
            aria-label="Dismiss"
            onClick={() => store.getState().dismissCrash()}
          >
            ×
          </button>
        </div>
      )}
      {runError && (
        <div className="banner banner-warn" role="status" data-testid="run-error-banner">
          <span className="banner-text">
            <strong>The run stopped early</strong> ({runError.kind}
            {runError.where ? linkSteps(`, ${runError.where}`) : ''}): {linkSteps(sentence(runError.message))}
            . The steps that ran can still be explored.
          </span>
          <button
            type="button"
            className="banner-close"
            aria-label="Dismiss"
            onClick={() => store.getState().dismissRunError()}
          >
            ×
          </button>
        </div>
      )}
      {linkError && (
        <div className="banner banner-warn" role="alert" data-testid="link-error">
          <span className="banner-text">{linkError}</span>
          <button
            type="button"
            className="banner-close"
            aria-label="Dismiss"
            onClick={() => store.getState().dismissLinkError()}
          >
            ×
          </button>
        </div>
      )}
      {notice && (
        <div className="banner banner-info" role="status" data-testid="notice">
          <span className="banner-text">{notice}</span>
        </div>
      )}
    </div>
  );
}
