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
import type { Bookmark, ZoomRange } from '../links/link-format';
import type { Draft, DraftStorage } from './draft-storage';
import type { SearchActions, SearchValues } from './search-types';
import type { CompareActions, CompareValues } from './compare-types';

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
export type LoadOrigin = 'builtin' | 'editor' | 'link';

export interface LoadOptions {
  origin?: LoadOrigin;
  /** Keep the step on screen (clamped): a variant of the same scenario. */
  keepStep?: boolean;
  /** Make this load a new place in the browser's history (default true; links and history moves are not). */
  jump?: boolean;
  /** Open the run as a new draft beside the one on screen, which is kept as it is. */
  beside?: boolean;
}

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
  /** First load: the link in the address, else the draft on screen, else the first built-in. */
  start(): Promise<void>;
  load(req: LoadRequest, opts?: LoadOptions): Promise<LoadResponse>;
  /** Loads a built-in; asks first (pendingSwitch) when the editor holds edits, unless `force`. */
  pickBuiltin(name: string, opts?: { force?: boolean; beside?: boolean }): Promise<void>;
  setParam(key: string, value: ParamValue, opts?: { force?: boolean; beside?: boolean }): Promise<void>;
  /** The user agreed to discard the edits (or, `beside`, to keep them in their draft): perform the pending switch. */
  confirmSwitch(opts?: { beside?: boolean }): Promise<void>;
  cancelSwitch(): void;
  /** Puts the place on screen into the URL hash and copies the URL; returns it. */
  share(): string | null;
}

export interface DraftValues {
  /** The user's drafts; the one on screen is brought up to date whenever it is saved. */
  drafts: Draft[];
  draftId: string;
  /** The bookmarks of the draft on screen. */
  bookmarks: Bookmark[];
}
export interface DraftActions {
  /** Reads the drafts from the storage (or starts a list of one). */
  restoreDrafts(): void;
  /** Loads the draft on screen: its edited text, else its built-in (or the first one). */
  openDraft(opts?: { jump?: boolean }): Promise<void>;
  /** Writes the draft on screen (editor text, origin, bookmarks) into the list and the storage. */
  saveDraft(): void;
  /** Makes another draft the one on screen, without loading it. */
  selectDraft(id: string): void;
  /** Makes another draft the one on screen and loads it. */
  switchDraft(id: string, opts?: { jump?: boolean }): Promise<void>;
  renameDraft(id: string, name: string): void;
  /** Deletes a draft (never the last one); deleting the draft on screen switches to another. */
  deleteDraft(id: string): Promise<void>;
  addBookmark(step: number, name: string, note: string): void;
  updateBookmark(index: number, patch: Partial<Bookmark>): void;
  removeBookmark(index: number): void;
}

/** Where the timeline's axis lies on screen, in px: what converts its zoom to a range. */
export interface TimelineGeometry {
  x0: number;
  x1: number;
}
export interface LinkValues {
  /** A link that could not be opened: the message (nothing was changed). */
  linkError: string | null;
  /** Counts the jumps (a new place: go to a step, open a scenario); each one is a history entry. */
  jumps: number;
  timelineGeometry: TimelineGeometry | null;
}
export interface LinkActions {
  /**
   * Opens a link (a location hash). `history`: a move through the browser's history, to the
   * draft its entry names (`draft`) if that still exists; `initial`: the page's first load
   * (with `draft`: a reload). Resolves to false when the link changed nothing.
   */
  openLink(
    hash: string,
    opts?: { initial?: boolean; history?: boolean; draft?: string | null },
  ): Promise<boolean>;
  dismissLinkError(): void;
  setTimelineGeometry(geometry: TimelineGeometry): void;
  /** Zooms the timeline to show this range of its axis (null: the whole run). */
  setZoomRange(range: ZoomRange | null): void;
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
  /**
   * The step the step counter and the playhead show: the step of the view when it arrives
   * (so a step paints the counter, the playhead and the panels in one frame), or `step`
   * when the view takes longer than SHOW_STEP_AFTER_MS (a long drag keeps moving).
   */
  shownStep: number;
}
export interface StepActions {
  /** Goes to a step; `jump`: a new place in the browser's history (a click, not a step or a drag). */
  seek(step: number, opts?: { jump?: boolean }): void;
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
  UiActions &
  DraftValues &
  DraftActions &
  LinkValues &
  LinkActions &
  SearchValues &
  SearchActions &
  CompareValues &
  CompareActions;

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
