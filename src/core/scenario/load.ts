// From scenario text to a compiled scenario the engine runs: parse, apply parameters,
// validate against the schema, assemble every program, resolve event triggers.
import { assemble } from '../asm';
import { jsonErrorOffset } from './json-position';
import { Op, type Program } from '../asm/ir';
import {
  ScenarioError,
  conditionHolds,
  formatPath,
  preprocessProgram,
  readParams,
  resolveParamValues,
  substitute,
} from './params';
import { ScenarioSchema, type Param, type ParamValue, type Scenario } from './schema';

export interface ExternalRaise {
  /** Index in the scenario's `events` array. */
  index: number;
  target: number;
  nmi: boolean;
  vector: number;
  note: string | null;
}

export interface TimedRaise extends ExternalRaise {
  time: number;
}

export interface LabelRaise extends ExternalRaise {
  level: number;
  label: string;
  addr: number;
}

/**
 * An execution level as the timeline and panels show it: a program level's root operation,
 * the guest that program runs in VMX non-root operation (kvm-unit-tests style, same program
 * and memory), or a level run by a built-in hypervisor model.
 */
export interface LaneInfo {
  name: string;
  kind: 'program' | 'guest';
  /** Index in the scenario's `levels`. */
  level: number;
  /** Index in `programs` of the code this lane runs. */
  program: number;
}

export interface CompiledScenario {
  lanes: LaneInfo[];
  scenario: Scenario;
  params: Record<string, Param>;
  values: Record<string, ParamValue>;
  programs: Program[];
  /** Each program's lines as written, before `.if` blocks were applied. */
  sources: string[][];
  /** Timed events sorted by time (ties keep file order). */
  timed: TimedRaise[];
  triggers: LabelRaise[];
}

/** Parse JSON text, reporting the line and column of a syntax error. */
export function parseScenarioText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const lc = /line (\d+) column (\d+)/.exec(msg);
    let line: number | undefined, column: number | undefined;
    if (lc) {
      line = Number(lc[1]);
      column = Number(lc[2]);
    } else {
      // V8 gives no position for "Unexpected token 'x', ... is not valid JSON": find it.
      const pos = m ? Number(m[1]) : jsonErrorOffset(text);
      if (pos !== null) {
        const before = text.slice(0, pos);
        line = before.split('\n').length;
        column = pos - before.lastIndexOf('\n');
      }
    }
    const clean = msg
      .replace(/^JSON\.parse: /, '')
      .replace(/ (in JSON )?at position \d+.*$/, '')
      .replace(/, (\.\.\.)?".*" is not valid JSON$/s, '');
    throw new ScenarioError(
      `the scenario is not valid JSON: ${clean}`,
      line !== undefined ? `line ${line}, column ${column}` : null,
      line,
      column,
    );
  }
}

export function programLines(p: string | string[]): string[] {
  return Array.isArray(p) ? p : p.split(/\r?\n/);
}

export function compileScenario(raw: unknown, overrides: Record<string, ParamValue> = {}): CompiledScenario {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ScenarioError('a scenario is a JSON object', null);
  }
  const params = readParams(raw);
  const values = resolveParamValues(params, overrides);
  const resolved = substitute(raw, values);
  const r = ScenarioSchema.safeParse(resolved);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ScenarioError(issue.message, formatPath(issue.path));
  }
  const scenario = r.data;
  // This version of the lab models bare metal only: one level that owns the physical CPU.
  if (scenario.levels.length > 1) {
    throw new ScenarioError(
      'this version of the lab runs one level (bare metal); hypervisor levels come with VMX and SVM support',
      'levels[1]',
    );
  }
  const sources = scenario.levels.map((lv) => programLines(lv.program));
  const programs = scenario.levels.map((lv, i) => {
    const where = `levels[${i}].program`;
    const lines = preprocessProgram(programLines(lv.program), values, i, where);
    const result = assemble(lines.join('\n'));
    if (!result.ok) {
      const e = result.errors[0];
      const more = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : '';
      throw new ScenarioError(
        `${e.message}${more}`,
        `L${i} line ${e.line}, column ${e.column}`,
        e.line,
        e.column,
        i,
        'program',
      );
    }
    const prog = result.program;
    if (prog.end + 64 > lv.memory) {
      throw new ScenarioError(
        `the program image ends at 0x${prog.end.toString(16)}, leaving no room for a stack in 0x${lv.memory.toString(16)} bytes of memory`,
        `levels[${i}].memory`,
      );
    }
    return prog;
  });
  const timed: TimedRaise[] = [];
  const triggers: LabelRaise[] = [];
  scenario.events.forEach((ev, index) => {
    const where = `events[${index}]`;
    if (ev.when !== undefined && !conditionHolds(ev.when, values, `${where}.when`)) return;
    if (ev.target >= scenario.levels.length) {
      throw new ScenarioError(
        `target level ${ev.target} does not exist (the stack has ${scenario.levels.length})`,
        `${where}.target`,
      );
    }
    const base: ExternalRaise = {
      index,
      target: ev.target,
      nmi: ev.nmi === true,
      vector: ev.nmi ? 2 : ev.irq!,
      note: ev.note ?? null,
    };
    if ('time' in ev.at) timed.push({ ...base, time: ev.at.time });
    else {
      const { level, label } = ev.at;
      if (level >= programs.length)
        throw new ScenarioError(`level ${level} does not exist`, `${where}.at.level`);
      const addr = programs[level].labels[label];
      if (addr === undefined)
        throw new ScenarioError(`L${level}'s program has no label '${label}'`, `${where}.at.label`);
      triggers.push({ ...base, level, label, addr });
    }
  });
  timed.sort((a, b) => a.time - b.time || a.index - b.index);
  const lanes: LaneInfo[] = [];
  scenario.levels.forEach((lv, i) => {
    lanes.push({
      name: `L${lanes.length} · ${lv.name ?? 'bare metal'}`,
      kind: 'program',
      level: i,
      program: i,
    });
    // A program that enters a guest (VMLAUNCH/VMRESUME) holds the guest's code too.
    const entersGuest = programs[i].instrs.some((ins) => ins.op === Op.VMLAUNCH || ins.op === Op.VMRESUME);
    if (entersGuest)
      lanes.push({
        name: `L${lanes.length} · guest of L${lanes.length - 1}`,
        kind: 'guest',
        level: i,
        program: i,
      });
  });
  return { scenario, params, values, programs, sources, timed, triggers, lanes };
}

export function compileScenarioText(
  text: string,
  overrides: Record<string, ParamValue> = {},
): CompiledScenario {
  return compileScenario(parseScenarioText(text), overrides);
}
