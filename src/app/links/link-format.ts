// The lab's links: where the user is, in the URL's hash. Version 2 (docs/links.md):
//
//   #v=1&builtin=soft-vnmi&virtual_nmis=1&step=38&zoom=20-60&bm=38~first%20NMI~note
//   #v=1&s=<base64url of the scenario document>&step=12
//   #v=2&builtin=soft-vnmi&step=38&cmp=virtual_nmis~1&fork=30%3AGUEST_RFLAGS.IF%3D0
//
// A link without a compare view is written as version 1, as before, so older pages open it.
//
// This module only reads and writes the text; whether a built-in and its parameters exist is
// checked against the built-ins list (link-resolve.ts). Reading never throws: a link that
// cannot be read gives a LinkError naming the field, and the caller changes nothing.
import { ForkError, parseEdit } from '../../core/scenario/fork';
import type { CompareSpec } from '../store/compare-types';
import { decodeScenario, encodeScenario } from '../share';

/** The newest format this page writes and reads. */
export const LINK_VERSION = 2;
/** The version of a link without the compare view's fields (they came with version 2). */
const BASE_VERSION = 1;
/** More fork edits than this in one link are refused. */
export const MAX_FORK_EDITS = 50;
/** Longer hashes are refused unread (a scenario document is a few kilobytes). */
export const MAX_LINK_LENGTH = 2_000_000;
/** More bookmarks than this in one link are refused. */
export const MAX_BOOKMARKS = 200;

export interface Bookmark {
  step: number;
  name: string;
  note: string;
}

export interface ZoomRange {
  from: number;
  to: number;
}

export type LinkScenario =
  /** A built-in, with its parameters as written in the link (typed by link-resolve.ts). */
  | { builtin: string; params: Record<string, string> }
  /** A custom scenario: its document. */
  | { json: string };

export interface LinkPlace {
  scenario: LinkScenario;
  step: number | null;
  /** The timeline's visible range, in the units of `axis`. */
  zoom: ZoomRange | null;
  axis: 'step' | 'cycles';
  bookmarks: Bookmark[];
  /** The compare view's other side (version 2: `cmp` and `fork` fields), or null/absent. */
  compare?: CompareSpec | null;
}

export interface LinkError {
  /** The field of the link at fault (`step`, `zoom`, `bm`, a parameter name), or null. */
  field: string | null;
  message: string;
}

export type LinkParse =
  | { ok: true; place: LinkPlace; migratedFrom: number | null }
  | { ok: true; place: null }
  | { ok: false; error: LinkError };

/** Keys of the format; every other key of a built-in's link is one of its parameters. */
export const RESERVED_KEYS = ['v', 'builtin', 's', 'step', 'zoom', 'axis', 'bm', 'cmp', 'fork'] as const;
const RESERVED = new Set<string>(RESERVED_KEYS);
/** Fields that version 1 did not have: in a version-1 link they are parameters, as they were. */
const V2_KEYS = new Set(['cmp', 'fork']);
/** A parameter whose name is a reserved key is written `p.NAME`. */
const PARAM_PREFIX = 'p.';

/** encodeURIComponent, also escaping `~` (the separator inside a bookmark). */
function enc(text: string): string {
  return encodeURIComponent(text).replace(/~/g, '%7E');
}

/** The last document encoded: the link is rewritten at every step, the document rarely changes. */
let lastEncoded = { json: '', text: '' };
function encodeDocument(json: string): string {
  if (lastEncoded.json !== json) lastEncoded = { json, text: encodeScenario(json) };
  return lastEncoded.text;
}

function formatNumber(n: number): string {
  return String(Math.round(n));
}

/** The hash (with its `#`) that describes `place`. Parameters are written as given. */
export function encodeLink(place: LinkPlace): string {
  const cmp = place.compare;
  const parts = [`v=${cmp ? LINK_VERSION : BASE_VERSION}`];
  const sc = place.scenario;
  if ('builtin' in sc) {
    parts.push(`builtin=${enc(sc.builtin)}`);
    for (const [key, value] of Object.entries(sc.params)) {
      parts.push(`${RESERVED.has(key) ? PARAM_PREFIX : ''}${enc(key)}=${enc(value)}`);
    }
  } else {
    parts.push(`s=${encodeDocument(sc.json)}`);
  }
  if (place.step !== null) parts.push(`step=${place.step}`);
  if (place.axis !== 'step') parts.push(`axis=${place.axis}`);
  if (place.zoom) parts.push(`zoom=${formatNumber(place.zoom.from)}-${formatNumber(place.zoom.to)}`);
  for (const b of place.bookmarks) parts.push(`bm=${b.step}~${enc(b.name)}~${enc(b.note)}`);
  if (cmp) {
    for (const [key, value] of Object.entries(cmp.params)) parts.push(`cmp=${enc(key)}~${enc(value)}`);
    for (const e of cmp.edits) parts.push(`fork=${enc(e)}`);
  }
  return '#' + parts.join('&');
}

