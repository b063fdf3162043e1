// The link format on its own: every field round-trips; a hostile, truncated or future-version
// link gives an error naming the field; the old `#s=` links still read (docs/links.md).
import { describe, expect, it } from 'vitest';
import {
  describeLinkError,
  encodeLink,
  LINK_VERSION,
  MAX_BOOKMARKS,
  parseLink,
  type LinkPlace,
} from '../../src/app/links/link-format';
import { linkScenarioOf, resolveLinkScenario } from '../../src/app/links/link-resolve';
import { rangeToZoom, zoomToRange } from '../../src/app/links/zoom-range';
import { hashForScenario } from '../../src/app/share';
import { BUILTINS } from './fake-client';

const DOC = JSON.stringify({
  name: 'mine',
  title: 'Ünïcode & ~tildes~ = fine',
  levels: [{ program: ['nop'] }],
});

function roundTrip(place: LinkPlace): LinkPlace {
  const parsed = parseLink(encodeLink(place));
  if (!parsed.ok || !parsed.place) throw new Error(`did not parse: ${JSON.stringify(parsed)}`);
  return parsed.place;
}

function errorOf(hash: string) {
  const parsed = parseLink(hash);
  if (parsed.ok) throw new Error(`parsed: ${JSON.stringify(parsed)}`);
  return parsed.error;
}

