// A fork: a scenario plus a list of edits of the state at given steps (docs/compare.md). An
// edit is written `STEP:TARGET=VALUE`; this module reads and checks edits against a compiled
// scenario, and fork-apply.ts applies them in the run. Targets are named as the search engine
// names watched values (engine/search-targets.ts), plus the interrupt controller's IRR and
// pending NMIs and interrupts.
import { REG64 } from '../asm/ir';
import { RFLAGS } from '../cpu/state';
import { type ChangeTarget, bindTarget, readChangeTarget } from '../engine/search-targets';
import { QueryError, readNumber, tokenize } from '../engine/search-words';
import { VMCS_FIELDS, suggestField } from '../vmx/fields';
import type { CompiledScenario } from './load';

/** An edit as written: after step `step`, set `target` to `value`. */
export interface ForkEdit {
  step: number;
  target: string;
  value: string;
}

/** What an edit changes, resolved against the scenario. */
export type EditTarget =
  | (ChangeTarget & { w: 'vmcs' | 'reg' })
  | { w: 'irr'; level: number; vector: number; label: string }
  | { w: 'nmi'; level: number; label: string }
  | { w: 'irq'; level: number; label: string };

export interface ResolvedEdit {
  /** Its place in the fork's edit list (0-based). */
  index: number;
  step: number;
  target: EditTarget;
  /** The value to write: a number, or a 64-bit register value as a bigint. */
  value: number | bigint;
  /** The edit as written, for messages (`38:GUEST_INTERRUPTIBILITY_INFO.NMI=0`). */
  text: string;
}

/** An edit that cannot be read or applied: names the edit, the part and the column. */
export class ForkError extends Error {
  constructor(
    message: string,
    /** The edit's place in the list (0-based). */
    readonly edit: number,
    /** 1-based column in the edit's text. */
    readonly column: number,
  ) {
    super(message);
    this.name = 'ForkError';
  }
}

/** The edit's text, `STEP:TARGET=VALUE`. */
export function editText(e: ForkEdit): string {
  return `${e.step}:${e.target}=${e.value}`;
}

/** Reads `STEP:TARGET=VALUE` (the command line's and the link's form). */
export function parseEdit(text: string, index = 0): ForkEdit {
  const where = `edit ${index + 1} ('${text}')`;
  const colon = text.indexOf(':');
  const stepText = colon < 0 ? '' : text.slice(0, colon).trim();
  if (colon < 0 || !/^\d+$/.test(stepText.replace(/[_,]/g, '')))
    throw new ForkError(
      `${where}, column 1: an edit is STEP:TARGET=VALUE (38:GUEST_INTERRUPTIBILITY_INFO.NMI=0, 12:RFLAGS.IF of L1=1, 20:nmi of L0=1); '${colon < 0 ? text : stepText}' is not a step number`,
      index,
      1,
    );
  const eq = text.lastIndexOf('=');
  if (eq < colon)
    throw new ForkError(
      `${where}, column ${text.length + 1}: '=VALUE' is missing after the target`,
      index,
      text.length + 1,
    );
  const target = text.slice(colon + 1, eq).trim();
  const value = text.slice(eq + 1).trim();
  if (!target) throw new ForkError(`${where}, column ${colon + 2}: the target is missing`, index, colon + 2);
  if (!value) throw new ForkError(`${where}, column ${eq + 2}: the value is missing`, index, eq + 2);
  return { step: Number(stepText.replace(/[_,]/g, '')), target, value };
}

const RFLAGS_FLAGS = Object.keys(RFLAGS).filter((n) => n !== 'FIXED');
const EDITABLE_REGS = new Set<string>([
  ...REG64,
  'rip',
  'rflags',
  'blocking_by_sti',
  'blocking_by_mov_ss',
  'blocking_by_nmi',
]);
const TARGET_FORMS =
  'a VMCS field or bit (GUEST_INTERRUPTIBILITY_INFO.NMI, GUEST_RFLAGS[9], `in vmcs12` for another VMCS), a register or flag of a level (RAX, RIP, RFLAGS.IF of L1, blocking_by_nmi), IRR[VECTOR] of a level, `nmi` or `irq` of a level';

