// Schema errors in plain words: the validation library's issue (its code, path and bounds)
// turned into "missing field `title`" or "`levels[1].kind` must be one of program, kvm", with
// the value the file holds there, so that a scenario's author sees what to change.
import type { z } from 'zod';
import { formatPath } from './params';

type Issue = z.core.$ZodIssue;

/** The value the document holds at `path`, or undefined. */
function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let v = doc;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k as string];
  }
  return v;
}

function article(kind: string): string {
  if (kind === 'int') return 'a whole number';
  if (kind === 'array' || kind === 'object') return `an ${kind}`;
  return `a ${kind}`;
}

/** How a JSON value reads in a message: "a number (5)", "null", "an array". */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${article(typeof v)} (${String(v)})`;
}

function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** The plain message and the path it belongs to, for the first issue of a failed parse. */
export function plainIssue(
  issue: Issue,
  doc: unknown,
  prefix: PropertyKey[] = [],
): { message: string; where: string } {
  const path = [...prefix, ...issue.path];
  const where = formatPath(path);
  const field = `\`${where}\``;
  const value = valueAt(doc, path);
  const missing = value === undefined;
  const last = path[path.length - 1];
  switch (issue.code) {
    case 'invalid_type':
      if (missing) return { message: `missing field \`${String(last ?? where)}\``, where };
      return { message: `${field} must be ${article(issue.expected)}, not ${describe(value)}`, where };
    case 'invalid_union': {
      if ('options' in issue && Array.isArray(issue.options) && issue.options.length > 0) {
        const options = issue.options.map(String).join(', ');
        return {
          message: `${field} must be one of ${options}${missing ? ' (it is missing)' : `, not ${shown(value)}`}`,
          where,
        };
      }
      if (missing) return { message: `missing field \`${String(last ?? where)}\``, where };
      const kinds = issue.errors.map((es) => {
        const first = es[0];
        return first?.code === 'invalid_type' && first.path.length === 0 ? first.expected : null;
      });
      if (kinds.every((k) => k !== null))
        return {
          message: `${field} must be ${kinds.map((k) => article(k!)).join(' or ')}, not ${describe(value)}`,
          where,
        };
      return { message: `${field} is not valid here (${issue.message})`, where };
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => shown(v));
      const want = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      return { message: `${field} must be ${want}, not ${missing ? 'missing' : shown(value)}`, where };
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : issue.maximum);
      const strict = !issue.inclusive;
      const cmp = small ? (strict ? 'greater than' : 'at least') : strict ? 'less than' : 'at most';
      if (issue.origin === 'array')
        return { message: `${field} needs ${cmp} ${bound} item${bound === 1 ? '' : 's'}`, where };
      if (issue.origin === 'string')
        return {
          message:
            small && bound === 1 ? `${field} must not be empty` : `${field} needs ${cmp} ${bound} characters`,
          where,
        };
      return { message: `${field} must be ${cmp} ${bound}, not ${shown(value)}`, where };
    }
    case 'unrecognized_keys': {
      const keys = issue.keys.map((k) => `\`${k}\``).join(', ');
      const inWhat = path.length ? ` in ${field}` : '';
      const childWhere = formatPath([...path, issue.keys[0]]);
      return {
        message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}${inWhat}`,
        where: childWhere,
      };
    }
    default:
      // Our own refinements (code "custom") already speak plainly.
      return { message: issue.message, where };
  }
}