describe('link format: round trips', () => {
  it('keeps a built-in, its parameters, the step, the axis, the zoom and the bookmarks', () => {
    const place: LinkPlace = {
      scenario: { builtin: 'soft-vnmi', params: { virtual_nmis: '1', vector: '48', step: 'a&b=c' } },
      step: 38,
      zoom: { from: 20, to: 60 },
      axis: 'cycles',
      bookmarks: [
        { step: 3, name: 'first NMI', note: '' },
        { step: 38, name: 'a~b & c=d', note: 'line one\nline two — ünïcode %41' },
      ],
    };
    expect(roundTrip(place)).toEqual(place);
    const hash = encodeLink(place);
    // Without a compare view the link is written in version 1, which older pages read.
    expect(hash.startsWith(`#v=1&builtin=soft-vnmi&virtual_nmis=1&vector=48&`)).toBe(true);
    // A parameter named like a field of the format is written p.NAME.
    expect(hash).toContain('&p.step=a%26b%3Dc&');
    expect(hash).toContain('&step=38&axis=cycles&zoom=20-60&');
  });

  it('keeps the compare view: parameters of the other side and fork edits (version 2)', () => {
    const place: LinkPlace = {
      scenario: { builtin: 'soft-vnmi', params: {} },
      step: 31,
      zoom: null,
      axis: 'step',
      bookmarks: [],
      compare: {
        params: { virtual_nmis: '1', 'a~b': 'x&y' },
        edits: ['30:GUEST_INTERRUPTIBILITY_INFO.NMI=0', '40:RFLAGS.IF of L1=1'],
      },
    };
    expect(roundTrip(place)).toEqual(place);
    const hash = encodeLink(place);
    expect(LINK_VERSION).toBe(2);
    expect(hash).toBe(
      '#v=2&builtin=soft-vnmi&step=31&cmp=virtual_nmis~1&cmp=a%7Eb~x%26y' +
        '&fork=30%3AGUEST_INTERRUPTIBILITY_INFO.NMI%3D0&fork=40%3ARFLAGS.IF%20of%20L1%3D1',
    );
    // A fork alone (compare with the scenario's own fork).
    const forkOnly = { ...place, compare: { params: {}, edits: ['5:nmi=1'] } };
    expect(roundTrip(forkOnly)).toEqual(forkOnly);
  });

  it('reads cmp and fork of a version-1 link as parameters, as version 1 did', () => {
    const parsed = parseLink('#v=1&builtin=x&fork=1');
    expect(parsed.ok && parsed.place?.scenario).toEqual({ builtin: 'x', params: { fork: '1' } });
    expect(parsed.ok && parsed.place?.compare).toBeUndefined();
  });

  it('keeps a custom scenario’s document, byte for byte', () => {
    const place: LinkPlace = { scenario: { json: DOC }, step: 0, zoom: null, axis: 'step', bookmarks: [] };
    expect(roundTrip(place)).toEqual(place);
    expect(encodeLink(place)).toMatch(/^#v=1&s=[A-Za-z0-9_-]+&step=0$/);
  });

  it('is short for a built-in: the issue’s example', () => {
    const hash = encodeLink({
      scenario: { builtin: 'soft-vnmi', params: { virtual_nmis: '1' } },
      step: 38,
      zoom: null,
      axis: 'step',
      bookmarks: [],
    });
    expect(hash).toBe('#v=1&builtin=soft-vnmi&virtual_nmis=1&step=38');
  });

  it('reads the old #s= links (no version) as version 1, and an empty hash as no link', () => {
    const parsed = parseLink(hashForScenario(DOC));
    expect(parsed).toEqual({
      ok: true,
      migratedFrom: 0,
      place: { scenario: { json: DOC }, step: null, zoom: null, axis: 'step', bookmarks: [] },
    });
    expect(parseLink('')).toEqual({ ok: true, place: null });
    expect(parseLink('#')).toEqual({ ok: true, place: null });
  });

  it('writes a built-in’s parameters only where they differ from its defaults', () => {
    const params = [
      { key: 'vector', value: 0x40 },
      { key: 'eoi', value: true },
    ];
    expect(linkScenarioOf({ builtin: 'irq-basics' }, '', params, BUILTINS)).toEqual({
      builtin: 'irq-basics',
      params: { vector: '64' },
    });
    const off = [{ key: 'eoi', value: false }];
    expect(linkScenarioOf({ builtin: 'irq-basics' }, '', off, BUILTINS)).toEqual({
      builtin: 'irq-basics',
      params: { eoi: '0' },
    });
  });
});

describe('link format: links that cannot be read name the field', () => {
  it('refuses a fork edit or a compared parameter that cannot be read, naming the edit', () => {
    const e = errorOf('#v=2&builtin=soft-vnmi&fork=5%3ARAX%3D1&fork=x%3ARAX%3D1');
    expect(e.field).toBe('fork (edit 2)');
    expect(describeLinkError(e)).toMatch(/^field ‘fork \(edit 2\)’: edit 2 \('x:RAX=1'\), column 1: /);
    expect(errorOf('#v=2&builtin=soft-vnmi&fork=5%3ARAX').field).toBe('fork (edit 1)');
    expect(errorOf('#v=2&builtin=soft-vnmi&fork=5%3ARAX%3').field).toBe('fork (edit 1)');
    expect(errorOf('#v=2&builtin=soft-vnmi&cmp=virtual_nmis').message).toBe(
      'a compared parameter is NAME~VALUE',
    );
    expect(errorOf('#v=2&builtin=soft-vnmi&cmp=a~1&cmp=a~2').field).toBe('cmp (parameter 2)');
  });

  it('refuses a future version, saying which one it reads', () => {
    const e = errorOf('#v=3&builtin=irq-basics&step=3');
    expect(e.field).toBe('v');
    expect(describeLinkError(e)).toBe(
      'field ‘v’: the link is in format version 3, made by a newer nestlab; this page reads version 2 and older',
    );
    expect(errorOf('#v=one&builtin=x').field).toBe('v');
    expect(errorOf('#v=0&builtin=x').field).toBe('v');
  });

  it('refuses a truncated custom scenario (cut inside the base64, or before the JSON ends)', () => {
    const hash = encodeLink({ scenario: { json: DOC }, step: 5, zoom: null, axis: 'step', bookmarks: [] });
    const s = /s=([^&]*)/.exec(hash)![1];
    for (const cut of [s.length - 1, s.length - 2, s.length - 3, Math.floor(s.length / 2)]) {
      const e = errorOf(`#v=1&s=${s.slice(0, cut)}`);
      expect(e.field).toBe('s');
      expect(e.message).toMatch(/cut short/);
    }
    expect(errorOf('#v=1&s=%%%').field).toBe('s');
    expect(errorOf('#v=1&s=abc*def').message).toMatch(/not base64url/);
  });

  it('refuses hostile fields, each with its name', () => {
    const cases: [string, string | null, RegExp][] = [
      ['#v=1&builtin=irq-basics&step=-1', 'step', /not a step number/],
      ['#v=1&builtin=irq-basics&step=1e9', 'step', /not a step number/],
      ['#v=1&builtin=irq-basics&step=99999999999', 'step', /not a step number/],
      ['#v=1&builtin=irq-basics&step=3&step=4', 'step', /twice/],
      ['#v=1&builtin=irq-basics&zoom=60-20', 'zoom', /empty/],
      ['#v=1&builtin=irq-basics&zoom=abc', 'zoom', /FROM-TO/],
      ['#v=1&builtin=irq-basics&axis=time', 'axis', /step or cycles/],
      ['#v=1&builtin=irq-basics&bm=x~name', 'bm (bookmark 1)', /not a step number/],
      ['#v=1&builtin=irq-basics&bm=3~a&bm=4', 'bm (bookmark 2)', /STEP~NAME/],
      ['#v=1&builtin=irq-basics&bm=3~%E2%8', 'bm (bookmark 1)', /cut short/],
      ['#v=1&builtin=<script>', 'builtin', /not a built-in name/],
      ['#v=1&builtin=irq-basics&eoi=%E2%8', 'eoi', /cut short/],
      ['#v=1&builtin=irq-basics&s=AAAA', 's', /both/],
      ['#v=1&s=e30&eoi=1', 'eoi', /inside its document/],
      ['#v=1&step=3', null, /names no scenario/],
      ['#garbage', 'garbage', /no value/],
      ['#v=1&builtin=irq-basics&step', 'step', /no value/],
    ];
    for (const [hash, field, message] of cases) {
      const e = errorOf(hash);
      expect({ hash, field: e.field }).toEqual({ hash, field });
      expect(e.message, hash).toMatch(message);
    }
  });

  it('refuses too many bookmarks and over-long links unread', () => {
    const many = Array.from({ length: MAX_BOOKMARKS + 1 }, (_, i) => `bm=${i}~b`).join('&');
    expect(errorOf(`#v=1&builtin=irq-basics&${many}`).field).toBe('bm');
    const e = errorOf(`#v=1&builtin=irq-basics&x=${'a'.repeat(2_000_001)}`);
    expect(e.field).toBeNull();
    expect(e.message).toMatch(/characters long/);
  });
});

describe('link scenario against the built-ins', () => {
  const resolve = (builtin: string, params: Record<string, string>) =>
    resolveLinkScenario({ builtin, params }, BUILTINS);

  it('types the parameters as the built-in declares them', () => {
    expect(resolve('irq-basics', { eoi: '0', vector: '0x40' })).toEqual({
      ok: true,
      request: { builtin: 'irq-basics', params: { eoi: false, vector: 64 } },
    });
    expect(resolve('nmi-nesting', {})).toEqual({ ok: true, request: { builtin: 'nmi-nesting' } });
  });

  it('names the unknown built-in, the unknown parameter and the bad value', () => {
    expect(resolve('no-such', {})).toEqual({
      ok: false,
      error: { field: 'builtin', message: "this nestlab has no built-in named 'no-such'" },
    });
    expect(resolve('irq-basics', { eio: '1' })).toEqual({
      ok: false,
      error: {
        field: 'eio',
        message: "the built-in 'irq-basics' has no parameter 'eio' (its parameters: vector, eoi)",
      },
    });
    expect(resolve('irq-basics', { eoi: 'maybe' })).toMatchObject({ ok: false, error: { field: 'eoi' } });
    expect(resolve('irq-basics', { vector: '0x50' })).toEqual({
      ok: false,
      error: { field: 'vector', message: '80 is not one of 48, 64' },
    });
    expect(resolve('irq-basics', { vector: 'NaN' })).toMatchObject({ ok: false, error: { field: 'vector' } });
  });
});

describe('zoom as a range of the axis', () => {
  const g = { x0: 112, x1: 944 };
  it('turns a range into the transform and back', () => {
    const z = rangeToZoom({ from: 200, to: 400 }, g, 1000);
    expect(z.k).toBeCloseTo(5);
    const r = zoomToRange(z, g, 1000)!;
    expect(r.from).toBeCloseTo(200);
    expect(r.to).toBeCloseTo(400);
    expect(zoomToRange({ k: 1, x: 0 }, g, 1000)).toBeNull();
    expect(rangeToZoom(null, g, 1000)).toEqual({ k: 1, x: 0 });
  });

  it('keeps within the run and the largest zoom (eight steps across)', () => {
    const z = rangeToZoom({ from: 990, to: 2000 }, g, 1000);
    const r = zoomToRange(z, g, 1000)!;
    expect(r.to).toBeCloseTo(1000);
    const tight = zoomToRange(rangeToZoom({ from: 10, to: 11 }, g, 1000), g, 1000)!;
    expect(tight.to - tight.from).toBeCloseTo(8);
  });
});
