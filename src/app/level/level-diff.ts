// What changed in a level between the view held before and the view shown now, as a set of
// field keys. The panel highlights exactly these.
import type { LevelView } from '../../core/engine/view';

export type ChangedFields = ReadonlySet<string>;

export const NOTHING_CHANGED: ChangedFields = new Set();

export function levelChanges(prev: LevelView | undefined, cur: LevelView): ChangedFields {
  if (!prev) return NOTHING_CHANGED;
  const changed = new Set<string>();
  const mark = (key: string, a: unknown, b: unknown) => {
    if (a !== b) changed.add(key);
  };
  const p = prev.cpu;
  const c = cur.cpu;
  mark('rip', p.rip, c.rip);
  mark('rflags', p.rflags, c.rflags);
  mark('if', p.if, c.if);
  mark('tf', p.tf, c.tf);
  mark('sti', p.interruptibility.sti, c.interruptibility.sti);
  mark('movss', p.interruptibility.movss, c.interruptibility.movss);
  mark('nmi-blocking', p.interruptibility.nmi, c.interruptibility.nmi);
  mark('vnmi-blocking', p.vnmiBlocked, c.vnmiBlocked);
  mark('mode', p.mode, c.mode);
  mark('running', p.running, c.running);
  mark('activity', p.activity, c.activity);
  mark('pending-nmi', p.pending.nmi, c.pending.nmi);
  mark('pending-intr', p.pending.intr, c.pending.intr);
  mark('pending-db', p.pendingDebug, c.pendingDebug);
  for (const k of ['cr0', 'cr3', 'cr4', 'cr8', 'dr7', 'dr6'] as const) mark(k, p.system?.[k], c.system?.[k]);
  mark('tsc', p.tsc, c.tsc);
  mark('work', p.workRemaining, c.workRemaining);
  mark('handler-depth', p.handlerDepth, c.handlerDepth);
  mark('nmi-depth', p.nmiDepth, c.nmiDepth);
  const before = new Map(p.regs.map((r) => [r.name, r.value]));
  for (const r of c.regs) mark(`reg:${r.name.toLowerCase()}`, before.get(r.name), r.value);

  const pa = prev.apic;
  const ca = cur.apic;
  mark('tpr', pa.tpr, ca.tpr);
  mark('ppr', pa.ppr, ca.ppr);
  for (const [name, was, now] of [
    ['irr', pa.irr, ca.irr],
    ['isr', pa.isr, ca.isr],
  ] as const) {
    const had = new Set(was);
    const has = new Set(now);
    if (had.size !== has.size || now.some((v) => !had.has(v))) changed.add(name);
    for (const v of now) if (!had.has(v)) changed.add(`${name}:${v}`);
  }
  return changed;
}