/** Edit distance, for the closest names of an unknown target. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length];
}

/** The names closest to an unknown target: VMCS fields, registers, flags, irr/nmi/irq. */
export function closestTargets(name: string, limit = 3): string[] {
  const q = name.toUpperCase();
  const fields = suggestField(q, limit);
  const others = [...EDITABLE_REGS, ...RFLAGS_FLAGS.map((f) => `rflags.${f}`), 'irr', 'nmi', 'irq']
    .map((n) => [n.toUpperCase(), distance(q, n.toUpperCase())] as const)
    .filter(([, d]) => d <= Math.max(2, Math.floor(q.length / 4)))
    .sort((a, b) => a[1] - b[1]);
  const all = [...others.map(([n]) => n), ...fields];
  if (all.length === 0) {
    // The nearest VMCS field at any distance: every unknown name gets a suggestion.
    let best = '';
    let bd = Infinity;
    for (const f of VMCS_FIELDS) {
      const d = distance(q, f.name);
      if (d < bd) [best, bd] = [f.name, d];
    }
    all.push(best);
  }
  return [...new Set(all)].slice(0, limit);
}

/** The level an `of Ln` / `at Ln` / `Ln` qualifier names, checked against the run. */
function levelOf(
  words: { text: string; at: number }[],
  c: CompiledScenario,
  fail: (at: number, m: string) => never,
): number | null {
  let level: number | null = null;
  for (let i = 1; i < words.length; i++) {
    const w = words[i].text.toLowerCase();
    if ((w === 'of' || w === 'at') && words[i + 1]) continue;
    const m = /^(?:l|level)(\d+)$/.exec(w);
    if (!m)
      fail(words[i].at, `'${words[i].text}' is unexpected here: after the target, write \`of L1\` (a level)`);
    level = Number(m[1]);
    if (level >= c.lanes.length) fail(words[i].at, `this run has levels L0 to L${c.lanes.length - 1}`);
  }
  return level;
}

/** Reads a value: decimal or 0x hex (with `_` separators), or true/false. */
function readValue(text: string): bigint | null {
  const t = text.replace(/_/g, '').toLowerCase();
  if (t === 'true') return 1n;
  if (t === 'false') return 0n;
  if (/^0x[0-9a-f]+$/.test(t) || /^\d+$/.test(t)) return BigInt(t);
  return null;
}

/**
 * Checks an edit against the compiled scenario: the target exists (else the closest names),
 * the value fits it. Throws ForkError. Whether the step is within the run is checked when the
 * fork runs (session.ts), since earlier edits change the run.
 */
