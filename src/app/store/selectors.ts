// Selectors as module-level constants, so components subscribe to stable functions and
// re-render only when what they read changes.
import type { LabState } from './types';

export const selectInfo = (s: LabState) => s.info;
export const selectBuiltins = (s: LabState) => s.builtins;
export const selectRequest = (s: LabState) => s.request;
export const selectLoading = (s: LabState) => s.loading;
export const selectTimeline = (s: LabState) => s.timeline;
export const selectTransitions = (s: LabState) => s.transitions;
export const selectAllAssertions = (s: LabState) => s.allAssertions;

export const selectStep = (s: LabState) => s.step;
/** The step the counter and the playhead show (LabState.shownStep). */
export const selectShownStep = (s: LabState) => s.shownStep;
export const selectView = (s: LabState) => s.view;
export const selectPrevView = (s: LabState) => s.prevView;
export const selectTotalSteps = (s: LabState) => s.info?.totalSteps ?? 0;

export const selectPlaying = (s: LabState) => s.playing;
export const selectSpeed = (s: LabState) => s.speed;

export const selectCrash = (s: LabState) => s.crash;
export const selectRunError = (s: LabState) => s.runError;
export const selectLoadError = (s: LabState) => s.loadError;
export const selectNotice = (s: LabState) => s.notice;

export const selectEditorText = (s: LabState) => s.editorText;
export const selectEditorEdited = (s: LabState) => s.editorEdited;
export const selectEditorFocusTick = (s: LabState) => s.editorFocusTick;

export const selectHelpOpen = (s: LabState) => s.helpOpen;
export const selectLeftTab = (s: LabState) => s.leftTab;
export const selectSourceLevel = (s: LabState) => s.sourceLevel;
export const selectTimelineZoom = (s: LabState) => s.timelineZoom;
export const selectTimeAxis = (s: LabState) => s.timeAxis;

export const selectPendingSwitch = (s: LabState) => s.pendingSwitch;
export const selectEventDetails = (s: LabState) => s.eventDetails;
export const selectStateTab = (s: LabState) => s.stateTab;
export const selectVmcsShowAll = (s: LabState) => s.vmcsShowAll;
export const selectExpandedFields = (s: LabState) => s.expandedFields;

/** Whether the timeline folds trapped round trips: the user's choice, else on for nested runs. */
export const selectFoldTrapped = (s: LabState): boolean => s.foldTrapped ?? (s.info?.levels.length ?? 0) >= 3;

/** Whether a level has a program to show (a KVM lane has none: it is a model, not code). */
function hasSource(s: LabState, index: number): boolean {
  return (s.info?.levels.find((l) => l.index === index)?.source ?? '') !== '';
}

/**
 * The level whose source is shown: the pinned one; else the level running on the processor
 * at this step (the guest's lines while in VMX non-root operation); else the one that acted;
 * else the first level that has a program.
 */
export const selectShownSourceLevel = (s: LabState): number => {
  if (s.sourceLevel !== null) return s.sourceLevel;
  const running = s.view?.levels.find((l) => l.cpu.running);
  if (running && hasSource(s, running.index)) return running.index;
  const acting = s.view?.event?.level;
  if (acting !== undefined && hasSource(s, acting)) return acting;
  return s.info?.levels.find((l) => l.source !== '')?.index ?? 0;
};

export const selectDrafts = (s: LabState) => s.drafts;
export const selectDraftId = (s: LabState) => s.draftId;
export const selectBookmarks = (s: LabState) => s.bookmarks;
export const selectLinkError = (s: LabState) => s.linkError;
