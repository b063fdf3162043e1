// The scenario on screen: the built-ins, loading (from a built-in, the editor or a shared
// link), the timeline columns and the run's assertions. A rejected load keeps the previous
// run on screen and shows the error in the editor.
import type { LoadRequest, LoadResponse } from '../../worker/protocol';
import { documentWithParamValues, hashForScenario, scenarioFromHash } from '../share';
import { pumpViews } from './step-slice';
import type {
  BuiltinRequest,
  LabState,
  LoadOrigin,
  ScenarioActions,
  ScenarioValues,
  SliceCreator,
} from './types';

function builtinOf(req: LoadRequest | null): BuiltinRequest | null {
  return req && 'builtin' in req
    ? { builtin: req.builtin, ...(req.params ? { params: req.params } : {}) }
    : null;
}

/**
 * A `#s=` link describes the scenario it was made from. Once something else is on screen it
 * no longer does: drop it (without a history entry), so that a reload shows what the user was
 * on, not the old link.
 */
function clearSharedHash() {
  if (typeof window === 'undefined' || scenarioFromHash(window.location.hash) === null) return;
  window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search);
}

function failure(message: string): LoadResponse {
  return { ok: false, error: { kind: 'crash', message, where: null } };
}

export const createScenarioSlice: SliceCreator<ScenarioValues & ScenarioActions> = (deps) => (set, get) => {
  const { client, runtime, drafts } = deps;

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

  function afterLoad(
    req: LoadRequest,
    res: Extract<LoadResponse, { ok: true }>,
    origin: LoadOrigin,
    keepStep: boolean,
  ) {
    runtime.generation += 1;
    runtime.detailsAsked.clear();
    runtime.detailsQueue = [];
    get().pause();
    if (origin !== 'share') clearSharedHash();
    const step = keepStep ? Math.min(get().step, res.info.totalSteps) : 0;
    // Another scenario starts from its own default fold; a variant of the same one keeps it.
    const sameScenario = get().info?.name === res.info.name;
    const editor: Partial<LabState> = {};
    if (origin !== 'editor') {
      const fromBuiltin = builtinOf(req);
      editor.editorText = res.scenarioJson;
      editor.editorEdited = origin === 'share';
      editor.editorOrigin = fromBuiltin ?? get().editorOrigin;
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
      timelineZoom: { k: 1, x: 0 },
      ...editor,
    });
    const s = get();
    drafts.write({ version: 1, text: s.editorText, edited: s.editorEdited, origin: s.editorOrigin });
    void pumpViews(deps, get, set);
    void fetchRunExtras(runtime.generation, res.info.totalSteps);
  }

  /** Loads `req`; if it is rejected, loads `fallback` and keeps the error (and the text) shown. */
  async function loadOrFallBack(req: LoadRequest, origin: LoadOrigin, fallback: BuiltinRequest | null) {
    const res = await get().load(req, { origin });
    if (res.ok || !fallback) return;
    const text = get().editorText;
    const edited = get().editorEdited;
    const fell = await get().load(fallback, { origin: 'builtin' });
    if (fell.ok) {
      set({ editorText: text, editorEdited: edited, loadError: res.error, leftTab: 'editor' });
      drafts.write({ version: 1, text, edited, origin: get().editorOrigin });
    }
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
      const draft = drafts.read();
      const known = (r: BuiltinRequest | null | undefined) =>
        r && builtins.some((b) => b.name === r.builtin) ? r : null;
      const first = builtins[0] ? { builtin: builtins[0].name } : null;
      const fallback = known(draft?.origin) ?? first;

      const shared = typeof window === 'undefined' ? null : scenarioFromHash(window.location.hash);
      if (shared !== null) {
        set({ editorText: shared, editorEdited: true, editorOrigin: fallback });
        return loadOrFallBack({ json: shared }, 'share', fallback);
      }
      if (draft?.edited) {
        set({ editorText: draft.text, editorEdited: true, editorOrigin: fallback });
        return loadOrFallBack({ json: draft.text }, 'editor', fallback);
      }
      if (fallback) await get().load(fallback, { origin: 'builtin' });
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
        afterLoad(req, res, opts.origin ?? ('json' in req ? 'editor' : 'builtin'), opts.keepStep ?? false);
      } else {
        set({ loading: false, loadError: res.error });
        if (res.error.kind !== 'crash') set({ leftTab: 'editor' });
      }
      return res;
    },

    async pickBuiltin(name, opts = {}) {
      // The editor's edits would be replaced by the built-in's document: ask first.
      if (!opts.force && get().editorEdited) {
        set({ pendingSwitch: { kind: 'builtin', name } });
        return;
      }
      await get().load({ builtin: name }, { origin: 'builtin' });
    },

    async setParam(key, value, opts = {}) {
      const req = get().request;
      if (!req) return;
      // A built-in reloaded with a new parameter replaces the editor's text too.
      if (!opts.force && 'builtin' in req && get().editorEdited) {
        set({ pendingSwitch: { kind: 'param', key, value } });
        return;
      }
      const params = { ...(req.params ?? {}), [key]: value };
      const next: LoadRequest =
        'builtin' in req ? { builtin: req.builtin, params } : { json: req.json, params };
      await get().load(next, { origin: 'builtin' in req ? 'builtin' : 'editor', keepStep: true });
    },

    async confirmSwitch() {
      const pending = get().pendingSwitch;
      if (!pending) return;
      set({ pendingSwitch: null });
      if (pending.kind === 'builtin') await get().pickBuiltin(pending.name, { force: true });
      else await get().setParam(pending.key, pending.value, { force: true });
    },

    cancelSwitch() {
      if (get().pendingSwitch) set({ pendingSwitch: null });
    },

    share() {
      const json = documentWithParamValues(get().scenarioJson, get().info?.params ?? []);
      if (!json || typeof window === 'undefined') return null;
      const hash = hashForScenario(json);
      window.history.replaceState(null, '', hash);
      const url = window.location.href;
      const clipboard = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
      if (clipboard?.writeText) {
        clipboard.writeText(url).then(
          () => get().setNotice('Link copied to the clipboard (and put in the address bar).'),
          () => get().setNotice('Link put in the address bar.'),
        );
      } else {
        get().setNotice('Link put in the address bar.');
      }
      return url;
    },
  };
};
