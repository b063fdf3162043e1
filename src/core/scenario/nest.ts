// Running a scenario under one more KVM level (npm run sim -- NAME --nest kvm, and the
// nesting-transparency test): the same levels one higher, KVM at L0 below them, and the
// external events aimed at the same interrupt controllers — the physical APIC the program saw
// at L0 is now the virtual APIC KVM emulates for it at L1.
import { ScenarioError } from './params';

type Doc = Record<string, unknown>;

/** Steps allowed per step of the original run: every VMX instruction of L1 is a KVM round trip. */
const STEP_FACTOR = 40;

export function nestUnderKvm(raw: unknown, kvmOptions: Record<string, unknown> = {}): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new ScenarioError('a scenario is a JSON object', null);
  const doc = structuredClone(raw) as Doc;
  const levels = doc.levels;
  if (!Array.isArray(levels) || levels.length === 0)
    throw new ScenarioError('--nest needs a scenario with levels', 'levels');
  doc.levels = [{ kind: 'kvm', name: 'KVM', options: kvmOptions }, ...levels];
  if (Array.isArray(doc.events)) {
    doc.events = doc.events.map((e) => {
      const ev = { ...(e as Doc) };
      ev.target = typeof ev.target === 'number' ? ev.target + 1 : 1;
      const at = ev.at as Doc | undefined;
      if (at && typeof at.level === 'number') ev.at = { ...at, level: at.level + 1 };
      return ev;
    });
  }
  const limits = { ...((doc.limits as Doc | undefined) ?? {}) };
  const steps = typeof limits.steps === 'number' ? limits.steps : 1_000_000;
  limits.steps = Math.min(50_000_000, steps * STEP_FACTOR);
  const end = limits.expectEnd as Doc | undefined;
  if (end && typeof end === 'object')
    limits.expectEnd = { ...end, level: (typeof end.level === 'number' ? end.level : 0) + 1 };
  doc.limits = limits;
  if (typeof doc.title === 'string') doc.title = `${doc.title} (under KVM)`;
  return doc;
}
