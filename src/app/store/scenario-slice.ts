// The scenario on screen: the built-ins, loading (from a built-in, the editor, a draft or a
// link), the timeline columns and the run's assertions. A rejected load keeps the previous
// run on screen and shows the error in the editor (a link's error goes to a banner instead).
import type { LoadRequest, LoadResponse } from '../../worker/protocol';
import { hashOfState } from '../links/place';
import { draftOfEntry } from '../links/url-sync';
import { draftBeside, holdsWork } from './drafts-slice';
import { landingStep, eventAt } from './event-match';
import { pumpViews } from './step-slice';
import type {
  BuiltinRequest,
  LabState,
  LoadOptions,
  ScenarioActions,
  ScenarioValues,
  SliceCreator,
} from './types';

export function builtinOf(req: LoadRequest | null): BuiltinRequest | null {
  return req && 'builtin' in req
    ? { builtin: req.builtin, ...(req.params ? { params: req.params } : {}) }
    : null;
}

function failure(message: string): LoadResponse {
  return { ok: false, error: { kind: 'crash', message, where: null } };
}

export const createScenarioSlice: SliceCreator<ScenarioValues & ScenarioActions> = (deps) => (set, get) => {
  const { client, runtime } = deps;

  /** After a successful load: fetch what the page draws besides the current step. */
  async function fetchRunExtras(generation: number, totalSteps: number) {
    try {
      const [timeline, last, transitions] = await Promise.all([
        client.timeline(),
        client.view(totalSteps),
        client.transitions(),
      ]);
      if (generation !== runtime.generation) return;
      set({ timeline, transitions, allAssertions: last.assertions });
    } catch {
      // A crash: the client reported it; the run is replayed and the page keeps what it has.
    }
  }

  function afterLoad(req: LoadRequest, res: Extract<LoadResponse, { ok: true }>, opts: LoadOptions) {
    const origin = opts.origin ?? ('json' in req ? 'editor' : 'builtin');
    runtime.generation += 1;
    runtime.detailsAsked.clear();
    runtime.detailsQueue = [];
    get().pause();
    const step = opts.keepStep ? Math.min(get().step, res.info.totalSteps) : 0;
    // Another scenario starts from its own default fold; a variant of the same one keeps it.
    const sameScenario = get().info?.name === res.info.name;
    const editor: Partial<LabState> = {};
    if (origin !== 'editor') {
      editor.editorText = res.scenarioJson;
      // A custom scenario from a link is the user's to edit, as an edited text is.
      editor.editorEdited = origin === 'link' && 'json' in req;
      editor.editorOrigin = builtinOf(req) ?? get().editorOrigin;
    }
    set({
      info: res.info,
      scenarioJson: res.scenarioJson,
      request: req,
      loading: false,
      loadError: null,
      runError: res.runError,
      timeline: null,
      transitions: null,
      allAssertions: [],
      eventDetails: {},
      ...(sameScenario ? {} : { foldTrapped: null }),
      pendingSwitch: null,
      view: null,
      prevView: null,
      step,
      shownStep: step,
      timelineZoom: { k: 1, x: 0 },
      ...(opts.beside ? draftBeside(get()) : {}),
      ...editor,
      ...(opts.jump === false ? {} : { jumps: get().jumps + 1 }),
    });
    get().saveDraft();
    void pumpViews(deps, get, set);
    void fetchRunExtras(runtime.generation, res.info.totalSteps);
    // The search on screen is run again on the new run (a variant keeps its search).
    void get().rerunSearch();
  }

  return {
    builtins: [],
    info: null,
    scenarioJson: '',
    request: null,
    loading: false,
    timeline: null,
    transitions: null,
    allAssertions: [],
    started: false,
    pendingSwitch: null,

    async start() {
      if (get().started) return;
      set({ started: true });
      let builtins;
      try {
        builtins = await client.listScenarios();
      } catch {
        return;
      }
      set({ builtins });
      get().restoreDrafts();
      // A link in the address opens (beside the draft if that holds work); one that cannot
      // be opened says why, and the drafts start as they were.
      const hash = typeof window === 'undefined' ? '' : window.location.hash;
      const draft = typeof window === 'undefined' ? null : draftOfEntry(window.history.state);
      if (hash && (await get().openLink(hash, { initial: true, draft }))) return;
      await get().openDraft({ jump: false });
    },

    async load(req, opts = {}) {
      const ticket = ++runtime.loadTicket;
      set({ loading: true });
      let res: LoadResponse;
      try {
        res = await client.load(req);
      } catch (e) {
        res = failure(e instanceof Error ? e.message : String(e));
      }
      if (ticket !== runtime.loadTicket) return res; // a newer load was asked for meanwhile
      if (res.ok) {
        afterLoad(req, res, opts);
      } else if (opts.origin === 'link') {
        set({ loading: false }); // the link's caller reports it; the editor is not the link's
      } else {
        set({ loading: false, loadError: res.error });
        if (res.error.kind !== 'crash') set({ leftTab: 'editor' });
      }
      return res;
    },

    async pickBuiltin(name, opts = {}) {
      // The draft's edits or bookmarks would be replaced by the built-in: ask first.
      if (!opts.force && !opts.beside && holdsWork(get())) {
        set({ pendingSwitch: { kind: 'builtin', name } });
        return;
      }
      const res = await get().load({ builtin: name }, { origin: 'builtin', beside: opts.beside });
      // Another scenario in this draft: the bookmarks marked steps of the one it replaced.
      if (res.ok && !opts.beside && get().bookmarks.length > 0) {
        set({ bookmarks: [] });
        get().saveDraft();
      }
    },

    async setParam(key, value, opts = {}) {
      const req = get().request;
      if (!req) return;
      // A built-in reloaded with a new parameter replaces the editor's text too.
      if (!opts.force && !opts.beside && 'builtin' in req && get().editorEdited) {
        set({ pendingSwitch: { kind: 'param', key, value } });
        return;
      }
      // The variant lands on the same event (its kind, and how many of that kind came
      // before it), not on the same step number.
      const before = eventAt(get().timeline, get().step);
      const params = { ...(req.params ?? {}), [key]: value };
      const next: LoadRequest =
        'builtin' in req ? { builtin: req.builtin, params } : { json: req.json, params };
      const res = await get().load(next, {
        origin: 'builtin' in req ? 'builtin' : 'editor',
        keepStep: true,
        beside: opts.beside,
      });
      if (!res.ok || !before) return;
      const generation = runtime.generation;
      try {
        const timeline = await client.timeline();
        const step = landingStep(timeline, before);
        if (generation === runtime.generation && step !== null) set({ step, timeline });
        void pumpViews(deps, get, set);
      } catch {
        // A crash: the page keeps the clamped step.
      }
    },

    async confirmSwitch(opts = {}) {
      const pending = get().pendingSwitch;
      if (!pending) return;
      set({ pendingSwitch: null });
      const how = opts.beside ? { beside: true } : { force: true };
      if (pending.kind === 'builtin') await get().pickBuiltin(pending.name, how);
      else await get().setParam(pending.key, pending.value, how);
    },

    cancelSwitch() {
      if (get().pendingSwitch) set({ pendingSwitch: null });
    },

    share() {
      const hash = hashOfState(get());
      if (!hash || typeof window === 'undefined') return null;
      window.history.replaceState(window.history.state, '', hash);
      const url = window.location.href;
      const clipboard = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
      if (clipboard?.writeText) {
        clipboard.writeText(url).then(
          () => get().setNotice('Link copied to the clipboard (it is also in the address bar).'),
          () => get().setNotice('The address bar holds the link to this place.'),
        );
      } else {
        get().setNotice('The address bar holds the link to this place.');
      }
      return url;
    },
  };
};
