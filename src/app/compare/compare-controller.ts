// The compare view's other side (docs/compare.md): a second worker with its own page store,
// loaded with the run on screen changed by the compare spec (other parameter values, a fork's
// edits), aligned with the run on screen by the worker, and the two cursors kept in step through
// the alignment. The page store's `compare` says what the other side is (it is in the link);
// this controller makes it so.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { LabError } from '../../core/engine/view';
import type { CompareResponse, LoadRequest, SimClient } from '../../worker/protocol';
import { describeLinkError } from '../links/link-format';
import { typeCompareParams } from '../links/link-resolve';
import type { LabStore } from '../store/lab-store';
import { createLabStore } from '../store/lab-store';
import type { CompareSpec } from '../store/compare-types';
import type { LabState } from '../store/types';
import { createWorkerClient } from '../worker-client';

export type Aligned = Extract<CompareResponse, { ok: true }>;

export interface CompareStatus {
  /** 'closed': no compare view; 'loading': the other side is being run and aligned. */
  status: 'closed' | 'loading' | 'ready';
  /** The spec the other side shows (when ready). */
  spec: CompareSpec | null;
  alignment: Aligned | null;
  /** The other side's store (its run, step, view), once made. */
  other: LabStore | null;
  /** The second worker's client, which `other` is bound to. */
  otherClient: SimClient | null;
}

/** The step of the other run aligned with `step`: its match, or that of the nearest matched step before. */
export function alignedStep(map: Int32Array, step: number): number {
  const n = Math.max(0, Math.min(step, map.length - 1));
  for (let s = n; s >= 0; s--) if (map[s] >= 0) return map[s];
  return 0;
}

/** The load request of the other side: the run on screen with the spec's parameters and edits. */
export function otherRequest(
  s: Pick<LabState, 'request' | 'info'>,
  spec: CompareSpec,
): { ok: true; request: LoadRequest } | { ok: false; message: string } {
  const req = s.request;
  if (!req || !s.info) return { ok: false, message: 'no scenario is loaded' };
  const typed = typeCompareParams(spec.params, s.info.params);
  if (!typed.ok) return { ok: false, message: describeLinkError(typed.error) };
  const params = { ...(req.params ?? {}), ...typed.params };
  const base = 'builtin' in req ? { builtin: req.builtin, params } : { json: req.json, params };
  return { ok: true, request: spec.edits.length ? { ...base, fork: spec.edits } : base };
}

/** The request of the run on screen, without any fork. */
function mainRequest(s: LabState): LoadRequest | null {
  const req = s.request;
  if (!req) return null;
  return 'builtin' in req
    ? { builtin: req.builtin, params: req.params }
    : { json: req.json, params: req.params };
}

const noDrafts = { read: () => null, write: () => {} };

export class CompareController {
  readonly state: StoreApi<CompareStatus> = createStore<CompareStatus>()(() => ({
    status: 'closed',
    spec: null,
    alignment: null,
    other: null,
    otherClient: null,
  }));
  private client: SimClient | null = null;
  private loadedKey = '';
  private ticket = 0;
  /** The step each side was last moved to by the other (its echo is not a move of its own). */
  private expectMain: number | null = null;
  private expectOther: number | null = null;
  private unsubOther: (() => void) | null = null;

  constructor(
    readonly main: LabStore,
    private readonly makeClient: () => SimClient = createWorkerClient,
  ) {}

  /** Follows the page store: its compare spec and the run on screen. Returns the disconnect. */
  connect(): () => void {
    const unsub = this.main.subscribe((s, prev) => {
      if (s.compare !== prev.compare || s.request !== prev.request || s.info !== prev.info) void this.sync();
      else if (s.step !== prev.step) this.mainMoved(s.step);
    });
    this.watchOther();
    void this.sync();
    return () => {
      unsub();
      this.unsubOther?.();
      this.unsubOther = null;
    };
  }

  /** Follows the other side's cursor (moved on its own timeline). */
  private watchOther(): void {
    const other = this.state.getState().other;
    if (!other || this.unsubOther) return;
    this.unsubOther = other.subscribe((s, prev) => {
      if (s.step !== prev.step) this.otherMoved(s.step);
    });
  }

