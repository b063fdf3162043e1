// Loading a scenario: JSON syntax errors with line and column, schema errors naming the field
// path, program errors with level, line and column, and event triggers.
import { describe, expect, it } from 'vitest';
import { openSession } from '../../../src/core/engine/session';
import { jsonErrorOffset } from '../../../src/core/scenario/json-position';
import { STOP, open, openError, scenarioDoc } from '../helpers';

const P = ['start:', 'nop', ...STOP];

describe('invalid JSON', () => {
  const cases: [string, string, number, number][] = [
    ['an unexpected token', '{\n  "version": 1,\n  "name": x\n}', 3, 11],
    ['a trailing comma', '{\n  "version": 1,\n}', 3, 1],
    ['a missing colon', '{\n  "version" 1\n}', 2, 13],
    ['an unterminated document', '{\n  "levels": [\n', 3, 1],
    ['text after the document', '{}\n}', 2, 1],
    ['a double comma', '[1,\n  ,2]', 2, 3],
  ];
  it.each(cases)('reports the line and column of %s', (_name, text, line, column) => {
    const r = openSession({ text });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({
      kind: 'scenario',
      line,
      column,
      where: `line ${line}, column ${column}`,
    });
    expect(r.error.message).toMatch(/^the scenario is not valid JSON: /);
    expect(r.error.message).not.toMatch(/is not valid JSON$/); // no copy of the document in the message
  });

  it('jsonErrorOffset finds the first offending character, and null for valid JSON', () => {
    expect(jsonErrorOffset('{"a": [1, 2.5e3, -0, "x\\u00e9\\n", true, false, null, {}]}')).toBeNull();
    expect(jsonErrorOffset('{"a": tru}')).toBe(9);
    expect(jsonErrorOffset('{"a": 01}')).toBe(7);
    expect(jsonErrorOffset('{"a": "\\q"}')).toBe(8);
    expect(jsonErrorOffset('"abc')).toBe(4);
    expect(jsonErrorOffset('')).toBe(0);
  });

  it('a document that is not an object is rejected', () => {
    for (const doc of [[], 'x', 5, null]) expect(openError(doc).message).toBe('a scenario is a JSON object');
  });
});

