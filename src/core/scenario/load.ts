// From scenario text to a compiled scenario the engine runs: parse, apply parameters,
// validate against the schema, assemble every program, resolve event triggers.
import { assemble } from '../asm';
import { jsonErrorOffset } from './json-position';
import { DEFAULT_ORIGIN, Op, type Program } from '../asm/ir';
import {
  ScenarioError,
  conditionHolds,
  preprocessProgram,
  readParams,
  resolveParamValues,
  substitute,
} from './params';
import { ScenarioSchema, type Param, type ParamValue, type Scenario } from './schema';
import { plainIssue } from './schema-messages';

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
  /** Cycles between reaching the label and the raise (0: at once). */
  after: number;
}

/**
 * An execution level as the timeline and panels show it: a program level's root operation,
 * the guest that program runs in VMX non-root operation (kvm-unit-tests style, same program
 * and memory), or a level run by a built-in hypervisor model.
 */
export interface LaneInfo {
  name: string;
  /** 'program': runs in root operation (or bare metal); 'guest': runs in VMX non-root operation; 'kvm': the KVM model; 'xen': the Xen model. */
  kind: 'program' | 'guest' | 'kvm' | 'xen';
  /** Index in the scenario's `levels`. */
  level: number;
  /** Index in `programs` of the code this lane runs. */
  program: number;
}

/** limits.expectEnd, resolved: the instruction a finished run must have executed. */
export interface ExpectedEnd {
  level: number;
  label: string;
  addr: number;
  line: number;
}

export interface CompiledScenario {
  lanes: LaneInfo[];
  expectedEnd: ExpectedEnd | null;
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
    const { message, where } = plainIssue(r.error.issues[0], resolved);
    throw new ScenarioError(message, where);
  }
  // Levels with `when` stay in the stack only when their condition holds: a variant may change
  // the stack (a program hypervisor at L1, or KVM at L1 with a guest above it). `orig` maps a
  // level to its index in the file, for error paths.
  const orig: number[] = [];
  const scenario = {
    ...r.data,
    levels: r.data.levels.filter((lv, i) => {
      const keep = lv.when === undefined || conditionHolds(lv.when, values, `levels[${i}].when`);
      if (keep) orig.push(i);
      return keep;
    }),
  };
  if (scenario.levels.length === 0)
    throw new ScenarioError(
      'no level is left for these parameters (every level has a false "when")',
      'levels',
    );
  checkStack(scenario, orig);
  const sources = scenario.levels.map((lv) => (lv.kind === 'program' ? programLines(lv.program) : []));
  const programs = scenario.levels.map((lv, i) => {
    if (lv.kind !== 'program') return emptyProgram();
    const where = `levels[${orig[i]}].program`;
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
        `levels[${orig[i]}].memory`,
      );
    }
    return prog;
  });
  checkProgramsBelow(scenario, programs, orig);
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
    if (ev.target > 0 && scenario.levels[ev.target - 1].kind === 'program') {
      throw new ScenarioError(
        `level ${ev.target}'s interrupt controller would be emulated by L${ev.target - 1}, a program, which emulates none: raise it at level 0 (the physical APIC) or at a level run by KVM or Xen`,
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
    if ('time' in ev.at) {
      if (ev.every === undefined) timed.push({ ...base, time: ev.at.time });
      else {
        const until = ev.until ?? scenario.limits.time;
        const count = Math.floor((until - ev.at.time) / ev.every) + 1;
        if (count > MAX_PERIODIC)
          throw new ScenarioError(
            `raises ${count} events; at most ${MAX_PERIODIC}: give a larger "every" or an earlier "until"`,
            `${where}.every`,
          );
        for (let k = 0; k < count; k++) timed.push({ ...base, time: ev.at.time + k * ev.every });
      }
    } else if (ev.every !== undefined) {
      throw new ScenarioError('"every" needs a start time ("at": { "time": … })', `${where}.every`);
    } else {
      const { level, label, after = 0 } = ev.at;
      if (level >= programs.length)
        throw new ScenarioError(`level ${level} does not exist`, `${where}.at.level`);
      const addr = programs[level].labels[label];
      if (addr === undefined)
        throw new ScenarioError(`L${level}'s program has no label '${label}'`, `${where}.at.label`);
      triggers.push({ ...base, level, label, addr, after });
    }
  });
  timed.sort((a, b) => a.time - b.time || a.index - b.index);
  const lanes: LaneInfo[] = [];
  scenario.levels.forEach((lv, i) => {
    if (lv.kind === 'kvm') {
      lanes.push({ name: `L${lanes.length} · ${lv.name ?? 'KVM'}`, kind: 'kvm', level: i, program: i });
      return;
    }
    if (lv.kind === 'xen') {
      lanes.push({ name: `L${lanes.length} · ${lv.name ?? 'Xen'}`, kind: 'xen', level: i, program: i });
      return;
    }
    lanes.push({
      name: `L${lanes.length} · ${lv.name ?? (i > 0 ? 'guest' : 'bare metal')}`,
      kind: i > 0 ? 'guest' : 'program',
      level: i,
      program: i,
    });
    // A program that enters a guest (VMLAUNCH/VMRESUME) holds the guest's code too; under KVM
    // that guest is the next level up (L2), run through KVM's nested VMX.
    if (entersGuest(programs[i]) && i === scenario.levels.length - 1)
      lanes.push({
        name: `L${lanes.length} · guest of L${lanes.length - 1}`,
        kind: 'guest',
        level: i,
        program: i,
      });
  });
  return {
    scenario,
    params,
    values,
    programs,
    sources,
    timed,
    triggers,
    lanes,
    expectedEnd: resolveExpectedEnd(scenario, programs),
  };
}