  private ensureOther(): LabStore {
    let other = this.state.getState().other;
    if (!other) {
      this.client = this.makeClient();
      other = createLabStore(this.client, noDrafts);
      this.state.setState({ other, otherClient: this.client });
      this.watchOther();
    }
    return other;
  }

  /**
   * Runs the other side for `spec` and aligns it; resolves to the error when the spec cannot be
   * run (an edit the scenario rejects), in which case nothing on screen changes.
   */
  async prepare(spec: CompareSpec): Promise<LabError | null> {
    const s = this.main.getState();
    const req = otherRequest(s, spec);
    if (!req.ok) return { kind: 'fork', message: req.message, where: null };
    const mainReq = mainRequest(s);
    if (!mainReq) return { kind: 'fork', message: 'no scenario is loaded', where: null };
    const key = JSON.stringify([req.request, mainReq]);
    if (key === this.loadedKey && this.state.getState().alignment) return null;
    const ticket = ++this.ticket;
    const other = this.ensureOther();
    const prevStatus = this.state.getState().status;
    if (prevStatus === 'closed') this.state.setState({ status: 'loading' });
    const res = await other.getState().load(req.request, { origin: 'link', jump: false });
    if (ticket !== this.ticket) return null;
    if (!res.ok) {
      if (prevStatus === 'closed') this.state.setState({ status: 'closed' });
      return res.error; // the other side's store keeps its previous run
    }
    const al = await this.client!.compareWith(mainReq);
    if (ticket !== this.ticket) return null;
    if (!al.ok) {
      if (prevStatus === 'closed') this.state.setState({ status: 'closed' });
      return al.error;
    }
    this.loadedKey = key;
    this.state.setState({ status: 'ready', spec, alignment: al });
    this.mainMoved(this.main.getState().step, true);
    return null;
  }

  /** The page store's compare spec or run changed: show what it says. */
  private async sync(): Promise<void> {
    const s = this.main.getState();
    const spec = s.compare;
    if (!spec) {
      this.ticket++;
      this.loadedKey = '';
      if (this.state.getState().status !== 'closed')
        this.state.setState({ status: 'closed', spec: null, alignment: null });
      return;
    }
    if (!s.info || !s.request) return;
    const err = await this.prepare(spec);
    if (err && this.main.getState().compare === spec) {
      // A link (or a variant) whose other side cannot be run: the run on screen stays, alone.
      this.main.setState({ compare: null });
      this.main
        .getState()
        .setNotice(
          `The compare view cannot be opened: ${err.message}${err.where ? ` (${err.where})` : ''}. Nothing else was changed.`,
        );
    }
  }

  private mainMoved(step: number, force = false): void {
    const { alignment, other, status } = this.state.getState();
    if (status !== 'ready' || !alignment || !other) return;
    if (!force && this.expectMain === step) {
      this.expectMain = null;
      return;
    }
    const target = alignedStep(alignment.aToB, step);
    if (target !== other.getState().step) {
      this.expectOther = target;
      other.getState().seek(target);
    }
  }

  private otherMoved(step: number): void {
    const { alignment, status } = this.state.getState();
    if (status !== 'ready' || !alignment) return;
    if (this.expectOther === step) {
      this.expectOther = null;
      return;
    }
    const target = alignedStep(alignment.bToA, step);
    if (target !== this.main.getState().step) {
      this.expectMain = target;
      this.main.getState().seek(target);
    }
  }

  /** Both sides to the first divergence (a jump on the page's side). */
  goToDivergence(): void {
    const { alignment, other } = this.state.getState();
    const d = alignment?.divergence;
    if (!alignment || !other || !d) return;
    const a = d.a ?? alignment.prefix;
    const b = d.b ?? alignment.prefix;
    this.expectOther = b;
    other.getState().seek(b);
    this.expectMain = a;
    this.main.getState().seek(a, { jump: true });
  }
}

const controllers = new WeakMap<LabStore, CompareController>();

/** The compare controller of a page store (one each). */
export function compareControllerFor(store: LabStore): CompareController {
  let c = controllers.get(store);
  if (!c) {
    c = new CompareController(store);
    controllers.set(store, c);
  }
  return c;
}