describe('schema errors name the field path', () => {
  const base = scenarioDoc(P);
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['version', { ...base, version: 2 }, 'version', /^`version` must be 1, not 2$/],
    ['name', { ...base, name: 'Bad Name' }, 'name', /lowercase letters, digits and dashes/],
    ['arch', { ...base, arch: 'arm' }, 'arch', /^`arch` must be one of "vmx", "svm", not "arm"$/],
    ['an unknown key', { ...base, colour: 'red' }, 'colour', /^unknown field `colour`$/],
    ['no levels', { ...base, levels: [] }, 'levels', /^`levels` needs at least 1 item$/],
    [
      'level kind',
      { ...base, levels: [{ kind: 'vm', program: P }] },
      'levels[0].kind',
      /^`levels\[0\]\.kind` must be one of program, kvm, xen, not "vm"$/,
    ],
    [
      'memory below 12 KiB',
      { ...base, levels: [{ kind: 'program', program: P, memory: 100 }] },
      'levels[0].memory',
      /^`levels\[0\]\.memory` must be at least 12288, not 100$/,
    ],
    [
      'an unknown level key',
      { ...base, levels: [{ kind: 'program', program: P, cpus: 2 }] },
      'levels[0].cpus',
      /^unknown field `cpus` in `levels\[0\]`$/,
    ],
    [
      'an IRQ vector below 16',
      scenarioDoc(P, [{ at: { time: 1 }, irq: 15 }]),
      'events[0].irq',
      /^`events\[0\]\.irq` must be at least 16, not 15$/,
    ],
    [
      'an IRQ vector above 255',
      scenarioDoc(P, [{ at: { time: 1 }, irq: 256 }]),
      'events[0].irq',
      /^`events\[0\]\.irq` must be at most 255, not 256$/,
    ],
    [
      'an event with both irq and nmi',
      scenarioDoc(P, [
        { at: { time: 1 }, irq: 32 },
        { at: { time: 1 }, irq: 32, nmi: true },
      ]),
      'events[1]',
      /give exactly one/,
    ],
    ['an event with neither', scenarioDoc(P, [{ at: { time: 1 } }]), 'events[0]', /give exactly one/],
    [
      'a negative time',
      scenarioDoc(P, [{ at: { time: -1 }, nmi: true }]),
      'events[0].at.time',
      /^`events\[0\]\.at\.time` must be at least 0, not -1$/,
    ],
    [
      'a step limit of 0',
      { ...base, limits: { steps: 0 } },
      'limits.steps',
      /^`limits\.steps` must be at least 1, not 0$/,
    ],
    ['a missing title', (({ title: _t, ...rest }) => rest)(base), 'title', /^missing field `title`$/],
    [
      'a name that is a number',
      { ...base, name: 5 },
      'name',
      /^`name` must be a string, not a number \(5\)$/,
    ],
    [
      'a fractional step limit',
      { ...base, limits: { steps: 1.5 } },
      'limits.steps',
      /^`limits\.steps` must be a whole number, not a number \(1\.5\)$/,
    ],
    [
      'a program that is a number',
      { ...base, levels: [{ kind: 'program', program: 5 }] },
      'levels[0].program',
      /^`levels\[0\]\.program` must be a string or an array, not a number \(5\)$/,
    ],
    [
      'a level without a program',
      { ...base, levels: [{ kind: 'program' }] },
      'levels[0].program',
      /^missing field `program`$/,
    ],
    [
      'a level without a kind',
      { ...base, levels: [{ program: P }] },
      'levels[0].kind',
      /^`levels\[0\]\.kind` must be one of program, kvm, xen \(it is missing\)$/,
    ],
    [
      'a parameter without a description',
      { ...base, params: { x: { type: 'number', default: 1 } } },
      'params.x.description',
      /^missing field `description`$/,
    ],
  ];
  it.each(cases)('%s', (_name, doc, where, message) => {
    const e = openError(doc);
    expect(e.kind).toBe('scenario');
    expect(e.where).toBe(where);
    expect(e.message).toMatch(message);
  });

  it('defaults are filled in: 64 KiB of memory, limits, no events', () => {
    const doc = {
      version: 1,
      name: 'x',
      title: 't',
      description: '',
      arch: 'svm',
      levels: [{ kind: 'program', program: P.join('\n') }],
    };
    const s = open(doc);
    expect(s.compiled.scenario.levels[0].memory).toBe(0x10000);
    expect(s.compiled.scenario.limits).toEqual({ steps: 1_000_000, time: 1e13 });
    expect(s.compiled.scenario.events).toEqual([]);
    expect(s.info().arch).toBe('svm');
  });

  it('more than one level is rejected for now, at levels[1]', () => {
    const e = openError({
      ...base,
      levels: [
        { kind: 'program', program: P },
        { kind: 'program', program: P },
      ],
    });
    expect(e.where).toBe('levels[1]');
  });
});

describe('program errors', () => {
  it('give kind "program", the level, line and column', () => {
    const e = openError(scenarioDoc(['start:', '  nop', '  movv rax, 1', ...STOP]));
    expect(e).toMatchObject({ kind: 'program', level: 0, line: 3, column: 3, where: 'L0 line 3, column 3' });
    expect(e.message).toMatch(/movv/);
  });

  it('count further errors in the message', () => {
    const e = openError(scenarioDoc(['start:', 'jmp nowhere', 'jmp elsewhere', ...STOP]));
    expect(e).toMatchObject({ line: 2, column: 5 });
    expect(e.message).toMatch(/undefined label 'nowhere' \(and 1 more\)/);
  });

  it('a program as one string keeps its line numbers', () => {
    const e = openError(scenarioDoc('start:\n  nop\n\n  bogus\n'));
    expect(e).toMatchObject({ kind: 'program', line: 4, column: 3 });
  });

  it('an image that leaves no room for the stack names the memory field', () => {
    const e = openError(
      scenarioDoc(P, [], {
        levels: [{ kind: 'program', program: [...P, 'big: .zero 0x1000'], memory: 0x3000 }],
      }),
    );
    expect(e.where).toBe('levels[0].memory');
    expect(e.message).toMatch(/no room for a stack/);
  });
});

