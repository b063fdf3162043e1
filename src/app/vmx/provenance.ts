// Who made a VMCS for whom, where it lives, and — for a merged VMCS (vmcs02, or vmcs03 and
// vmcs13 in a deeper stack) — where each of its fields came from, as short tags (12, 01, 01+12,
// L0) with the core's full text and the kernel function behind it for the tooltip. Pure
// functions of the VmcsView.
import type { VmcsView } from '../../core/engine/view';
import { KVM_FUNCTIONS } from '../../core/hypervisors/kvm/functions';

/** How a field's value came to be: from the upper hypervisor's VMCS, the owner's own, both, or the owner itself. */
export type OriginKind = 'upper' | 'own' | 'merged' | 'self' | 'unknown';

export interface FieldOrigin {
  /** The source VMCSs' digits ("12", "01+12") or the owner ("L0"): what the tag reads. */
  tag: string;
  kind: OriginKind;
  /** The core's text, with the stack's names: "vmcs01 | vmcs12 (preemption timer emulated): prepare_vmcs02_early". */
  text: string;
  /** The part that says where the value came from: "vmcs01 | vmcs12 (preemption timer emulated)". */
  source: string;
  /** The kernel function that put it there, and its file under arch/x86/kvm/. */
  fn: string | null;
  file: string | null;
}

/** The parties of a merged VMCS vmcsAB: LA's own VMCS for LA+1, and LA+1's for LB. */
function parties(owner: number, runs: number) {
  return { own: `${owner}${owner + 1}`, upper: `${owner + 1}${runs}`, self: `L${owner}` };
}

/** The tags a merged VMCS's fields can have, in the legend's order. */
export function originLegend(v: Pick<VmcsView, 'owner' | 'runs'>) {
  const p = parties(v.owner, v.runs);
  const guest = `L${v.owner + 1}`;
  return [
    {
      tag: p.upper,
      kind: 'upper' as const,
      label: `vmcs${p.upper} (${guest}'s)`,
      title: `Copied from vmcs${p.upper}, the VMCS ${guest} wrote for L${v.runs} (prepare_vmcs02)`,
    },
    {
      tag: p.own,
      kind: 'own' as const,
      label: `vmcs${p.own} (${p.self}'s for ${guest})`,
      title: `Taken from vmcs${p.own}, the VMCS ${p.self} runs ${guest} with`,
    },
    {
      tag: `${p.own}+${p.upper}`,
      kind: 'merged' as const,
      label: 'both, merged',
      title: `vmcs${p.own}'s and vmcs${p.upper}'s values combined (prepare_vmcs02_early)`,
    },
    {
      tag: p.self,
      kind: 'self' as const,
      label: `${p.self}'s own`,
      title: `${p.self}'s own value: its host state, its own timer, an emulated state`,
    },
  ];
}

/**
 * KVM names VMCSs from where it stands: its vmcs01 (for its guest), that guest's vmcs12, the
 * merged vmcs02, and L0, L1, L2. The core's provenance texts use those names; for the KVM at LA
 * merging a VMCS to run LB they are vmcsA(A+1), vmcs(A+1)B, vmcsAB, LA, LA+1, LB.
 */
export function stackNames(text: string, owner: number, runs: number): string {
  if (owner === 0 && runs === 2) return text;
  const names: Record<string, string> = {
    vmcs01: `vmcs${owner}${owner + 1}`,
    vmcs12: `vmcs${owner + 1}${runs}`,
    vmcs02: `vmcs${owner}${runs}`,
    L0: `L${owner}`,
    L1: `L${owner + 1}`,
    L2: `L${runs}`,
  };
  return text.replace(/\b(vmcs01|vmcs12|vmcs02|L0|L1|L2)\b/g, (m) => names[m]);
}

/** The kernel file of a function the provenance names. */
export function kernelFile(fn: string): string | null {
  const known = KVM_FUNCTIONS.find((f) => f.name === fn);
  if (known) return known.file;
  if (/^(prepare_vmcs02|nested_)/.test(fn)) return 'vmx/nested.c';
  if (/^vmx_/.test(fn)) return 'vmx/vmx.c';
  return null;
}

function tagOf(source: string, owner: number, runs: number): [string, OriginKind] {
  const p = parties(owner, runs);
  // "L0's own (vmcs12's timer is an hrtimer)": what is in parentheses explains, it is not a source.
  if (source.startsWith(p.self)) return [p.self, 'self'];
  const plain = source.replace(/\([^)]*\)/g, '');
  const from = [...new Set([...plain.matchAll(/\bvmcs(\d\d)\b/g)].map((m) => m[1]))].sort();
  if (from.length === 0) return ['?', 'unknown'];
  const tag = from.join('+');
  if (from.length > 1) return [tag, 'merged'];
  return [tag, tag === p.upper ? 'upper' : tag === p.own ? 'own' : 'unknown'];
}

/**
 * Reads one provenance text of the merged VMCS vmcsAB (owner A, runs B): its tag, its source
 * and its function, with the stack's names.
 */
export function fieldOrigin(raw: string | undefined, owner = 0, runs = 2): FieldOrigin | null {
  if (raw === undefined) return null;
  const text = stackNames(raw, owner, runs);
  // "<where it came from>: <function>", the function last; else a function named in passing.
  const trailing = /^(.*):\s*([A-Za-z_]\w*)\s*$/.exec(text);
  const source = trailing ? trailing[1].trim() : text;
  const fn = trailing
    ? trailing[2]
    : (/\b(prepare_vmcs02\w*|nested_vmx_\w+|vmx_\w+)\b/.exec(text)?.[1] ?? null);
  const [tag, kind] = tagOf(source, owner, runs);
  return { tag, kind, text, source, fn, file: fn ? kernelFile(fn) : null };
}

/** The tooltip of an origin tag. */
export function originTitle(o: FieldOrigin): string {
  const fn = o.fn ? `\n${o.fn}()${o.file ? ` — arch/x86/kvm/${o.file}` : ''}` : '';
  return `From ${o.source}${fn}`;
}

/** "L1's VMCS for L2", and for a merged one that it is merged. */
export function vmcsRelation(v: VmcsView): string {
  const base = `L${v.owner}'s VMCS for L${v.runs}`;
  return v.provenance ? `${base}, merged` : base;
}

/** The line under the title: where it is held, its address and label, its launch state. */
export function vmcsMeta(v: VmcsView): string {
  const addr = `0x${v.addr.toString(16)}`;
  return [
    `held by ${v.heldBy}`,
    v.label ? `${addr} ${v.label}` : addr,
    v.launched ? 'launched' : 'clear',
  ].join(' · ');
}

/** What a VMCS is, for the title's tooltip. */
export function vmcsRoleTitle(v: VmcsView): string {
  const made = `${v.role}: made by L${v.owner} to run L${v.runs}; held by ${v.heldBy}.`;
  const p = parties(v.owner, v.runs);
  if (v.provenance)
    return `${made}\n${p.self} merged it from vmcs${p.own} (its own for L${v.owner + 1}) and vmcs${p.upper} (L${v.owner + 1}'s for L${v.runs}): the tag beside each field says where the value came from.`;
  if (v.owner > 0)
    return `${made}\nL${v.owner} cannot use the processor's VMX: its VMREAD and VMWRITE trap to L${v.owner - 1}, which keeps this copy and merges it into the VMCS it runs L${v.runs} with.`;
  return made;
}

/** The key that identifies a VMCS across steps (a vmcs12 lives in L1's memory: its address alone is not enough). */
export function vmcsKey(v: Pick<VmcsView, 'role' | 'addr'>): string {
  return `${v.role}@${v.addr}`;
}
