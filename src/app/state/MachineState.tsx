// The machine's state beside the program: a panel per level and, in VMX runs, the
// processor's VMX state with every VMCS. Side by side when there is room (a column of level
// panels, a column of VMCS panels); with less, the levels as tabs beside the VMCS column;
// with less still, tabs, one per level and one for the VMCS. Each tab is marked when its
// level runs and when something in it changed in this step.
import { useElementWidth } from '../use-element-width';
import { useRef, type ReactNode } from 'react';
import type { StepView } from '../../core/engine/view';
import { kvmChanges } from '../kvm/KvmPanel';
import { levelChanges } from '../level/level-diff';
import { LevelCards } from '../level/LevelPanel';
import { useLab, useLabStoreApi } from '../sim-client-context';
import { selectInfo, selectPrevView, selectStateTab, selectView } from '../store/selectors';
import { SvmPane, svmChangedCount, usesSvm } from '../svm/SvmPane';
import { fieldGroups, previousVmcs } from '../vmx/vmcs-model';
import { usesVmx, VmxPane } from '../vmx/VmxPane';

/** Below this width the level panels stop standing side by side with the VMCS column. */
export const COLUMNS_MIN_WIDTH = 980;
/** Below this width the VMCS column becomes a tab too (1024×768). */
export const SPLIT_MIN_WIDTH = 700;

/** Changes that say "look here" (time passing alone does not). */
const QUIET = new Set(['tsc', 'work']);

function levelChanged(view: StepView, prev: StepView | null, index: number): boolean {
  const cur = view.levels.find((l) => l.index === index);
  const before = prev?.levels.find((l) => l.index === index);
  if (!cur || !before || prev?.step !== view.step - 1) return false;
  const changed = [...levelChanges(before, cur)].some((k) => !QUIET.has(k));
  return changed || (cur.kvm !== null && kvmChanges(before.kvm, cur.kvm).size > 0);
}

function vmcsChangedCount(view: StepView, prev: StepView | null): number {
  if (!prev || prev.step !== view.step - 1) return 0;
  return view.vmx.vmcs.reduce((n, vmcs) => {
    const before = previousVmcs(prev.vmx.vmcs, vmcs) ?? null;
    return (
      n + fieldGroups(vmcs, before, true).reduce((m, g) => m + g.rows.filter((r) => r.changed).length, 0)
    );
  }, 0);
}

interface Tab {
  id: string;
  label: string;
  /** The whole name, for the tooltip (the label may be short). */
  title: string;
  running: boolean;
  changed: boolean;
}

