// Watch targets beyond the VMCS, the registers and KVM's variables: a VMCB field or bit (by
// Linux's member name, `int_ctl.V_NMI_MASK`, `event_inj[31]`, `rip in vmcb01`) and a vector of a
// level's local APIC IRR or ISR (`IRR[0x30] of L1`, `ISR.0x30`), for "when did X change" and
// counter tracks. Read from the same state the panels show (describe-vmcb.ts, describe.ts).
import { VMCB_FIELDS } from '../svm/vmcb';
import { vmcbLayout } from '../svm/vmcb-layout';
import type { CompiledScenario } from '../scenario/load';
import { vmcbFieldValue } from './describe-vmcb';
import type { SimState } from './machine';
import { QueryError, type Token, readNumber } from './search-words';

export type VmcbTarget = { w: 'vmcb'; field: string; role: string | null };
export type ApicTarget = { w: 'apic'; reg: 'irr' | 'isr'; vector: number };

const FIELDS = new Map(VMCB_FIELDS.map((f) => [f.name, f]));

function fail(tok: Token, message: string): never {
  throw new QueryError(`'${tok.text}' at column ${tok.at + 1}: ${message}`, tok.at + 1, tok.text.length || 1);
}

/** `IRR[0x30]`, `ISR[48]`, `irr.0x30`: a vector of the local APIC's IRR or ISR; else null. */
export function readApicTarget(head: Token): { target: ApicTarget; bits: null; label: string } | null {
  const m = /^(irr|isr)(?:\[([^\]]*)\]|\.(\w+))$/i.exec(head.text);
  if (!m) return null;
  const vector = readNumber((m[2] ?? m[3]).toLowerCase());
  if (vector === null || vector > 255)
    fail(head, 'a vector of the IRR or ISR is 0 to 255 (0x0 to 0xff): IRR[0x30], ISR.48');
  const reg = m[1].toLowerCase() as 'irr' | 'isr';
  return {
    target: { w: 'apic', reg, vector },
    bits: null,
    label: `${reg.toUpperCase()}[0x${vector.toString(16).padStart(2, '0')}]`,
  };
}

/**
 * A VMCB field (`int_ctl`, `idtr.base`), one of its bits by name (`int_ctl.V_NMI_MASK`) or
 * number (`int_ctl[12]`, `int_ctl.12`); null when the name is no VMCB field. `named` says a
 * VMCB was asked for (`in vmcb01`), so names shared with registers (rip, rflags) count too.
 */
export function readVmcbTarget(
  head: Token,
  range: [number, number] | null,
  role: string | null,
  isRegister: boolean,
): { target: VmcbTarget; bits: readonly [number, number] | null; label: string } | null {
  const text = head.text.replace(/\[.*$/, '');
  let name = text.toLowerCase();
  let sub: string | null = null;
  if (!FIELDS.has(name)) {
    const dot = text.lastIndexOf('.');
    if (dot < 0) return null;
    name = text.slice(0, dot).toLowerCase();
    sub = text.slice(dot + 1);
    if (!FIELDS.has(name)) return null;
  }
  // rip, rflags, cr0, ... are the level's registers unless a VMCB is named (`rip in vmcb01`).
  if (!role && isRegister) return null;
  const field = FIELDS.get(name)!;
  let bits: readonly [number, number] | null = range;
  let label = name;
  if (sub !== null) {
    const n = readNumber(sub.toLowerCase());
    const entry = vmcbLayout(name)?.entries.find((e) => e.name.toUpperCase() === sub!.toUpperCase());
    if (n !== null) bits = [n, n];
    else if (entry) bits = entry.bits;
    else {
      const names = vmcbLayout(name)?.entries.map((e) => e.name) ?? [];
      fail(
        head,
        names.length
          ? `${name} has no bit '${sub}'; its bits are ${names.join(', ')}`
          : `${name} has no named bits; write a bit number (${name}[3]) instead`,
      );
    }
    label += '.' + sub;
  } else if (bits) label += `[${bits[0]}${bits[1] !== bits[0] ? ':' + bits[1] : ''}]`;
  if (bits && (bits[0] < bits[1] || bits[0] >= field.size * 8 || bits[0] - bits[1] > 52))
    fail(head, `bits ${bits[0]}:${bits[1]} are not within ${name} (bits ${field.size * 8 - 1}:0)`);
  return {
    target: { w: 'vmcb', field: name, role },
    bits,
    label: `${label} of ${role ?? "the processor's VMCB"}`,
  };
}

/** The APIC a level's code sees: KVM's emulated one for a level above KVM, else the processor's. */
function apicOf(s: SimState, lane: number) {
  let owner = lane - 1;
  while (owner >= 0 && !s.kvms[owner]) owner--;
  const host = lane > 0 && owner >= 0 ? s.kvms[owner] : null;
  return host ? host.lapic : s.apic;
}

export function apicValue(s: SimState, lane: number, t: ApicTarget): number {
  const a = apicOf(s, lane);
  const bits = t.reg === 'irr' ? a.irr : a.isr;
  return (bits[t.vector >>> 5] >>> (t.vector & 31)) & 1;
}

export function vmcbValue(c: CompiledScenario, s: SimState, t: VmcbTarget): number | null {
  return vmcbFieldValue(c, s, t.field, t.role);
}