function fail(field: string | null, message: string): LinkParse {
  return { ok: false, error: { field, message } };
}

function decodeComponent(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

const STEP_RE = /^\d{1,9}$/;
const NUMBER_RE = /^\d{1,15}$/;

/** Reads a location hash. An empty hash is no link (`place: null`). */
export function parseLink(hash: string): LinkParse {
  const body = hash.startsWith('#') ? hash.slice(1) : hash;
  if (body === '') return { ok: true, place: null };
  if (body.length > MAX_LINK_LENGTH) {
    return fail(
      null,
      `the link is ${body.length.toLocaleString('en-US')} characters long; at most ${MAX_LINK_LENGTH.toLocaleString('en-US')} are read`,
    );
  }

  const fields = new Map<string, string>();
  const bookmarks: string[] = [];
  const repeated: Record<string, string[]> = { cmp: [], fork: [] };
  for (const pair of body.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const key = decodeComponent(rawKey);
    if (key === null || key === '') return fail(null, `'${rawKey.slice(0, 40)}' is not a field name`);
    if (eq < 0) return fail(key, `the field has no value (expected ${key}=...)`);
    const raw = pair.slice(eq + 1);
    if (key === 'bm') {
      bookmarks.push(raw);
      continue;
    }
    if (key in repeated) {
      repeated[key].push(raw);
      continue;
    }
    const value = decodeComponent(raw);
    if (value === null)
      return fail(key, 'the value has a broken %-escape (the link may have been cut short)');
    if (fields.has(key)) return fail(key, 'the field appears twice');
    fields.set(key, value);
  }

  // Version. Links without `v` are the first format (and the `#s=` links of before versions).
  const v = fields.get('v');
  let migratedFrom: number | null = null;
  if (v === undefined) {
    migratedFrom = 0;
  } else if (!/^\d{1,6}$/.test(v) || Number(v) < 1) {
    return fail('v', `'${v.slice(0, 20)}' is not a link version (expected v=${LINK_VERSION})`);
  } else if (Number(v) > LINK_VERSION) {
    return fail(
      'v',
      `the link is in format version ${Number(v)}, made by a newer nestlab; this page reads version ${LINK_VERSION} and older`,
    );
  }

  // Version 1 had no compare view: its `cmp` and `fork` fields are parameters, as they were.
  const version = v === undefined ? BASE_VERSION : Number(v);
  if (version < 2) {
    for (const key of V2_KEYS) {
      const raw = repeated[key];
      if (raw.length > 1) return fail(key, 'the field appears twice');
      if (raw.length === 1) {
        const value = decodeComponent(raw[0]);
        if (value === null)
          return fail(key, 'the value has a broken %-escape (the link may have been cut short)');
        fields.set(key, value);
      }
      repeated[key] = [];
    }
  }
  const compare = readCompare(repeated.cmp, repeated.fork);
  if (compare && 'error' in compare) return { ok: false, error: compare.error };

  // The scenario: exactly one of `builtin` and `s`.
  const builtin = fields.get('builtin');
  const s = fields.get('s');
  if (builtin !== undefined && s !== undefined) {
    return fail(
      's',
      'the link names both a built-in (builtin=) and a scenario document (s=); it can hold one',
    );
  }
  let scenario: LinkScenario;
  if (builtin !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(builtin)) {
      return fail('builtin', `'${builtin.slice(0, 40)}' is not a built-in name`);
    }
    const params: Record<string, string> = {};
    for (const [key, value] of fields) {
      if (RESERVED.has(key) && !(version < 2 && V2_KEYS.has(key))) continue;
      const name = key.startsWith(PARAM_PREFIX) ? key.slice(PARAM_PREFIX.length) : key;
      if (name in params) return fail(key, 'the parameter appears twice');
      params[name] = value;
    }
    scenario = { builtin, params };
  } else if (s !== undefined) {
    const extra = [...fields.keys()].find((k) => !RESERVED.has(k) || (version < 2 && V2_KEYS.has(k)));
    if (extra !== undefined) {
      return fail(
        extra,
        'a custom scenario’s link carries its parameters inside its document (s=), not as fields',
      );
    }
    if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) {
      return fail('s', 'the scenario is not base64url text (the link may have been cut short or altered)');
    }
    const json = decodeScenario(s);
    if (json === null) return fail('s', 'the scenario is not UTF-8 text (the link may have been cut short)');
    try {
      JSON.parse(json);
    } catch {
      return fail('s', 'the scenario is not complete JSON (the link may have been cut short)');
    }
    scenario = { json };
  } else {
    return fail(null, 'the link names no scenario: it needs builtin=NAME or s=DOCUMENT');
  }

  // Where: the step, the axis and the zoom.
  let step: number | null = null;
  const stepText = fields.get('step');
  if (stepText !== undefined) {
    if (!STEP_RE.test(stepText))
      return fail('step', `'${stepText.slice(0, 20)}' is not a step number (0 or more)`);
    step = Number(stepText);
  }
  const axisText = fields.get('axis') ?? 'step';
  if (axisText !== 'step' && axisText !== 'cycles') {
    return fail('axis', `'${axisText.slice(0, 20)}' is not a time axis (step or cycles)`);
  }
  let zoom: ZoomRange | null = null;
  const zoomText = fields.get('zoom');
  if (zoomText !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(zoomText);
    if (!m || !NUMBER_RE.test(m[1]) || !NUMBER_RE.test(m[2])) {
      return fail('zoom', `'${zoomText.slice(0, 30)}' is not a range FROM-TO (two whole numbers)`);
    }
    const from = Number(m[1]);
    const to = Number(m[2]);
    if (to <= from) return fail('zoom', `the range ${from}-${to} is empty: TO must be larger than FROM`);
    zoom = { from, to };
  }

  // Bookmarks: bm=STEP~NAME~NOTE, one field each.
  if (bookmarks.length > MAX_BOOKMARKS) {
    return fail('bm', `the link holds ${bookmarks.length} bookmarks; at most ${MAX_BOOKMARKS} are read`);
  }
  const marks: Bookmark[] = [];
  for (const [i, raw] of bookmarks.entries()) {
    const where = `bm (bookmark ${i + 1})`;
    const parts = raw.split('~');
    if (parts.length < 2 || parts.length > 3) {
      return fail(where, 'a bookmark is STEP~NAME or STEP~NAME~NOTE');
    }
    if (!STEP_RE.test(parts[0])) return fail(where, `'${parts[0].slice(0, 20)}' is not a step number`);
    const name = decodeComponent(parts[1]);
    const note = decodeComponent(parts[2] ?? '');
    if (name === null || note === null) {
      return fail(where, 'the text has a broken %-escape (the link may have been cut short)');
    }
    marks.push({ step: Number(parts[0]), name, note });
  }

  return {
    ok: true,
    place: { scenario, step, zoom, axis: axisText, bookmarks: marks, ...(compare ? { compare } : {}) },
    migratedFrom,
  };
}