/** "L1 · KVM (nested)" → "L1 · KVM": the level and the first word of what runs there. */
function shortLevelName(name: string): string {
  const sep = name.indexOf(' · ');
  if (sep < 0) return name;
  const what = name.slice(sep + 3).split(/[\s(]/)[0];
  return what ? `${name.slice(0, sep)} · ${what}` : name;
}

function StateTabs({ tabs, active }: { tabs: Tab[]; active: string }) {
  const store = useLabStoreApi();
  return (
    <div className="tabs state-tabs" role="tablist" aria-label="Machine state">
      {tabs.map((t) => (
        <button
          key={t.id}
          type="button"
          role="tab"
          id={`state-tab-${t.id}`}
          aria-selected={active === t.id}
          aria-controls="state-tabpanel"
          className={`tab${active === t.id ? ' on' : ''}${t.id === 'vmx' ? ' tab-vmx' : ''}`}
          title={t.title}
          data-testid={`state-tab-${t.id}`}
          onClick={() => store.getState().setStateTab(t.id)}
        >
          {t.running && <span className="run-dot" title="Running at this step" aria-label="running" />}
          <span className="tab-label">{t.label}</span>
          {t.changed && (
            <span className="tab-badge changed-dot" title="Changed in this step" aria-label="changed" />
          )}
        </button>
      ))}
    </div>
  );
}

/**
 * One tab per level: running and changed marks. Four levels and more: the tabs say
 * "L2 · kvm-unit-tests"; in the narrow column beside the VMCS, three and more say "L2". The
 * panel's header (and the tooltip) give the whole name, so every tab stays legible.
 */
function levelTabs(view: StepView, prev: StepView | null, narrow = false): Tab[] {
  const n = view.levels.length;
  const label = (l: StepView['levels'][number]) =>
    narrow && n >= 3 ? `L${l.index}` : n >= 4 ? shortLevelName(l.name) : l.name;
  return view.levels.map((l) => ({
    id: `level-${l.index}`,
    label: label(l),
    title: l.name,
    running: l.cpu.running,
    changed: levelChanged(view, prev, l.index),
  }));
}

function TabbedState({ tabs, active, children }: { tabs: Tab[]; active: string; children: ReactNode }) {
  return (
    <>
      <StateTabs tabs={tabs} active={active} />
      <div
        // A tab opens at its top, not at the scroll position another tab left.
        key={active}
        className="state-tabpanel"
        role="tabpanel"
        id="state-tabpanel"
        aria-labelledby={`state-tab-${active}`}
      >
        {children}
      </div>
    </>
  );
}

export function MachineState() {
  const view = useLab(selectView);
  const prev = useLab(selectPrevView);
  const chosen = useLab(selectStateTab);
  const info = useLab(selectInfo);
  const box = useRef<HTMLElement>(null);
  const width = useElementWidth(box, 0);

  let body;
  let layout = 'single';
  if (!view) {
    body = <div className="panel empty">Waiting for the simulation…</div>;
  } else {
    // An AMD run shows its VMCBs where a VMX run shows its VMCSs.
    const svm = usesSvm(info, view);
    const vmx = svm || usesVmx(view);
    const Pane = svm ? SvmPane : VmxPane;
    const many = view.levels.length > 1 || vmx;
    if (!many) {
      body = <LevelCards view={view} prev={prev} />;
    } else if (vmx && width >= COLUMNS_MIN_WIDTH) {
      layout = 'columns';
      body = (
        <>
          <div className="state-column" data-testid="levels-column">
            <LevelCards view={view} prev={prev} />
          </div>
          <div className="state-column" data-testid="vmx-column">
            <Pane />
          </div>
        </>
      );
    } else if (vmx && width >= SPLIT_MIN_WIDTH) {
      // Too narrow for every level beside the VMCS (1280×800): one level at a time, by tab,
      // with the VMCS column always beside it, so that KVM's panel and the VMCS show together.
      layout = 'split';
      const tabs = levelTabs(view, prev, true);
      const active = tabs.some((t) => t.id === chosen) ? chosen! : tabs[0].id;
      body = (
        <>
          <div className="state-split-levels" data-testid="levels-column">
            <TabbedState tabs={tabs} active={active}>
              <LevelCards view={view} prev={prev} only={Number(active.slice('level-'.length))} />
            </TabbedState>
          </div>
          <div className="state-column" data-testid="vmx-column">
            <Pane />
          </div>
        </>
      );
    } else {
      layout = 'tabs';
      const tabs = levelTabs(view, prev);
      if (vmx) {
        const n = svm ? svmChangedCount(view) : vmcsChangedCount(view, prev);
        const what = svm ? 'VMCB' : 'VMCS';
        tabs.push({
          id: 'vmx',
          label: n > 0 ? `${what} · ${n} changed` : what,
          title: `Every ${what} the processor knows`,
          running: false,
          changed: n > 0,
        });
      }
      const active = tabs.some((t) => t.id === chosen) ? chosen! : tabs[0].id;
      body = (
        <TabbedState tabs={tabs} active={active}>
          {active === 'vmx' ? (
            <Pane />
          ) : (
            <LevelCards view={view} prev={prev} only={Number(active.slice('level-'.length))} />
          )}
        </TabbedState>
      );
    }
  }
  return (
    <aside className={`lab-side state-${layout}`} aria-label="Machine state" ref={box} data-layout={layout}>
      {body}
    </aside>
  );
}
