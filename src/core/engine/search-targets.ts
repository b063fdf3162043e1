// What a "when did this change" query watches, and its value in a simulation state: a VMCS
// field or one of its bits (by the SDM's or Linux's name), a register or flag of a level (as
// the level's CPU panel shows it: the processor's while the level runs, its VMCS area while
// it rests), or a variable of the KVM model named as in the kernel.
import { REG64 } from '../asm/ir';
import { RFLAGS } from '../cpu/state';
import type { KvmState } from '../hypervisors/kvm/state';
import type { CompiledScenario } from '../scenario/load';
import { entryBits, layoutOf } from '../vmx/bits';
import { fieldByName } from '../vmx/fields';
import { currentVmcs } from '../vmx/state';
import { readField } from '../vmx/vmcs';
import { describeLevel, describeVmx } from './describe';
import type { SimState } from './machine';
import { QueryError, type Token, readNumber } from './search-words';
import {
  type ApicTarget,
  type VmcbTarget,
  apicValue,
  readApicTarget,
  readVmcbTarget,
  vmcbValue,
} from './search-targets-extra';

export type ChangeTarget = {
  /** How the results name it, e.g. "GUEST_INTERRUPTIBILITY_INFO.NMI of the current VMCS". */
  label: string;
  /** Bits hi..lo of the value, or null for the whole value. */
  bits: readonly [number, number] | null;
  /** The level (lane) asked for with `of Ln`, and where it was written (for errors). */
  level: number | null;
  levelAt: { column: number; length: number } | null;
} & (
  | { w: 'vmcs'; field: string; encoding: number; role: string | null }
  | { w: 'reg'; reg: string }
  | { w: 'kvm'; variable: string }
  | VmcbTarget
  | ApicTarget
);

const BOOL = (b: boolean) => (b ? 1 : 0);

/** The KVM model's variables by their kernel names (struct kvm_vcpu_arch, loaded_vmcs, nested_vmx). */
export const KVM_VARIABLES: Record<string, (k: KvmState) => number> = {
  soft_vnmi_blocked: (k) => BOOL(k.softVnmiBlocked),
  vnmi_blocked_time: (k) => k.vnmiBlockedTimeNs,
  nmi_queued: (k) => k.nmiQueued,
  nmi_pending: (k) => k.nmiPending,
  nmi_injected: (k) => BOOL(k.nmiInjected),
  'interrupt.injected': (k) => BOOL(k.irqInjected),
  'interrupt.nr': (k) => (k.irqInjected ? k.irqVector : -1),
  'exception.pending': (k) => BOOL(k.exceptionPending),
  'exception.injected': (k) => BOOL(k.exceptionInjected),
  mp_state: (k) => BOOL(k.halted),
  kvm_req_event: (k) => BOOL(k.reqEvent),
  kvm_req_nmi: (k) => BOOL(k.reqNmi),
  enable_vnmi: (k) => BOOL(k.enableVnmi),
  exit_reason: (k) => k.lastExitReason,
  nested_run_pending: (k) => BOOL(k.nested.runPending),
  guest_mode: (k) => BOOL(k.nested.guestMode),
  current_vmptr: (k) => k.nested.currentVmptr,
  // struct vcpu_svm (kvm_amd)
  nmi_masked: (k) => BOOL(k.svm.nmiMasked),
  awaiting_iret_completion: (k) => BOOL(k.svm.awaitingIretCompletion),
  nmi_iret_rip: (k) => k.svm.nmiIretRip,
  nmi_singlestep: (k) => BOOL(k.svm.nmiSinglestep),
};

const RFLAGS_BITS: Record<string, number> = Object.fromEntries(
  Object.entries(RFLAGS)
    .filter(([n]) => n !== 'FIXED')
    .map(([n, m]) => [n, Math.log2(m)]),
);
const SYSTEM_REGS = ['cr0', 'cr3', 'cr4', 'cr8', 'dr6', 'dr7'];
/** Pseudo-registers of the CPU panel: the interruptibility state and blocking by NMI. */
const STATE_BITS = ['blocking_by_sti', 'blocking_by_mov_ss', 'blocking_by_nmi'];
const REGS = new Set<string>([...REG64, 'rip', 'rflags', ...SYSTEM_REGS, ...STATE_BITS]);

