// Scenario parameters: declarations, overrides and their coercion, {{name}} substitution,
// .if/.else/.endif in programs, and `when` on events.
import { describe, expect, it } from 'vitest';
import { coerceParam } from '../../../src/core/scenario/params';
import type { Param } from '../../../src/core/scenario/schema';
import { type EventSpec, STOP, deliveries, label, open, openError, reg, scenarioDoc } from '../helpers';

type Decl = {
  type: 'boolean' | 'number' | 'string';
  default: boolean | number | string;
  description?: string;
  choices?: (string | number)[];
  min?: number;
  max?: number;
};

function doc(
  params: Record<string, Decl>,
  program: string[],
  events: EventSpec[] = [],
): Record<string, unknown> {
  const full = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, { description: '', ...p }]));
  return { ...scenarioDoc(program, events), params: full };
}

const FLAG = { flag: { type: 'boolean', default: false } } as const;

describe('declarations and overrides', () => {
  it('an unknown parameter names itself and lists the known ones', () => {
    expect(openError(doc({}, ['start:', ...STOP]), { nope: 1 })).toMatchObject({
      kind: 'scenario',
      where: 'params.nope',
      message: "unknown parameter 'nope'; this scenario has no parameters",
    });
    expect(
      openError(
        doc({ a: { type: 'number', default: 1 }, b: { type: 'number', default: 2 } }, ['start:', ...STOP]),
        { c: 1 },
      ).message,
    ).toBe("unknown parameter 'c'; this scenario has a, b");
  });

  it('a default of the wrong type is rejected at params.<name>.default', () => {
    expect(openError(doc({ x: { type: 'number', default: true } }, ['start:', ...STOP])).where).toBe(
      'params.x.default',
    );
  });

  it('values are coerced to the declared type', () => {
    const b = { type: 'boolean', default: false, description: '' } as const;
    for (const v of [true, 'true', '1', 1]) expect(coerceParam('b', b, v)).toBe(true);
    for (const v of [false, 'false', '0', 0]) expect(coerceParam('b', b, v)).toBe(false);
    expect(() => coerceParam('b', b, 'yes')).toThrow(
      "parameter 'b' is a boolean: use true or false, not 'yes'",
    );
    const n = { type: 'number', default: 0, description: '' } as const;
    expect(coerceParam('n', n, '42')).toBe(42);
    expect(coerceParam('n', n, ' 7 ')).toBe(7);
    expect(coerceParam('n', n, '0x10')).toBe(16);
    expect(() => coerceParam('n', n, 'abc')).toThrow("parameter 'n' is a number: 'abc' is not one");
    expect(() => coerceParam('n', n, '')).toThrow(/is not one/);
    const s = { type: 'string', default: '', description: '' } as const;
    expect(coerceParam('s', s, 5)).toBe('5');
    const c: Param = { type: 'number', default: 1, description: '', choices: [1, 2] };
    expect(coerceParam('c', c, '2')).toBe(2);
    expect(() => coerceParam('c', c, '3')).toThrow("parameter 'c' must be one of 1, 2; got '3'");
  });

  it('an invalid override is reported at params.<name>', () => {
    expect(openError(doc(FLAG, ['start:', ...STOP]), { flag: 'maybe' })).toMatchObject({
      kind: 'scenario',
      where: 'params.flag',
    });
  });

  it('a number outside min..max is refused at params.<name>, naming the range', () => {
    const r: Param = { type: 'number', default: 5, description: '', min: 1, max: 10 };
    expect(coerceParam('r', r, '1')).toBe(1);
    expect(coerceParam('r', r, 10)).toBe(10);
    expect(() => coerceParam('r', r, 0)).toThrow("parameter 'r' must be from 1 to 10; got 0");
    expect(() => coerceParam('r', r, '11')).toThrow('must be from 1 to 10; got 11');
    expect(() => coerceParam('lo', { ...r, max: undefined }, -1)).toThrow('must be at least 1; got -1');
    expect(() => coerceParam('hi', { ...r, min: undefined }, 99)).toThrow('must be at most 10; got 99');
    const d = doc({ n: { type: 'number', default: 2, min: 1, max: 3 } }, ['start:', ...STOP]);
    expect(openError(d, { n: 4 })).toMatchObject({ kind: 'scenario', where: 'params.n' });
    expect(open(d).info().params[0]).toMatchObject({ min: 1, max: 3, value: 2 });
  });

  it('a range on a non-number parameter, or a default outside it, is rejected in the file', () => {
    expect(
      openError(doc({ b: { type: 'boolean', default: false, min: 0 } }, ['start:', ...STOP])).where,
    ).toBe('params.b.min');
    expect(openError(doc({ n: { type: 'number', default: 0, min: 1 } }, ['start:', ...STOP])).where).toBe(
      'params.n.default',
    );
  });

  it('info lists the parameters with their values', () => {
    const s = open(
      doc({ n: { type: 'number', default: 3, choices: [3, 4] }, ...FLAG }, ['start:', ...STOP]),
      { n: '4' },
    );
    expect(s.info().params).toEqual([
      { key: 'n', description: '', type: 'number', value: 4, choices: [3, 4] },
      { key: 'flag', description: '', type: 'boolean', value: false },
    ]);
  });
});