function resolveExpectedEnd(scenario: Scenario, programs: Program[]): ExpectedEnd | null {
  const want = scenario.limits.expectEnd;
  if (!want) return null;
  const { level, label } = want;
  if (level >= scenario.levels.length || scenario.levels[level].kind !== 'program')
    throw new ScenarioError(`level ${level} is not a program`, 'limits.expectEnd.level');
  const addr = programs[level].labels[label];
  const ins = programs[level].instrs.find((i) => i.addr === addr);
  if (addr === undefined || !ins)
    throw new ScenarioError(
      `L${level}'s program has no instruction at a label '${label}'`,
      'limits.expectEnd.label',
    );
  return { level, label, addr, line: ins.line };
}

export function compileScenarioText(
  text: string,
  overrides: Record<string, ParamValue> = {},
): CompiledScenario {
  return compileScenario(parseScenarioText(text), overrides);
}

/** Periodic events expand to at most this many raises. */
const MAX_PERIODIC = 100_000;

function entersGuest(p: Program): boolean {
  return p.instrs.some((ins) => ins.op === Op.VMLAUNCH || ins.op === Op.VMRESUME || ins.op === Op.VMRUN);
}

/** The deepest stack of levels the lab runs (lanes, with a program's own guest). */
export const MAX_LANES = 8;

/**
 * The stacks the lab runs: KVM or a program at any level, a program at the top (bare metal,
 * a guest, or a hypervisor whose guest is in the same program, kvm-unit-tests style). A
 * program below another level must be a hypervisor (checkProgramsBelow): it runs the level
 * above as its guest and emulates VMX for it if that level is KVM.
 */
function checkStack(scenario: Scenario, orig: number[]): void {
  const levels = scenario.levels;
  const last = levels.length - 1;
  if (levels[last].kind === 'kvm')
    throw new ScenarioError(`KVM needs a guest: add a program level above L${last}`, `levels[${orig[last]}]`);
  checkXen(scenario, orig);
  if (levels.length > MAX_LANES - 1)
    throw new ScenarioError(
      `the stack has ${levels.length} levels; the lab runs at most ${MAX_LANES - 1} (and a guest in the top program)`,
      'levels',
    );
}

/**
 * The Xen model runs on AMD SVM with a guest program above it (docs/xen.md): at L0, or above
 * KVM, whose nested SVM runs it. One Xen per stack.
 */
function checkXen(scenario: Scenario, orig: number[]): void {
  const levels = scenario.levels;
  if (levels.filter((l) => l.kind === 'xen').length > 1)
    throw new ScenarioError(
      'the lab runs one Xen level per stack',
      `levels[${orig[levels.findLastIndex((l) => l.kind === 'xen')]}]`,
    );
  levels.forEach((l, i) => {
    if (l.kind !== 'xen') return;
    const where = `levels[${orig[i]}]`;
    if (scenario.arch !== 'svm')
      throw new ScenarioError('the Xen model drives AMD SVM: a Xen level needs "arch": "svm"', where);
    // Above L0 Xen needs the level below to emulate SVM for it: KVM's nested SVM.
    if (i > 0 && levels[i - 1].kind !== 'kvm')
      throw new ScenarioError(
        `Xen at L${i} needs KVM below it (nested SVM): L${i - 1} is a ${levels[i - 1].kind}`,
        where,
      );
    if (i !== levels.length - 2 || levels[i + 1].kind !== 'program')
      throw new ScenarioError('Xen needs exactly one guest: a program level above it (L1)', where);
  });
}

/** A program below another level must enter a guest (VMLAUNCH/VMRESUME): that level. */
function checkProgramsBelow(scenario: Scenario, programs: Program[], orig: number[]): void {
  scenario.levels.forEach((l, i) => {
    if (l.kind === 'program' && i < scenario.levels.length - 1 && !entersGuest(programs[i]))
      throw new ScenarioError(
        `L${i} is a program that enters no guest (no VMLAUNCH or VMRESUME): it cannot run L${i + 1} above it`,
        `levels[${orig[i + 1]}]`,
      );
  });
}

/** The placeholder program of a level run by a built-in model: no code, no memory image. */
export function emptyProgram(): Program {
  return {
    instrs: [],
    indexAt: new Int32Array(0),
    labels: {},
    image: new Uint8Array(0),
    origin: DEFAULT_ORIGIN,
    end: DEFAULT_ORIGIN,
    idt: [],
    idtTables: [],
    idtBase: 0,
    entry: DEFAULT_ORIGIN,
    source: [],
  };
}