/** The compare view's fields: `cmp=KEY~VALUE` and `fork=STEP:TARGET=VALUE`, each repeatable. */
function readCompare(cmp: string[], fork: string[]): CompareSpec | null | { error: LinkError } {
  if (cmp.length === 0 && fork.length === 0) return null;
  const params: Record<string, string> = {};
  for (const [i, raw] of cmp.entries()) {
    const where = `cmp (parameter ${i + 1})`;
    const parts = raw.split('~');
    if (parts.length !== 2) return { error: { field: where, message: 'a compared parameter is NAME~VALUE' } };
    const key = decodeComponent(parts[0]);
    const value = decodeComponent(parts[1]);
    if (key === null || value === null)
      return {
        error: { field: where, message: 'the text has a broken %-escape (the link may have been cut short)' },
      };
    if (key === '') return { error: { field: where, message: 'the parameter has no name' } };
    if (key in params) return { error: { field: where, message: `the parameter '${key}' appears twice` } };
    params[key] = value;
  }
  if (fork.length > MAX_FORK_EDITS)
    return {
      error: {
        field: 'fork',
        message: `the link holds ${fork.length} fork edits; at most ${MAX_FORK_EDITS} are read`,
      },
    };
  const edits: string[] = [];
  for (const [i, raw] of fork.entries()) {
    const where = `fork (edit ${i + 1})`;
    const text = decodeComponent(raw);
    if (text === null)
      return {
        error: { field: where, message: 'the edit has a broken %-escape (the link may have been cut short)' },
      };
    try {
      parseEdit(text, i);
    } catch (e) {
      if (e instanceof ForkError) return { error: { field: where, message: e.message } };
      throw e;
    }
    edits.push(text);
  }
  return { params, edits };
}

/** "field `step`: ..." — the error as one sentence for the banner. */
export function describeLinkError(error: LinkError): string {
  return error.field ? `field ‘${error.field}’: ${error.message}` : error.message;
}
