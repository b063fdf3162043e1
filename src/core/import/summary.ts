// What an imported trace holds: events per kind, exits per reason, and both per vCPU.
import type { ImportedTrace } from './trace-cmd';

export interface VcpuSummary {
  vcpu: number;
  events: number;
  exits: number;
  exitsByReason: Record<string, number>;
}

export interface ImportSummary {
  events: number;
  byKind: Record<string, number>;
  /** kvm_exit by reason ("EXTERNAL_INTERRUPT (1)", "GP excp (0x4d)"). */
  exitsByReason: Record<string, number>;
  /** kvm_nested_vmexit by reason: exits of a nested guest. */
  nestedExitsByReason: Record<string, number>;
  vcpus: VcpuSummary[];
  firstTime: number;
  lastTime: number;
}

const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

export function reasonLabel(e: {
  exit: { name: string; code: number | null; isa: string | null } | null;
}): string {
  const x = e.exit;
  if (!x) return '?';
  if (x.code === null || /^0x/.test(x.name)) return x.name;
  return `${x.name} (${x.isa === 'svm' ? '0x' + x.code.toString(16) : x.code})`;
}

export function summarizeImport(t: ImportedTrace): ImportSummary {
  const byKind: Record<string, number> = {};
  const exitsByReason: Record<string, number> = {};
  const nestedExitsByReason: Record<string, number> = {};
  const vcpus = new Map<number, VcpuSummary>();
  for (const e of t.events) {
    bump(byKind, e.kind);
    const v = vcpus.get(e.vcpu) ?? { vcpu: e.vcpu, events: 0, exits: 0, exitsByReason: {} };
    v.events++;
    if (e.kind === 'kvm_exit') {
      v.exits++;
      bump(v.exitsByReason, reasonLabel(e));
      bump(exitsByReason, reasonLabel(e));
    }
    if (e.kind === 'kvm_nested_vmexit') bump(nestedExitsByReason, reasonLabel(e));
    vcpus.set(e.vcpu, v);
  }
  return {
    events: t.events.length,
    byKind,
    exitsByReason,
    nestedExitsByReason,
    vcpus: [...vcpus.values()].sort((a, b) => a.vcpu - b.vcpu),
    firstTime: t.events[0]?.time ?? 0,
    lastTime: t.events[t.events.length - 1]?.time ?? 0,
  };
}

const sorted = (m: Record<string, number>) =>
  Object.entries(m).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

export function formatImportSummary(name: string, t: ImportedTrace): string {
  const s = summarizeImport(t);
  const lines = [
    `imported ${name}: ${s.events} KVM events` +
      (s.events
        ? `, ${((s.lastTime - s.firstTime) * 1e6).toFixed(0)} µs (${s.firstTime} s to ${s.lastTime} s)`
        : ''),
    '',
    'events by kind:',
  ];
  for (const [k, n] of sorted(s.byKind)) lines.push(`  ${k.padEnd(26)} ${n}`);
  lines.push('', 'exits by reason (kvm_exit):');
  if (!Object.keys(s.exitsByReason).length) lines.push('  none');
  for (const [k, n] of sorted(s.exitsByReason)) lines.push(`  ${k.padEnd(26)} ${n}`);
  if (Object.keys(s.nestedExitsByReason).length) {
    lines.push('', 'nested exits by reason (kvm_nested_vmexit):');
    for (const [k, n] of sorted(s.nestedExitsByReason)) lines.push(`  ${k.padEnd(26)} ${n}`);
  }
  lines.push('', 'per vCPU:');
  for (const v of s.vcpus)
    lines.push(
      `  ${v.vcpu < 0 ? 'vCPU ?' : `vCPU ${v.vcpu}`}: ${v.events} events, ${v.exits} exits` +
        (v.exits
          ? ` (${sorted(v.exitsByReason)
              .map(([k, n]) => `${k} ×${n}`)
              .join(', ')})`
          : ''),
    );
  const skipped = sorted(t.skipped);
  if (skipped.length)
    lines.push('', `other tracepoints skipped: ${skipped.map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  if (t.problems.length) {
    lines.push('', `${t.problems.length} line(s) not read:`);
    for (const p of t.problems) lines.push(`  line ${p.line}: ${p.message}`);
  }
  return lines.join('\n') + '\n';
}
