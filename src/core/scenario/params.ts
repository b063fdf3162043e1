// Scenario parameters: the variants of a scenario are parameters of the file, not copies of
// it. A string value "{{name}}" becomes the parameter's value (with its type); "{{name}}"
// inside a longer string is replaced by its text. In programs, `.if name` / `.if !name`,
// `.else` and `.endif` keep or drop lines (dropped lines stay as blank lines, so line numbers
// in errors and in the source view still match what the user wrote).
import { z } from 'zod';
import { ParamSchema, type Param, type ParamValue } from './schema';
import type { ParamInfo } from '../engine/view';
import { plainIssue } from './schema-messages';

export class ScenarioError extends Error {
  constructor(
    message: string,
    readonly where: string | null,
    readonly line?: number,
    readonly column?: number,
    readonly level?: number,
    readonly kind: 'scenario' | 'program' = 'scenario',
  ) {
    super(message);
    this.name = 'ScenarioError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(the document)';
}

export function readParams(raw: unknown): Record<string, Param> {
  const params = (raw as { params?: unknown })?.params ?? {};
  const r = z.record(z.string(), ParamSchema).safeParse(params);
  if (!r.success) {
    const { message, where } = plainIssue(r.error.issues[0], raw, ['params']);
    throw new ScenarioError(message, where);
  }
  return r.data;
}

function rangeText(p: Param): string {
  if (p.min !== undefined && p.max !== undefined) return `from ${p.min} to ${p.max}`;
  return p.min !== undefined ? `at least ${p.min}` : `at most ${p.max}`;
}

/** What the faces show of a parameter: its key, description, type, value and allowed values. */
export function paramInfo(key: string, p: Param, value: ParamValue): ParamInfo {
  return {
    key,
    description: p.description,
    type: p.type,
    value,
    ...(p.choices ? { choices: p.choices } : {}),
    ...(p.min !== undefined ? { min: p.min } : {}),
    ...(p.max !== undefined ? { max: p.max } : {}),
  };
}

/** Parse a value given on the command line or by the UI into the parameter's type. */
export function coerceParam(key: string, p: Param, v: ParamValue): ParamValue {
  let out: ParamValue;
  if (p.type === 'boolean') {
    if (typeof v === 'boolean') out = v;
    else if (v === 'true' || v === '1' || v === 1) out = true;
    else if (v === 'false' || v === '0' || v === 0) out = false;
    else
      throw new ScenarioError(
        `parameter '${key}' is a boolean: use true or false, not '${v}'`,
        `params.${key}`,
      );
  } else if (p.type === 'number') {
    out = typeof v === 'number' ? v : Number(v);
    if (typeof v === 'string' && (v.trim() === '' || !Number.isFinite(out)))
      throw new ScenarioError(`parameter '${key}' is a number: '${v}' is not one`, `params.${key}`);
  } else out = String(v);
  if (
    typeof out === 'number' &&
    ((p.min !== undefined && out < p.min) || (p.max !== undefined && out > p.max))
  )
    throw new ScenarioError(`parameter '${key}' must be ${rangeText(p)}; got ${out}`, `params.${key}`);
  if (p.choices && !p.choices.includes(out as string | number))
    throw new ScenarioError(
      `parameter '${key}' must be one of ${p.choices.map(String).join(', ')}; got '${String(out)}'`,
      `params.${key}`,
    );
  return out;
}

export function resolveParamValues(
  params: Record<string, Param>,
  overrides: Record<string, ParamValue> = {},
): Record<string, ParamValue> {
  const values: Record<string, ParamValue> = {};
  for (const [k, p] of Object.entries(params)) values[k] = p.default;
  for (const [k, v] of Object.entries(overrides)) {
    const p = params[k];
    if (!p) {
      const known = Object.keys(params);
      throw new ScenarioError(
        `unknown parameter '${k}'; this scenario has ${known.length ? known.join(', ') : 'no parameters'}`,
        `params.${k}`,
      );
    }
    values[k] = coerceParam(k, p, v);
  }
  return values;
}

const WHOLE = /^\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}$/;
const INNER = /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/g;

/** Replace {{name}} everywhere in the document except its `params` declarations. */
export function substitute(
  doc: unknown,
  values: Record<string, ParamValue>,
  path: PropertyKey[] = [],
): unknown {
  if (typeof doc === 'string') {
    const m = WHOLE.exec(doc);
    const lookup = (name: string): ParamValue => {
      if (!(name in values))
        throw new ScenarioError(`'{{${name}}}' names no declared parameter`, formatPath(path));
      return values[name];
    };
    if (m) return lookup(m[1]);
    return doc.replace(INNER, (_, name: string) => {
      const v = lookup(name);
      return typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    });
  }
  if (Array.isArray(doc)) return doc.map((d, i) => substitute(d, values, [...path, i]));
  if (doc && typeof doc === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) {
      out[k] = path.length === 0 && k === 'params' ? v : substitute(v, values, [...path, k]);
    }
    return out;
  }
  return doc;
}

/** Whether a `when` condition ("name" or "!name") holds. */
export function conditionHolds(when: string, values: Record<string, ParamValue>, where: string): boolean {
  // "a & !b": every term must hold.
  return when.split('&').every((term) => {
    const t = term.trim();
    const neg = t.startsWith('!');
    const name = neg ? t.slice(1).trim() : t;
    if (!(name in values)) throw new ScenarioError(`'${name}' names no declared parameter`, where);
    return Boolean(values[name]) !== neg;
  });
}

/**
 * Apply `.if`/`.else`/`.endif` to a program's lines. Errors carry the line and column.
 */
export function preprocessProgram(
  lines: string[],
  values: Record<string, ParamValue>,
  level: number,
  where: string,
): string[] {
  const out: string[] = [];
  const stack: { keep: boolean; parentKeep: boolean; line: number; sawElse: boolean }[] = [];
  const keeping = () => (stack.length ? stack[stack.length - 1].keep : true);
  lines.forEach((text, i) => {
    const t = text
      .trim()
      .replace(/[;#].*$/, '')
      .trim();
    const col = text.indexOf(t) + 1;
    const err = (msg: string): never => {
      throw new ScenarioError(msg, `${where}, line ${i + 1}`, i + 1, col, level, 'program');
    };
    if (/^\.if\b/i.test(t)) {
      const cond = t.slice(3).trim();
      if (!/^!?[a-z_][a-z0-9_]*$/.test(cond))
        err(`'.if' needs a parameter name, like '.if gap' or '.if !gap'`);
      const name = cond.replace(/^!/, '');
      if (!(name in values)) err(`'.if ${cond}': no parameter named '${name}'`);
      const parentKeep = keeping();
      stack.push({
        keep: parentKeep && conditionHolds(cond, values, where),
        parentKeep,
        line: i + 1,
        sawElse: false,
      });
      out.push('');
    } else if (/^\.else$/i.test(t)) {
      const top = stack[stack.length - 1];
      if (!top || top.sawElse) err(`'.else' without a matching '.if'`);
      top.sawElse = true;
      top.keep = top.parentKeep && !top.keep;
      out.push('');
    } else if (/^\.endif$/i.test(t)) {
      if (!stack.pop()) err(`'.endif' without a matching '.if'`);
      out.push('');
    } else out.push(keeping() ? text : '');
  });
  if (stack.length) {
    const top = stack[stack.length - 1];
    throw new ScenarioError(
      `'.if' on line ${top.line} has no '.endif'`,
      `${where}, line ${top.line}`,
      top.line,
      1,
      level,
      'program',
    );
  }
  return out;
}
