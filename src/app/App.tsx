// The page: top bar, banners, transport; the program (or editor) and the assertions beside
// the level panels; the explanation of the step and the timeline below.
import { useEffect } from 'react';
import { AssertionList } from './assertions/AssertionList';
import { Banners } from './banners/Banners';
import { ExplanationBar } from './explanation/ExplanationBar';
import { HelpOverlay } from './help/HelpOverlay';
import { LevelPanels } from './level/LevelPanel';
import { useLabStoreApi } from './sim-client-context';
import { themeVars } from './theme';
import { Timeline } from './timeline/Timeline';
import { TopBar } from './top-bar/TopBar';
import { TransportBar } from './transport/TransportBar';
import { useKeyboardShortcuts } from './use-keyboard-shortcuts';
import { WorkPane } from './WorkPane';
import { scenarioFromHash } from './share';

export function App() {
  const store = useLabStoreApi();
  useKeyboardShortcuts();

  useEffect(() => {
    void store.getState().start();
  }, [store]);

  // A shared link pasted into this tab loads its scenario.
  useEffect(() => {
    const onHashChange = () => {
      const json = scenarioFromHash(window.location.hash);
      if (json !== null && json !== store.getState().scenarioJson) {
        store.setState({ editorText: json, editorEdited: true });
        void store.getState().load({ json }, { origin: 'share' });
      }
    };
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, [store]);

  return (
    <div className="lab" style={themeVars}>
      <TopBar />
      <Banners />
      <TransportBar />
      <main className="lab-main">
        <div className="work-column">
          <WorkPane />
          <AssertionList />
        </div>
        <aside className="lab-side" aria-label="Machine state">
          <LevelPanels />
        </aside>
      </main>
      <ExplanationBar />
      <Timeline />
      <HelpOverlay />
    </div>
  );
}
