// The page: top bar, banners, transport; the program (or editor) and the assertions beside
// the machine state (level panels, VMCS panels); the explanation of the step and the
// timeline below. The program pane is as wide as its longest line, so that on a wide screen
// the machine state gets the room.
import { useEffect, useMemo, type CSSProperties } from 'react';
import { AssertionList } from './assertions/AssertionList';
import { CompareView, useCompareConnection } from './compare/CompareView';
import { Banners } from './banners/Banners';
import { SwitchDialog } from './dialogs/SwitchDialog';
import { ExplanationBar } from './explanation/ExplanationBar';
import { HelpOverlay } from './help/HelpOverlay';
import { CommandPalette } from './search/CommandPalette';
import { connectUrl } from './links/url-sync';
import { useLab, useLabStoreApi } from './sim-client-context';
import { MachineState } from './state/MachineState';
import { selectInfo, selectLeftTab } from './store/selectors';
import { themeVars } from './theme';
import { Timeline } from './timeline/Timeline';
import { CounterTracks } from './counters/CounterTracks';
import { TopBar } from './top-bar/TopBar';
import { TransportBar } from './transport/TransportBar';
import { useKeyboardShortcuts } from './use-keyboard-shortcuts';
import { WorkPane } from './WorkPane';

/** Width of a character of the source view's monospace text (12.5px), and the gutter's. */
const CODE_CHAR_PX = 7.6;
const SOURCE_CHROME_PX = 64 + 24 + 14;
const EDITOR_MIN_PX = 620;

export function App() {
  const store = useLabStoreApi();
  const info = useLab(selectInfo);
  const leftTab = useLab(selectLeftTab);
  const comparing = useLab((s) => s.compare !== null);
  useKeyboardShortcuts();
  useCompareConnection();

  // The address bar follows the place on screen; Back, Forward and pasted links open theirs.
  useEffect(() => connectUrl(store), [store]);

  useEffect(() => {
    void store.getState().start();
  }, [store]);

  const longest = useMemo(
    () =>
      Math.max(
        40,
        ...(info?.levels ?? []).flatMap((l) =>
          l.source.split('\n').map((line) => line.replace(/\t/g, '    ').length),
        ),
      ),
    [info],
  );
  const workWidth = Math.max(
    longest * CODE_CHAR_PX + SOURCE_CHROME_PX,
    leftTab === 'editor' ? EDITOR_MIN_PX : 0,
  );
  const mainStyle = { '--work-width': `${Math.round(workWidth)}px` } as CSSProperties;

  return (
    <div className="lab" style={themeVars}>
      <TopBar />
      <Banners />
      <TransportBar />
      {comparing ? (
        // The compare view takes the place of the panels, the explanation and the timeline.
        <CompareView />
      ) : (
        <>
          <main className={`lab-main${info?.virtualization ? ' virtualization' : ''}`} style={mainStyle}>
            <div className="work-column">
              <WorkPane />
              <AssertionList />
            </div>
            <MachineState />
          </main>
          <ExplanationBar />
          <Timeline />
          <CounterTracks />
        </>
      )}
      <HelpOverlay />
      <CommandPalette />
      <SwitchDialog />
    </div>
  );
}
