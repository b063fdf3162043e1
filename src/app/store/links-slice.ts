// Links: opening one (from the address at start, a pasted link, a move through the browser's
// history), and the timeline's zoom as a range of its axis. A link is read and checked in
// full before anything changes; one that cannot be read, or whose scenario is rejected,
// leaves a message and changes nothing. A link whose scenario would replace a draft holding
// work opens beside it, as a new draft.
import type { LoadRequest } from '../../worker/protocol';
import { describeLinkError, parseLink, type Bookmark, type LinkPlace } from '../links/link-format';
import { resolveLinkScenario, typeCompareParams } from '../links/link-resolve';
import { axisMax } from '../links/place';
import { DEFAULT_GEOMETRY, rangeToZoom, zoomToRange } from '../links/zoom-range';
import { documentWithParamValues } from '../share';
import { holdsWork } from './drafts-slice';
import type { LabState, LinkActions, LinkValues, SliceCreator } from './types';

function sameJson(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

/** The run on screen is what `req` asks for (same built-in and parameter values, or document). */
function sameRun(s: LabState, req: LoadRequest): boolean {
  const cur = s.request;
  if (!cur || !s.info) return false;
  if ('builtin' in req) {
    if (!('builtin' in cur) || cur.builtin !== req.builtin) return false;
    const b = s.builtins.find((x) => x.name === req.builtin);
    return s.info.params.every(
      (p) => (req.params?.[p.key] ?? b?.params.find((x) => x.key === p.key)?.value) === p.value,
    );
  }
  if ('builtin' in cur) return false;
  return sameJson(req.json, documentWithParamValues(s.scenarioJson, s.info.params));
}

function sameMark(a: Bookmark, b: Bookmark): boolean {
  return a.step === b.step && a.name === b.name && a.note === b.note;
}

export const createLinksSlice: SliceCreator<LinkValues & LinkActions> = () => (set, get) => {
  const refuse = (what: string) => {
    set({ linkError: `This link cannot be opened: ${what}. Nothing was changed.` });
    return false;
  };

  /** The link's step, axis and zoom (and, when following a link, its bookmarks). */
  function applyPlace(place: LinkPlace, withBookmarks: boolean) {
    if (withBookmarks && place.bookmarks.length > 0) {
      const mine = get().bookmarks;
      const added = place.bookmarks.filter((b) => !mine.some((m) => sameMark(m, b)));
      if (added.length > 0) {
        set({ bookmarks: [...mine, ...added].sort((a, b) => a.step - b.step) });
        get().saveDraft();
      }
    }
    if (place.axis !== get().timeAxis) get().setTimeAxis(place.axis);
    get().setZoomRange(place.zoom);
    const total = get().info?.totalSteps ?? 0;
    if (place.step !== null) {
      get().seek(place.step);
      if (place.step > total) {
        get().setNotice(
          `The link’s step ${place.step} is past the end of the run (${total} steps): showing the last step.`,
        );
      }
    }
  }

  return {
    linkError: null,
    jumps: 0,
    timelineGeometry: null,

    async openLink(hash, opts = {}) {
      const parsed = parseLink(hash);
      if (!parsed.ok) return refuse(describeLinkError(parsed.error));
      if (!parsed.place) return false;
      const place = parsed.place;
      const resolved = resolveLinkScenario(place.scenario, get().builtins);
      if (!resolved.ok) return refuse(describeLinkError(resolved.error));
      // The compare view's parameters, checked before anything changes (a custom scenario's
      // are checked when the other side loads).
      const sc = place.scenario;
      const b = 'builtin' in sc ? get().builtins.find((x) => x.name === sc.builtin) : undefined;
      if (place.compare && b) {
        const typed = typeCompareParams(place.compare.params, b.params);
        if (!typed.ok) return refuse(describeLinkError(typed.error));
      }

      // A reload: the draft this page showed, at the place its address names if that draft
      // still shows that run (its edits may be newer than the address).
      const { draft } = opts;
      const known = !!draft && get().drafts.some((d) => d.id === draft);
      if (opts.initial && known) {
        get().selectDraft(draft);
        await get().openDraft({ jump: false });
        if (sameRun(get(), resolved.request)) {
          applyPlace(place, false);
          set({ compare: place.compare ?? null });
        }
        return true;
      }
      // Back or Forward to a place in another draft: that draft again, if it still exists.
      if (opts.history && known && draft !== get().draftId) {
        await get().switchDraft(draft, { jump: false });
      }
      const before = get().drafts.find((d) => d.id === get().draftId);
      let beside = false;
      if (!sameRun(get(), resolved.request)) {
        beside = holdsWork(get());
        const res = await get().load(resolved.request, { origin: 'link', jump: false, beside });
        if (!res.ok) {
          const where = res.error.where ? ` (${res.error.where})` : '';
          return refuse(`its scenario is rejected: ${res.error.message}${where}`);
        }
      }
      set({ linkError: null, compare: place.compare ?? null });
      // A followed link brings its bookmarks into the draft; a move through history does not
      // (it would bring back the bookmarks the user deleted since).
      applyPlace(place, !opts.history);
      if (beside && before) {
        const now = get().drafts.find((d) => d.id === get().draftId);
        get().setNotice(
          `The link opened as a new draft, “${now?.name ?? 'new draft'}”; your draft “${before.name}” is kept (Drafts).`,
        );
      }
      return true;
    },

    dismissLinkError() {
      set({ linkError: null });
    },

    setTimelineGeometry(g) {
      const s = get();
      const old = s.timelineGeometry;
      if (old && old.x0 === g.x0 && old.x1 === g.x1) return;
      // The timeline changed width: keep showing the same range.
      const max = axisMax(s);
      const range = zoomToRange(s.timelineZoom, old ?? DEFAULT_GEOMETRY, max);
      set({ timelineGeometry: g, ...(range ? { timelineZoom: rangeToZoom(range, g, max) } : {}) });
    },

    setZoomRange(range) {
      const s = get();
      s.setTimelineZoom(rangeToZoom(range, s.timelineGeometry ?? DEFAULT_GEOMETRY, axisMax(s)));
    },
  };
};
