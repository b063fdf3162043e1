// The left side of the work area: the program being run, or the scenario editor.
import { ScenarioEditor } from './editor/ScenarioEditor';
import { useLab, useLabStoreApi } from './sim-client-context';
import { SourceView } from './source/SourceView';
import { selectEditorEdited, selectLeftTab, selectLoadError } from './store/selectors';
import type { LeftTab } from './store/types';

const TABS: { id: LeftTab; label: string }[] = [
  { id: 'source', label: 'Program' },
  { id: 'editor', label: 'Scenario editor' },
];

export function WorkPane() {
  const store = useLabStoreApi();
  const tab = useLab(selectLeftTab);
  const edited = useLab(selectEditorEdited);
  const loadError = useLab(selectLoadError);
  return (
    <section className="work-pane panel">
      <div className="tabs" role="tablist" aria-label="Program or scenario">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`tabpanel-${t.id}`}
            className={`tab${tab === t.id ? ' on' : ''}`}
            data-testid={`tab-${t.id}`}
            onClick={() => store.getState().setLeftTab(t.id)}
          >
            {t.label}
            {t.id === 'editor' && loadError && <span className="tab-badge error" aria-label="has an error" />}
            {t.id === 'editor' && !loadError && edited && <span className="tab-badge" aria-label="edited" />}
          </button>
        ))}
      </div>
      <div className="tab-panel" role="tabpanel" id={`tabpanel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === 'source' ? <SourceView /> : <ScenarioEditor />}
      </div>
    </section>
  );
}
