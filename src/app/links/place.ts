// The place on screen, as a link: the scenario (a built-in and its parameters, or the
// document), the step, the time axis, the timeline's zoom range and the draft's bookmarks.
import type { LabState } from '../store/types';
import { encodeLink, type LinkPlace } from './link-format';
import { linkScenarioOf } from './link-resolve';
import { DEFAULT_GEOMETRY, zoomToRange } from './zoom-range';

/** The axis's extent: steps, or cycles. */
export function axisMax(s: Pick<LabState, 'info' | 'timeAxis'>): number {
  return s.timeAxis === 'step' ? (s.info?.totalSteps ?? 0) : (s.info?.endTime ?? 0);
}

export function placeOf(s: LabState): LinkPlace | null {
  if (!s.info || !s.request) return null;
  return {
    scenario: linkScenarioOf(s.request, s.scenarioJson, s.info.params, s.builtins),
    step: s.step,
    zoom: zoomToRange(s.timelineZoom, s.timelineGeometry ?? DEFAULT_GEOMETRY, axisMax(s)),
    axis: s.timeAxis,
    bookmarks: s.bookmarks,
    compare: s.compare,
  };
}

/** The hash for the place on screen, or null while nothing is loaded. */
export function hashOfState(s: LabState): string | null {
  const place = placeOf(s);
  return place ? encodeLink(place) : null;
}

/** The state's fields a link is made of: when none changed, the link did not. */
export function placeChanged(a: LabState, b: LabState): boolean {
  return (
    a.info !== b.info ||
    a.request !== b.request ||
    a.scenarioJson !== b.scenarioJson ||
    a.step !== b.step ||
    a.timelineZoom !== b.timelineZoom ||
    a.timeAxis !== b.timeAxis ||
    a.timelineGeometry !== b.timelineGeometry ||
    a.bookmarks !== b.bookmarks ||
    a.compare !== b.compare ||
    a.draftId !== b.draftId ||
    a.jumps !== b.jumps
  );
}
