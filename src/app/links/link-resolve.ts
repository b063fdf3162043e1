// Between a link's text and the lab's requests: a built-in's parameters are typed and checked
// against what the built-in declares (so a link with a typo says which field is wrong before
// anything is loaded), and the run on screen is written back as a link scenario.
import type { ParamInfo } from '../../core/engine/view';
import type { BuiltinScenarioInfo, LoadRequest } from '../../worker/protocol';
import { documentWithParamValues } from '../share';
import type { ParamValue } from '../store/types';
import type { LinkError, LinkScenario } from './link-format';

export type Resolved = { ok: true; request: LoadRequest } | { ok: false; error: LinkError };

function typed(p: ParamInfo, text: string): ParamValue | string {
  if (p.type === 'boolean') {
    if (text === '1' || text === 'true') return true;
    if (text === '0' || text === 'false') return false;
    return `'${text.slice(0, 20)}' is not a boolean (1 or 0)`;
  }
  if (p.type === 'number') {
    const n = /^-?(0x[0-9a-f]+|\d+(\.\d+)?)$/i.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(n)) return `'${text.slice(0, 20)}' is not a number`;
    if ((p.min !== undefined && n < p.min) || (p.max !== undefined && n > p.max)) {
      return `${n} is outside ${p.min ?? '…'} to ${p.max ?? '…'}`;
    }
    if (p.choices && p.choices.length > 0 && !p.choices.includes(n)) {
      return `${n} is not one of ${p.choices.join(', ')}`;
    }
    return n;
  }
  if (p.choices && p.choices.length > 0 && !p.choices.includes(text)) {
    return `'${text.slice(0, 40)}' is not one of ${p.choices.join(', ')}`;
  }
  return text;
}

/** The load request a link's scenario stands for, or what is wrong with it (and where). */
export function resolveLinkScenario(
  scenario: LinkScenario,
  builtins: readonly BuiltinScenarioInfo[],
): Resolved {
  if ('json' in scenario) return { ok: true, request: { json: scenario.json } };
  const b = builtins.find((x) => x.name === scenario.builtin);
  if (!b) {
    return {
      ok: false,
      error: { field: 'builtin', message: `this nestlab has no built-in named '${scenario.builtin}'` },
    };
  }
  const params: Record<string, ParamValue> = {};
  for (const [key, text] of Object.entries(scenario.params)) {
    const p = b.params.find((x) => x.key === key);
    if (!p) {
      const known = b.params.map((x) => x.key).join(', ') || 'none';
      return {
        ok: false,
        error: {
          field: key,
          message: `the built-in '${b.name}' has no parameter '${key}' (its parameters: ${known})`,
        },
      };
    }
    const value = typed(p, text);
    if (typeof value === 'string' && p.type !== 'string')
      return { ok: false, error: { field: key, message: value } };
    if (p.type === 'string' && value !== text)
      return { ok: false, error: { field: key, message: String(value) } };
    params[key] = value;
  }
  return {
    ok: true,
    request: Object.keys(params).length > 0 ? { builtin: b.name, params } : { builtin: b.name },
  };
}

function paramText(value: ParamValue): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

/**
 * The run on screen as a link scenario: a built-in by name with the parameters that differ
 * from its defaults; anything else as its document, the values on screen made its defaults.
 */
export function linkScenarioOf(
  request: LoadRequest,
  scenarioJson: string,
  params: readonly { key: string; value: ParamValue }[],
  builtins: readonly BuiltinScenarioInfo[],
): LinkScenario {
  if ('builtin' in request) {
    const b = builtins.find((x) => x.name === request.builtin);
    const out: Record<string, string> = {};
    for (const { key, value } of params) {
      const dflt = b?.params.find((p) => p.key === key)?.value;
      if (dflt !== value) out[key] = paramText(value);
    }
    return { builtin: request.builtin, params: out };
  }
  return { json: documentWithParamValues(scenarioJson, params) };
}

/** Two link scenarios are the same run (same built-in and parameters, or the same document). */
export function sameLinkScenario(a: LinkScenario, b: LinkScenario): boolean {
  if ('json' in a || 'json' in b) return 'json' in a && 'json' in b && a.json === b.json;
  if (a.builtin !== b.builtin) return false;
  const ka = Object.keys(a.params).sort();
  const kb = Object.keys(b.params).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a.params[k] === b.params[k]);
}

/**
 * The compare view's parameters (the link's `cmp` fields, or the menu's choice), typed as the
 * scenario on screen declares them, or what is wrong with one (and which).
 */
export function typeCompareParams(
  texts: Record<string, string>,
  params: readonly ParamInfo[],
): { ok: true; params: Record<string, ParamValue> } | { ok: false; error: LinkError } {
  const out: Record<string, ParamValue> = {};
  for (const [i, [key, text]] of Object.entries(texts).entries()) {
    const field = `cmp (parameter ${i + 1})`;
    const p = params.find((x) => x.key === key);
    if (!p) {
      const known = params.map((x) => x.key).join(', ') || 'none';
      return {
        ok: false,
        error: { field, message: `the scenario has no parameter '${key}' (its parameters: ${known})` },
      };
    }
    const value = typed(p, text);
    if (typeof value === 'string' && (p.type !== 'string' || value !== text))
      return { ok: false, error: { field, message: `${key}: ${value}` } };
    out[key] = value;
  }
  return { ok: true, params: out };
}