describe('{{name}} substitution', () => {
  it('a whole-string "{{name}}" becomes the typed value (an event time)', () => {
    const d = doc({ t: { type: 'number', default: 500 } }, [
      'start:',
      'work 1000',
      ...STOP,
      '.intgate 2, h',
      'h: iretq',
    ]);
    d.events = [{ at: { time: '{{t}}' }, nmi: true }];
    expect(deliveries(open(d))[0].time).toBe(501);
    expect(deliveries(open(d, { t: 700 }))[0].time).toBe(701);
  });

  it('inside program lines, {{name}} is replaced by its text; booleans as 1 and 0', () => {
    const d = doc({ n: { type: 'number', default: 5 }, ...FLAG }, [
      'start:',
      'mov eax, {{ n }}',
      'mov ebx, {{flag}}',
      ...STOP,
    ]);
    expect(reg(open(d), 'rax')).toBe(5n);
    expect(reg(open(d, { n: 9, flag: true }), 'rax')).toBe(9n);
    expect(reg(open(d, { flag: true }), 'rbx')).toBe(1n);
  });

  it('a name that is not declared is an error at its path', () => {
    expect(openError(doc({}, ['start:', 'mov eax, {{b}}', ...STOP]))).toMatchObject({
      where: 'levels[0].program[1]',
      message: "'{{b}}' names no declared parameter",
    });
  });

  it('declarations themselves are not substituted', () => {
    const s = open(doc({ s: { type: 'string', default: '{{s}}' } }, ['start:', ...STOP]));
    expect(s.compiled.values.s).toBe('{{s}}');
  });
});

describe('.if / .else / .endif', () => {
  const program = [
    'start:',
    '.if flag',
    'mov eax, 1',
    '.else',
    'mov eax, 2',
    '.endif',
    'mov ebx, 3',
    ...STOP,
  ];

  it('keeps one branch or the other', () => {
    expect(reg(open(doc(FLAG, program)), 'rax')).toBe(2n);
    expect(reg(open(doc(FLAG, program), { flag: true }), 'rax')).toBe(1n);
    expect(reg(open(doc(FLAG, ['start:', '.if !flag', 'mov eax, 7', '.endif', ...STOP])), 'rax')).toBe(7n);
  });

  it('nests', () => {
    const p = [
      'start:',
      '.if flag',
      '.if other',
      'mov eax, 1',
      '.else',
      'mov eax, 2',
      '.endif',
      '.else',
      'mov eax, 3',
      '.endif',
      ...STOP,
    ];
    const d = doc({ ...FLAG, other: { type: 'boolean', default: false } }, p);
    expect(reg(open(d), 'rax')).toBe(3n);
    expect(reg(open(d, { flag: true }), 'rax')).toBe(2n);
    expect(reg(open(d, { flag: true, other: true }), 'rax')).toBe(1n);
  });

  it('keeps line numbers: dropped lines stay as blank lines', () => {
    const s = open(doc(FLAG, program));
    const lines = s.compiled.programs[0].instrs.map((i) => [i.line, i.text]);
    expect(lines.slice(0, 2)).toEqual([
      [5, 'mov eax, 2'],
      [7, 'mov ebx, 3'],
    ]);
    const e = openError(doc(FLAG, ['start:', '.if flag', 'nop', '.endif', 'bogus']));
    expect(e).toMatchObject({ kind: 'program', line: 5, column: 1 });
  });

  it('reports unbalanced and malformed blocks with level, line and column', () => {
    const err = (p: string[]) => openError(doc(FLAG, p));
    expect(err(['start:', '  .endif', ...STOP])).toMatchObject({
      kind: 'program',
      level: 0,
      line: 2,
      column: 3,
      message: "'.endif' without a matching '.if'",
    });
    expect(err(['start:', '.else', ...STOP])).toMatchObject({
      line: 2,
      message: "'.else' without a matching '.if'",
    });
    expect(err(['start:', '.if flag', '.else', '.else', '.endif', ...STOP])).toMatchObject({
      line: 4,
      message: "'.else' without a matching '.if'",
    });
    expect(err(['start:', 'nop', '.if flag', 'nop', ...STOP])).toMatchObject({
      line: 3,
      message: "'.if' on line 3 has no '.endif'",
    });
    expect(err(['start:', '.if nope', '.endif', ...STOP])).toMatchObject({
      line: 2,
      message: "'.if nope': no parameter named 'nope'",
    });
    expect(err(['start:', '.if flag extra', '.endif', ...STOP]).message).toMatch(/needs a parameter name/);
  });
});

describe('when on events', () => {
  const p = ['start:', 'work 100', ...STOP, '.intgate 2, h', 'h: iretq'];
  const events: EventSpec[] = [
    { at: { time: 10 }, nmi: true, when: 'flag' },
    { at: { time: 50 }, nmi: true, when: '!flag' },
  ];

  it('keeps an event only when its parameter is true ("name") or false ("!name")', () => {
    expect(deliveries(open(doc(FLAG, p, events))).map((d) => d.time)).toEqual([51]);
    expect(deliveries(open(doc(FLAG, p, events), { flag: true })).map((d) => d.time)).toEqual([11]);
  });

  it('a when naming no parameter is rejected at events[i].when', () => {
    expect(openError(doc(FLAG, p, [{ at: { time: 1 }, nmi: true, when: 'nope' }]))).toMatchObject({
      where: 'events[0].when',
      message: "'nope' names no declared parameter",
    });
  });

  it('a label trigger fires on the label of the branch that .if kept', () => {
    const prog = [
      'start:',
      '.if flag',
      'x: nop',
      '.else',
      'nop',
      'x: nop',
      '.endif',
      ...STOP,
      '.intgate 2, h',
      'h: iretq',
    ];
    const s = open(doc(FLAG, prog, [{ at: { level: 0, label: 'x' }, nmi: true }]));
    expect(deliveries(s)[0].rip).toBe(label(s, 'x'));
    expect(label(s, 'x')).toBe(0x1001);
  });
});