const TARGET_FORMS =
  'a VMCS field (GUEST_RFLAGS) or bit (GUEST_INTERRUPTIBILITY_INFO.NMI, GUEST_RFLAGS[9]), a register or flag ' +
  `(RAX, RIP, RFLAGS.IF, CR0, ${STATE_BITS[2]}), a VMCB field or bit (int_ctl.V_NMI_MASK), a local APIC vector (IRR[0x30], ISR[0x30]), ` +
  `or a KVM variable (${Object.keys(KVM_VARIABLES).slice(0, 5).join(', ')}, ...)`;

function fail(tok: Token, message: string): never {
  throw new QueryError(`'${tok.text}' at column ${tok.at + 1}: ${message}`, tok.at + 1, tok.text.length || 1);
}

/** `NAME`, `NAME.BIT` or `NAME[hi:lo]`. */
function splitName(
  text: string,
): { name: string; sub: string | null; range: [number, number] | null } | null {
  const m = /^([A-Za-z_][\w.]*?)(?:\.([A-Za-z_]\w*|\d+))?(?:\[(\d+)(?::(\d+))?\])?$/.exec(text);
  if (!m) return null;
  const range: [number, number] | null = m[3] !== undefined ? [Number(m[3]), Number(m[4] ?? m[3])] : null;
  return { name: m[1], sub: m[2] ?? null, range };
}

/**
 * Reads the watched thing from the query's words. With `required` false, returns null when the
 * first word names nothing watchable (the query is then read as an event search).
 */