export function resolveEdit(c: CompiledScenario, e: ForkEdit, index: number): ResolvedEdit {
  const text = editText(e);
  const targetAt = String(e.step).length + 2; // column of the target in `STEP:TARGET=VALUE`
  const valueAt = targetAt + e.target.length + 1;
  const where = `edit ${index + 1} ('${text}')`;
  const fail = (col: number, m: string): never => {
    throw new ForkError(`${where}, column ${col}: ${m}`, index, col);
  };
  if (!Number.isSafeInteger(e.step) || e.step < 0) fail(1, `'${e.step}' is not a step number (0 or more)`);
  let words;
  try {
    words = tokenize(e.target);
  } catch (err) {
    if (err instanceof QueryError) fail(targetAt + err.column - 1, err.message);
    throw err;
  }
  if (words.length === 0) fail(targetAt, 'the target is missing');
  const head = words[0].text;
  const lower = head.toLowerCase();
  const value = readValue(e.value);
  if (value === null)
    fail(valueAt, `'${e.value}' is not a value: write a number (decimal or 0x hex), true or false`);
  const v = value!;
  const failAt = (at: number, m: string): never => fail(targetAt + at, m);
  const level = (dflt: number) => levelOf(words, c, failAt) ?? dflt;
  const small = (max: number, what: string): number => {
    if (v > BigInt(max)) fail(valueAt, `${e.value} is out of range for ${what} (0 to ${max})`);
    return Number(v);
  };

  // The interrupt controller: IRR[VECTOR], nmi, irq (a level's, as scenario events raise them).
  const irr = /^irr(?:\[(\w+)\]|\.(\w+))$/i.exec(head);
  if (irr || lower === 'nmi' || lower === 'irq') {
    const lane = level(0);
    if (lane > 0 && c.lanes[lane - 1].kind !== 'kvm')
      failAt(
        0,
        `L${lane}'s interrupt controller would be emulated by L${lane - 1}, a program, which emulates none: edit L0's, or a level run by KVM`,
      );
    if (irr) {
      const vec = readNumber(irr[1] ?? irr[2]);
      if (vec === null || vec < 16 || vec > 255) failAt(0, `IRR[${irr[1] ?? irr[2]}]: a vector is 16 to 255`);
      if (lane > 0 && v === 0n)
        fail(
          valueAt,
          `an IRR bit of a KVM-emulated APIC can only be set (1): it is raised as kvm_apic_set_irq raises it`,
        );
      const val = small(1, 'an IRR bit');
      return {
        index,
        step: e.step,
        text,
        value: val,
        target: { w: 'irr', level: lane, vector: vec!, label: `IRR[${vec}] of L${lane}` },
      };
    }
    if (lower === 'nmi') {
      if (lane > 0 && v === 0n) fail(valueAt, 'an NMI of a KVM-emulated level can only be raised (1)');
      return {
        index,
        step: e.step,
        text,
        value: small(1, 'a pending NMI (1 raises one, 0 clears the latch)'),
        target: { w: 'nmi', level: lane, label: `a pending NMI of L${lane}` },
      };
    }
    const vec = small(255, 'an interrupt vector');
    if (vec < 16) fail(valueAt, `vector ${vec} cannot be raised at an APIC (16 to 255)`);
    return {
      index,
      step: e.step,
      text,
      value: vec,
      target: { w: 'irq', level: lane, label: `an interrupt of L${lane}` },
    };
  }

  // A VMCS field or bit, a register or flag: the search engine's names.
  let t: ChangeTarget | null = null;
  try {
    t = readChangeTarget(words, false);
    if (t) t = bindTarget(c, t);
  } catch (err) {
    if (!(err instanceof QueryError)) throw err;
    fail(targetAt + err.column - 1, err.message.replace(/^'[^']*' at column \d+: /, ''));
  }
  if (!t) {
    const names = closestTargets(head.replace(/[.[].*$/, ''));
    failAt(
      words[0].at,
      `'${head}' is not something to edit (the closest names: ${names.join(', ')}); edit ${TARGET_FORMS}`,
    );
  }
  const tt0 = t!;
  if (tt0.w === 'kvm')
    failAt(
      0,
      `'${tt0.variable}' is a variable of the KVM model, which a fork does not edit; edit ${TARGET_FORMS}`,
    );
  const tt = tt0 as ChangeTarget & { w: 'vmcs' | 'reg' };
  if (tt.w === 'reg' && !EDITABLE_REGS.has(tt.reg))
    failAt(
      0,
      `${tt.reg.toUpperCase()} is not editable in a fork; edit the general registers, RIP, RFLAGS (or a flag), blocking_by_sti, blocking_by_mov_ss or blocking_by_nmi`,
    );
  const width = tt.bits
    ? tt.bits[0] - tt.bits[1] + 1
    : tt.w === 'reg'
      ? tt.reg.startsWith('blocking_')
        ? 1
        : 64
      : fieldWidth(tt.encoding);
  if (width < 64 && v >= 1n << BigInt(width))
    fail(
      valueAt,
      `${e.value} is out of range for ${tt.label} (${width} bit${width === 1 ? '' : 's'}: 0 to 0x${((1n << BigInt(width)) - 1n).toString(16)})`,
    );
  if (v >= 1n << 64n) fail(valueAt, `${e.value} is out of range (64 bits)`);
  const wide = tt.w === 'reg' && (REG64 as readonly string[]).includes(tt.reg) && !tt.bits;
  if (!wide && v > BigInt(Number.MAX_SAFE_INTEGER))
    fail(valueAt, `${e.value} is out of range for ${tt.label}`);
  return { index, step: e.step, text, value: wide ? v : Number(v), target: tt as EditTarget };
}

function fieldWidth(encoding: number): number {
  const f = VMCS_FIELDS.find((x) => x.encoding === encoding);
  if (!f) return 64;
  return f.width === 'natural' || f.width === 64 ? 64 : Number(f.width);
}
