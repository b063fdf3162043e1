// The compare view's diff of the panels at aligned steps: each level's CPU and APIC as its
// panel shows them, and every VMCS field by role (vmcs01, vmcs02, vmcs12, …), side by side,
// with the rows that differ marked.
import type { LevelView, StepView, VmcsView } from '../../core/engine/view';

export interface DiffRow {
  /** The panel it belongs to: "L1 · guest kernel", "vmcs01". */
  section: string;
  name: string;
  a: string;
  b: string;
  changed: boolean;
}

const hex = (v: number) => `0x${v.toString(16)}`;
const yesNo = (b: boolean) => (b ? '1' : '0');
const vectors = (v: number[]) => (v.length ? v.map(hex).join(' ') : '—');

function levelRows(l: LevelView): [string, string][] {
  const c = l.cpu;
  const rows: [string, string][] = [
    ['RIP', hex(c.rip)],
    ['RFLAGS', hex(c.rflags)],
    ['RFLAGS.IF', yesNo(c.if)],
    ['blocking by STI', yesNo(c.interruptibility.sti)],
    ['blocking by MOV SS', yesNo(c.interruptibility.movss)],
    ['blocking by NMI', yesNo(c.interruptibility.nmi)],
    ['activity', c.activity],
    ['running', c.running ? 'yes' : l.restingIn ? `rests in ${l.restingIn}` : 'no'],
    ['pending NMI', yesNo(c.pending.nmi)],
    ['pending interrupt', c.pending.intr === null ? '—' : hex(c.pending.intr)],
    ['handler depth', String(c.handlerDepth)],
    ['NMI handlers', String(c.nmiDepth)],
    ...c.regs.map((r) => [r.name.toUpperCase(), r.value] as [string, string]),
    ['APIC IRR', vectors(l.apic.irr)],
    ['APIC ISR', vectors(l.apic.isr)],
    ['APIC TPR', hex(l.apic.tpr)],
  ];
  if (l.kvm)
    for (const [k, v] of Object.entries(l.kvm))
      if (typeof v === 'number' || typeof v === 'boolean') rows.push([`KVM ${k}`, String(v)]);
  return rows;
}

function vmcsRows(v: VmcsView): Map<string, string> {
  return new Map(v.fields.map((f) => [f.name, hex(f.value)]));
}

function pairRows(section: string, a: [string, string][] | null, b: [string, string][] | null): DiffRow[] {
  const names: string[] = [];
  const am = new Map(a ?? []);
  const bm = new Map(b ?? []);
  for (const [n] of [...(a ?? []), ...(b ?? [])]) if (!names.includes(n)) names.push(n);
  return names.map((name) => {
    const av = am.get(name) ?? '—';
    const bv = bm.get(name) ?? '—';
    return { section, name, a: av, b: bv, changed: av !== bv };
  });
}

/** The rows of both sides' panels, in panel order; a panel only one side has shows "—" on the other. */
export function diffViews(a: StepView | null, b: StepView | null): DiffRow[] {
  const out: DiffRow[] = [];
  const levels = Math.max(a?.levels.length ?? 0, b?.levels.length ?? 0);
  for (let i = 0; i < levels; i++) {
    const la = a?.levels[i] ?? null;
    const lb = b?.levels[i] ?? null;
    out.push(...pairRows((la ?? lb)!.name, la && levelRows(la), lb && levelRows(lb)));
  }
  const roles: string[] = [];
  for (const v of [...(a?.vmx.vmcs ?? []), ...(b?.vmx.vmcs ?? [])])
    if (!roles.includes(v.role)) roles.push(v.role);
  for (const role of roles) {
    const va = a?.vmx.vmcs.find((v) => v.role === role);
    const vb = b?.vmx.vmcs.find((v) => v.role === role);
    out.push(...pairRows(role, va ? [...vmcsRows(va)] : null, vb ? [...vmcsRows(vb)] : null));
  }
  return out;
}