export function readChangeTarget(toks: Token[], required: boolean): ChangeTarget | null {
  const head = toks[0];
  let level: number | null = null;
  let levelAt: ChangeTarget['levelAt'] = null;
  let role: string | null = null;
  // Qualifiers after the name: `of L1`, `at L1`, `L1`, `in vmcs12`.
  for (let i = 1; i < toks.length; i++) {
    const w = toks[i].text.toLowerCase();
    if ((w === 'of' || w === 'at' || w === 'in') && toks[i + 1]) continue;
    const lm = /^(?:l|level)(\d+)$/.exec(w);
    if (lm) {
      level = Number(lm[1]);
      levelAt = { column: toks[i].at + 1, length: toks[i].text.length };
      continue;
    }
    if (/^(vmcs\d+|vmcb\d+|shadow)$/.test(w)) {
      role = w;
      continue;
    }
    if (!required && i === 1) return null;
    fail(toks[i], 'unexpected here: after what to watch, write `of L1` (a level) or `in vmcs12` (a VMCS)');
  }
  if (head.quoted) {
    if (!required) return null;
    fail(head, `not something to watch; watch ${TARGET_FORMS}`);
  }
  const apic = readApicTarget(head);
  if (apic) {
    if (role) fail(head, `'in ${role}' goes with a VMCS or VMCB field only`);
    return { level, levelAt, ...apic.target, bits: apic.bits, label: apic.label };
  }
  const parts = splitName(head.text);
  if (!parts) {
    if (!required) return null;
    fail(head, `not something to watch; watch ${TARGET_FORMS}`);
  }
  const upper = parts.name.toUpperCase();
  const lower = parts.name.toLowerCase();
  const base = { level, levelAt };

  const vmcb = readVmcbTarget(head, parts.range, role?.startsWith('vmcb') ? role : null, REGS.has(lower));
  if (vmcb) {
    if (level !== null && levelAt)
      fail(toks[1], 'a VMCB field belongs to a VMCB, not a level: write `in vmcb01`');
    return { ...base, ...vmcb.target, bits: vmcb.bits, label: vmcb.label };
  }
  if (role?.startsWith('vmcb')) fail(head, `'in ${role}' goes with a VMCB field only (int_ctl, rip, ...)`);
  const field = fieldByName(upper);
  if (field) {
    let bits: readonly [number, number] | null = parts.range;
    let label = field.name;
    if (parts.sub) {
      const sub = parts.sub.toUpperCase();
      const n = readNumber(sub);
      const entry = layoutOf(field.name)?.entries.find((e) => {
        const ln = e.linuxName?.toUpperCase() ?? '';
        return ln === sub || ln.endsWith('_' + sub) || e.name.toUpperCase().replace(/\W+/g, '_') === sub;
      });
      if (n !== null) bits = [n, n];
      else if (entry) bits = entryBits(entry);
      else {
        const names = layoutOf(field.name)?.entries.map((e) => e.linuxName ?? e.name) ?? [];
        fail(
          head,
          names.length
            ? `${field.name} has no bit '${parts.sub}'; its bits are ${names.join(', ')}`
            : `${field.name} has no named bits; write a bit number (${field.name}[3]) instead`,
        );
      }
      label += '.' + parts.sub;
    } else if (bits) label += `[${bits[0]}${bits[1] !== bits[0] ? ':' + bits[1] : ''}]`;
    checkRange(head, bits, field.width === 64 ? 64 : field.width === 'natural' ? 64 : Number(field.width));
    if (level !== null && levelAt)
      fail(toks[1], 'a VMCS field belongs to a VMCS, not a level: write `in vmcs01`, `in vmcs12`, …');
    return {
      ...base,
      w: 'vmcs',
      field: field.name,
      encoding: field.encoding,
      role,
      bits,
      label: `${label} of ${role ?? 'the current VMCS'}`,
    };
  }
  if (role) fail(head, `'in ${role}' goes with a VMCS field only`);

  if (REGS.has(lower)) {
    let bits: readonly [number, number] | null = parts.range;
    let label = upper;
    if (parts.sub) {
      const sub = parts.sub.toUpperCase();
      const n = readNumber(sub);
      const bit = lower === 'rflags' ? RFLAGS_BITS[sub] : undefined;
      if (n !== null) bits = [n, n];
      else if (bit !== undefined) bits = [bit, bit];
      else
        fail(
          head,
          lower === 'rflags'
            ? `RFLAGS has no flag '${parts.sub}'; flags are ${Object.keys(RFLAGS_BITS).join(', ')}`
            : `${upper} has no named bits; write a bit number (${upper}[3]) instead`,
        );
      label += '.' + sub;
    } else if (bits) label += `[${bits[0]}${bits[1] !== bits[0] ? ':' + bits[1] : ''}]`;
    checkRange(head, bits, 64);
    return { ...base, w: 'reg', reg: lower, bits, label };
  }

  const kvmName = head.text.toLowerCase();
  if (KVM_VARIABLES[kvmName]) {
    if (parts.range) fail(head, 'a KVM variable is watched whole');
    return { ...base, w: 'kvm', variable: kvmName, bits: null, label: kvmName };
  }
  if (!required) return null;
  fail(head, `not something to watch; watch ${TARGET_FORMS}`);
}

function checkRange(tok: Token, bits: readonly [number, number] | null, width: number) {
  if (!bits) return;
  const [hi, lo] = bits;
  if (hi < lo || hi >= width || hi - lo > 52)
    fail(tok, `bits ${hi}:${lo} are not within the value (bits ${width - 1}:0; hi first, at most 53 bits)`);
}

function extract(v: number, bits: readonly [number, number] | null): number {
  if (!bits) return v;
  const [hi, lo] = bits;
  return Math.floor(v / 2 ** lo) % 2 ** (hi - lo + 1);
}