describe('event triggers', () => {
  it('a label trigger naming a missing label is rejected at events[i].at.label', () => {
    const e = openError(scenarioDoc(P, [{ at: { level: 0, label: 'nope' }, nmi: true }]));
    expect(e).toMatchObject({ kind: 'scenario', where: 'events[0].at.label' });
    expect(e.message).toBe("L0's program has no label 'nope'");
  });

  it('a trigger or a target on a level that does not exist is rejected', () => {
    expect(openError(scenarioDoc(P, [{ at: { level: 1, label: 'start' }, nmi: true }])).where).toBe(
      'events[0].at.level',
    );
    expect(openError(scenarioDoc(P, [{ at: { time: 1 }, nmi: true, target: 1 }])).where).toBe(
      'events[0].target',
    );
  });

  it('timed events are sorted by time, ties in file order; label triggers resolve to addresses', () => {
    const s = open(
      scenarioDoc(P, [
        { at: { time: 30 }, irq: 0x30 },
        { at: { level: 0, label: 'start' }, nmi: true, note: 'go' },
        { at: { time: 10 }, irq: 0x31 },
        { at: { time: 30 }, nmi: true },
      ]),
    );
    expect(s.compiled.timed.map((t) => [t.time, t.index, t.vector, t.nmi])).toEqual([
      [10, 2, 0x31, false],
      [30, 0, 0x30, false],
      [30, 3, 2, true],
    ]);
    expect(s.compiled.triggers).toEqual([
      {
        index: 1,
        target: 0,
        nmi: true,
        vector: 2,
        note: 'go',
        level: 0,
        label: 'start',
        addr: 0x1000,
        after: 0,
      },
    ]);
  });
});

describe('limits.expectEnd (a run that ends before this label fails)', () => {
  const withEnd = (program: string[], expectEnd: unknown) =>
    scenarioDoc(program, [], { limits: { expectEnd } });

  it('a run that executes the label reaches its end, at the first step that did', () => {
    const s = open(withEnd(['start:', 'nop', 'done: cli', 'hlt'], { label: 'done' }));
    expect(s.info().expectedEnd).toEqual({ level: 0, label: 'done', line: 3, reached: true, step: 2 });
  });

  it('a run that halts before it does not, and says where the end was', () => {
    const s = open(withEnd(['start:', 'cli', 'hlt', 'done: nop', 'hlt'], { level: 0, label: 'done' }));
    expect(s.info().expectedEnd).toEqual({ level: 0, label: 'done', line: 4, reached: false, step: null });
  });

  it('without it there is nothing to reach', () => {
    expect(open(scenarioDoc(P)).info().expectedEnd).toBeNull();
  });

  it('a missing label, a label on no instruction, or a level that is not a program is rejected with its path', () => {
    expect(openError(withEnd(P, { label: 'nope' }))).toMatchObject({
      where: 'limits.expectEnd.label',
      message: "L0's program has no instruction at a label 'nope'",
    });
    expect(openError(withEnd([...P, 'tail:'], { label: 'tail' })).where).toBe('limits.expectEnd.label');
    expect(openError(withEnd(P, { level: 1, label: 'start' })).where).toBe('limits.expectEnd.level');
    expect(openError(withEnd(P, { label: 'start', extra: 1 })).where).toMatch(/^limits\.expectEnd/);
  });
});
