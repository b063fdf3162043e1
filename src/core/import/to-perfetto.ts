// An imported trace as trace-event JSON, in the shape of the lab's own export: each vCPU is two
// threads, "vCPU n · guest" and "vCPU n · KVM". Guest slices run from kvm_entry to the next
// kvm_exit; KVM slices, named by exit reason, from kvm_exit to the next kvm_entry; injections
// and nested events are instants on the KVM thread; exits and entries are flow arrows.
// Time: the trace's seconds, in µs.
import { TraceEventBuilder, type TraceEventFile } from '../export/trace-event';
import { reasonLabel } from './summary';
import type { ImportedEvent, ImportedTrace } from './trace-cmd';

const INSTANT_NAME: Record<string, (e: ImportedEvent) => string> = {
  kvm_inj_virq: (e) =>
    `inject ${e.fields.type === 'Soft/INTn' ? 'INTn' : 'IRQ'} 0x${(e.vector ?? 0).toString(16)}`,
  kvm_inj_exception: (e) => `inject exception ${e.fields.exception}`,
  kvm_nested_vmexit: (e) => `nested exit ${reasonLabel(e)}`,
  kvm_nested_vmexit_inject: (e) => `exit to L1: ${reasonLabel(e)}`,
  kvm_nested_intr_vmexit: () => 'nested exit for a pending interrupt',
  kvm_nested_vmenter: () => 'nested VM entry',
};

export function importToPerfetto(t: ImportedTrace, name: string): TraceEventFile {
  const b = new TraceEventBuilder();
  b.process(`trace-cmd · ${name}`);
  const vcpus = [...new Set(t.events.map((e) => e.vcpu))].sort((a, c) => a - c);
  const guestTid = (v: number) => 2 * (vcpus.indexOf(v) + 1);
  const kvmTid = (v: number) => guestTid(v) - 1;
  for (const v of vcpus) {
    const label = v < 0 ? 'vCPU ?' : `vCPU ${v}`;
    b.thread(kvmTid(v), `${label} · KVM`, 2 * vcpus.indexOf(v));
    b.thread(guestTid(v), `${label} · guest`, 2 * vcpus.indexOf(v) + 1);
  }
  const us = (s: number) => s * 1e6;
  /** Per vCPU: the entry whose guest slice is open, and where its flow arrow starts (µs), if any. */
  const entryAt = new Map<number, { entry: ImportedEvent; from: number | null }>();
  /** Per vCPU: the exit whose KVM slice is open, and where its flow arrow starts (µs), if any. */
  const exitAt = new Map<number, { exit: ImportedEvent; from: number | null }>();
  const args = (e: ImportedEvent) => ({ line: e.line, task: `${e.task}-${e.pid}`, cpu: e.cpu, ...e.fields });
  for (const e of t.events) {
    const v = e.vcpu;
    if (e.kind === 'kvm_entry') {
      const open = exitAt.get(v);
      if (open) {
        const { exit, from } = open;
        b.slice(kvmTid(v), reasonLabel(exit), 'exit', us(exit.time), us(e.time), args(exit));
        if (from !== null) b.flow('VM exit', 'vmexit', guestTid(v), from, kvmTid(v), us(exit.time));
        exitAt.delete(v);
        entryAt.set(v, { entry: e, from: us((exit.time + e.time) / 2) });
      } else entryAt.set(v, { entry: e, from: null });
    } else if (e.kind === 'kvm_exit') {
      const openEntry = entryAt.get(v);
      let from: number | null = null;
      if (openEntry) {
        const { entry } = openEntry;
        b.slice(guestTid(v), 'guest', 'guest', us(entry.time), us(e.time), args(entry));
        if (openEntry.from !== null)
          b.flow('VM entry', 'vmentry', kvmTid(v), openEntry.from, guestTid(v), us(entry.time));
        from = us((entry.time + e.time) / 2);
        entryAt.delete(v);
      }
      exitAt.set(v, { exit: e, from });
    } else b.instant(kvmTid(v), INSTANT_NAME[e.kind](e), e.kind, us(e.time), args(e));
  }
  // An exit with no entry after it: its reason as an instant.
  for (const [v, { exit }] of exitAt)
    b.instant(kvmTid(v), reasonLabel(exit), 'exit', us(exit.time), args(exit));
  return b.file({ source: name, clock: 'trace seconds, in µs', problems: t.problems.length });
}
