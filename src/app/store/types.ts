// The page's state, in small slices. Each slice has its values and its actions; the whole
// store is their intersection. Only what the page shows lives here; the run is in the worker.
import type { StateCreator } from 'zustand/vanilla';
import type { AssertionView, LabError, ScenarioInfo, StepView, TimelineData } from '../../core/engine/view';
import type {
  BuiltinScenarioInfo,
  LoadRequest,
  LoadResponse,
  SimClient,
  TransitionColumns,
} from '../../worker/protocol';
import type { DraftStorage } from './draft-storage';

export type ParamValue = string | number | boolean;
export type BuiltinRequest = { builtin: string; params?: Record<string, ParamValue> };

/** A switch of scenario that waits for the user to agree to discard the editor's edits. */
export type PendingSwitch =
  { kind: 'builtin'; name: string } | { kind: 'param'; key: string; value: ParamValue };

/** What the timeline shows of a VM exit, VM entry or decision, fetched on demand. */
export interface EventDetail {
  kind: string;
  data: Record<string, number>;
  /** The step's explanation (a decision's names the kernel function first). */
  text: string;
}

/** Where a load came from: it decides what happens to the editor text. */
export type LoadOrigin = 'builtin' | 'editor' | 'share';

export interface ScenarioValues {
  builtins: BuiltinScenarioInfo[];
  info: ScenarioInfo | null;
  /** The document of the run on screen, as the worker returned it. */
  scenarioJson: string;
  /** The request that produced the run on screen (replayed with new params). */
  request: LoadRequest | null;
  loading: boolean;
  timeline: TimelineData | null;
  /** The numbers of every VM exit, entry and decision (exit reasons, function ids). */
  transitions: TransitionColumns | null;
  /** Every assertion of the run (the view of the last step), for the list and the marks. */
  allAssertions: AssertionView[];
  started: boolean;
  /** Set while the "discard your edits?" dialog is open. */
  pendingSwitch: PendingSwitch | null;
}
export interface ScenarioActions {
  /** First load: a shared `#s=` scenario, else the saved draft, else the first built-in. */
  start(): Promise<void>;
  load(req: LoadRequest, opts?: { origin?: LoadOrigin; keepStep?: boolean }): Promise<LoadResponse>;
  /** Loads a built-in; asks first (pendingSwitch) when the editor holds edits, unless `force`. */
  pickBuiltin(name: string, opts?: { force?: boolean }): Promise<void>;
  setParam(key: string, value: ParamValue, opts?: { force?: boolean }): Promise<void>;
  /** The user agreed to discard the edits: perform the pending switch. */
  confirmSwitch(): Promise<void>;
  cancelSwitch(): void;
  /** Puts the scenario of the run into the URL hash; returns the URL. */
  share(): string | null;
}

export interface DetailValues {
  /** Details of the transitions and decisions on the timeline, by step, for the run on screen. */
  eventDetails: Record<number, EventDetail>;
}
export interface DetailActions {
  /** Fetches (in the background, one at a time) the details of these steps not yet known. */
  fetchEventDetails(steps: number[]): void;
}

export interface StepValues {
  /** The step the user wants to see (the playhead); `view` catches up with it. */
  step: number;
  view: StepView | null;
  /** The view held before `view`, for highlighting what changed. */
  prevView: StepView | null;
}
export interface StepActions {
  seek(step: number): void;
  stepForward(): void;
  stepBack(): void;
  jumpToStart(): void;
  jumpToEnd(): void;
  /** Seeks to the next (1) or previous (-1) step whose event has one of `kinds`. */
  seekKind(direction: 1 | -1, kinds: string[]): Promise<void>;
}

export const SPEEDS = [1, 4, 16, 64, 256] as const;
export interface PlaybackValues {
  playing: boolean;
  /** Steps per second. */
  speed: number;
}
export interface PlaybackActions {
  play(): void;
  pause(): void;
  togglePlay(): void;
  setSpeed(speed: number): void;
  faster(): void;
  slower(): void;
}

export interface ErrorValues {
  /** The worker crashed (and was restarted). */
  crash: LabError | null;
  /** The run stopped early (a limit); its steps stay navigable. */
  runError: LabError | null;
  /** The last load was rejected; the previous run stays on screen. */
  loadError: LabError | null;
}
export interface ErrorActions {
  dismissCrash(): void;
  dismissRunError(): void;
}

export interface EditorValues {
  editorText: string;
  /** The user changed the text (rather than it being a built-in's document). */
  editorEdited: boolean;
  /** The built-in the text started from, for "reset to built-in". */
  editorOrigin: BuiltinRequest | null;
  /** Incremented to ask the editor to take the focus. */
  editorFocusTick: number;
}
export interface EditorActions {
  setEditorText(text: string): void;
  runEditor(): Promise<void>;
  resetEditorToBuiltin(): Promise<void>;
  focusEditor(): void;
}

export type LeftTab = 'source' | 'editor';
export type TimeAxis = 'step' | 'cycles';
export interface ZoomState {
  k: number;
  x: number;
}
export interface UiValues {
  helpOpen: boolean;
  leftTab: LeftTab;
  /** The level whose source is shown; null follows the level that acted last. */
  sourceLevel: number | null;
  timelineZoom: ZoomState;
  timeAxis: TimeAxis;
  notice: string | null;
  /** The machine-state tab when the panels do not fit side by side ('level-N' or 'vmx'). */
  stateTab: string | null;
  /** The VMCS panels list every field, not only the important (and changed) ones. */
  vmcsShowAll: boolean;
  /** VMCS fields shown bit by bit, by "role@addr:field". */
  expandedFields: Record<string, boolean>;
  /**
   * The timeline folds the round trips L0 handles alone for a guest's trapped instructions
   * (VMREAD, VMWRITE, RDMSR, ...). null: the default, on for nested runs (three levels or more).
   */
  foldTrapped: boolean | null;
}
export interface UiActions {
  setHelpOpen(open: boolean): void;
  toggleHelp(): void;
  setLeftTab(tab: LeftTab): void;
  setSourceLevel(level: number | null): void;
  setTimelineZoom(zoom: ZoomState): void;
  setTimeAxis(axis: TimeAxis): void;
  setNotice(notice: string | null): void;
  setStateTab(tab: string | null): void;
  setVmcsShowAll(all: boolean): void;
  toggleField(key: string): void;
  setFoldTrapped(fold: boolean | null): void;
}

export type LabState = ScenarioValues &
  ScenarioActions &
  DetailValues &
  DetailActions &
  StepValues &
  StepActions &
  PlaybackValues &
  PlaybackActions &
  ErrorValues &
  ErrorActions &
  EditorValues &
  EditorActions &
  UiValues &
  UiActions;

/** Mutable bookkeeping that never renders: requests in flight, timers. */
export interface Runtime {
  /** Bumped on every successful load; answers for an older run are dropped. */
  generation: number;
  loadTicket: number;
  viewInFlight: boolean;
  /** Ask for the view again even if it is the step already held (after a crash). */
  refreshView: boolean;
  playTimer: ReturnType<typeof setTimeout> | null;
  /** Step-by-kind searches, chained so each starts from where the previous one landed. */
  kindSeek: Promise<void>;
  /** Steps whose details were asked for (in this run), and those still to fetch. */
  detailsAsked: Set<number>;
  detailsQueue: number[];
  detailsBusy: boolean;
}

export interface StoreDeps {
  client: SimClient;
  drafts: DraftStorage;
  runtime: Runtime;
}

export type SliceCreator<T> = (deps: StoreDeps) => StateCreator<LabState, [], [], T>;