/** A checked target: the level resolved against the run's lanes. Throws QueryError. */
export function bindTarget(c: CompiledScenario, t: ChangeTarget): ChangeTarget {
  const lanes = c.lanes.length;
  const where = t.levelAt ?? { column: 1, length: 1 };
  if (t.level !== null && t.level >= lanes)
    throw new QueryError(
      `'L${t.level}' at column ${where.column}: this run has levels L0 to L${lanes - 1}`,
      where.column,
      where.length,
    );
  if (t.w === 'kvm') {
    const lane = t.level ?? c.lanes.findIndex((l) => l.kind === 'kvm');
    if (lane < 0 || c.lanes[lane].kind !== 'kvm')
      throw new QueryError(
        t.level === null
          ? `'${t.variable}' is a KVM variable, and this run has no KVM level`
          : `'L${t.level}' at column ${where.column}: it is not a KVM level`,
        where.column,
        where.length,
      );
    return { ...t, level: lane, label: `${t.label} of L${lane}` };
  }
  if (t.w === 'reg' || t.w === 'apic') {
    // Without `of Ln`: the topmost level that runs a program (the guest, in most scenarios).
    let lane = t.level ?? lanes - 1;
    while (t.level === null && lane > 0 && c.lanes[lane].kind === 'kvm') lane--;
    return { ...t, level: lane, label: `${t.label} of L${lane}` };
  }
  return t;
}

/** The watched value in state `s` (a 64-bit register as a string of hex digits), or null when
 *  it does not exist there (no current VMCS, no such VMCS). */
export function targetValue(c: CompiledScenario, s: SimState, t: ChangeTarget): number | string | null {
  if (t.w === 'kvm') {
    const k = s.kvms[t.level!];
    return k ? KVM_VARIABLES[t.variable](k) : null;
  }
  if (t.w === 'vmcb') {
    const v = vmcbValue(c, s, t);
    return v === null ? null : extract(v, t.bits);
  }
  if (t.w === 'apic') return apicValue(s, t.level!, t);
  if (t.w === 'vmcs') {
    let v: number | undefined;
    if (t.role === null) {
      const cur = currentVmcs(s.vmx);
      if (!cur) return null;
      v = cur.fields[t.encoding] === undefined ? 0 : readField(cur, t.encoding);
    } else {
      const view = describeVmx(c, s).vmcs.find((x) => x.role === t.role);
      if (!view) return null;
      v = view.fields.find((f) => f.encoding === t.encoding)?.value ?? 0;
    }
    return extract(v, t.bits);
  }
  const lane = t.level!;
  const running = s.lane === lane;
  const reg = t.reg;
  const gpr = (REG64 as readonly string[]).indexOf(reg);
  if (running && gpr >= 0 && gpr !== 4) {
    const lo = s.cpu.regs[2 * gpr] >>> 0;
    const hi = s.cpu.regs[2 * gpr + 1] >>> 0;
    if (t.bits) return extract(hi * 2 ** 32 + lo, t.bits);
    // The CPU panel's form (describe.ts hex64), so a level that starts resting compares equal.
    return '0x' + hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
  }
  if (running && reg === 'rflags') return extract(s.cpu.rflags, t.bits);
  if (running && reg === 'rip') return extract(s.cpu.rip, t.bits);
  const cpu = describeLevel(c, s, lane).cpu;
  switch (reg) {
    case 'rip':
      return extract(cpu.rip, t.bits);
    case 'rflags':
      return extract(cpu.rflags, t.bits);
    case 'blocking_by_sti':
      return BOOL(cpu.interruptibility.sti);
    case 'blocking_by_mov_ss':
      return BOOL(cpu.interruptibility.movss);
    case 'blocking_by_nmi':
      return BOOL(cpu.interruptibility.nmi);
  }
  if (SYSTEM_REGS.includes(reg)) return extract(cpu.system?.[reg as 'cr0'] ?? 0, t.bits);
  const hexv = cpu.regs[gpr].value;
  return t.bits ? extract(Number(BigInt(hexv)), t.bits) : hexv;
}

/** A value as the results list shows it: KVM's counters and times in decimal, the rest in hex. */
export function showValue(v: number | string | null, decimal = false): string {
  if (v === null) return '—';
  if (decimal && typeof v === 'number') return v.toLocaleString('en-US');
  if (typeof v === 'string') return '0x' + v.slice(2).replace(/^0+(?=.)/, '');
  return v > 9 ? `0x${v.toString(16)}` : String(v);
}
