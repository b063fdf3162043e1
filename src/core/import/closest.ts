// "Explain this exit": the built-in scenarios closest to an exit of an imported trace, by exit
// reason. The index is computed from the built-ins' own runs (default parameters): which VM exit
// reasons each run takes, and how often. An SVM exit is first matched to the VMX exit reason
// that plays its part in KVM (a documented assumption, see docs/export-import.md).
import { openSession } from '../engine/session';
import { EventKind } from '../engine/view';
import { BUILTIN_SCENARIOS } from '../scenario/builtins';
import type { ExitReason } from './exit-names';

export interface BuiltinExits {
  name: string;
  title: string;
  /** Basic VMX exit reason → how many times the run exits for it. */
  exits: Record<number, number>;
}

/** SVM exit code → the VMX basic exit reason KVM handles the same way. */
const SVM_TO_VMX: Record<number, number> = {
  0x60: 1, // interrupt → EXTERNAL_INTERRUPT
  0x61: 0, // nmi → EXCEPTION_NMI
  0x63: 3, // init → INIT_SIGNAL
  0x64: 7, // vintr (KVM's interrupt window on SVM) → INTERRUPT_WINDOW
  0x6e: 16, // rdtsc
  0x6f: 15, // rdpmc
  0x72: 10, // cpuid
  0x74: 8, // iret (KVM's NMI window on SVM without vNMI) → NMI_WINDOW
  0x77: 40, // pause
  0x78: 12, // hlt
  0x79: 14, // invlpg
  0x7b: 30, // io → IO_INSTRUCTION
  0x7d: 9, // task_switch
  0x7f: 2, // shutdown → TRIPLE_FAULT
  0x80: 24, // vmrun → VMRESUME (a nested VM entry)
  0x81: 18, // hypercall (VMMCALL) → VMCALL
  0x87: 51, // rdtscp
  0x89: 54, // wbinvd
  0x8a: 39, // monitor
  0x8b: 36, // mwait
  0x8d: 55, // xsetbv
  0x400: 48, // npf → EPT_VIOLATION
};

/** The VMX basic exit reason an imported exit stands for, or null. */
export function vmxEquivalent(
  exit: ExitReason,
  fields: Readonly<Record<string, string>> = {},
): number | null {
  if (exit.code === null) return null;
  if (exit.isa !== 'svm') return exit.code & 0xffff;
  const c = exit.code;
  if (c >= 0x40 && c <= 0x5f) return 0; // exceptions → EXCEPTION_NMI
  if (c <= 0x1f) return 28; // CR reads and writes → CR_ACCESS
  if (c <= 0x3f) return 29; // DR accesses → DR_ACCESS
  if (c === 0x7c) return fields.info1 !== undefined && BigInt(fields.info1) === 1n ? 32 : 31; // msr: EXITINFO1 1 = WRMSR
  return SVM_TO_VMX[c] ?? null;
}

let cached: BuiltinExits[] | null = null;

/** Each built-in's exits by reason, from its run with default parameters (computed once). */
export function builtinExitIndex(): BuiltinExits[] {
  if (cached) return cached;
  cached = [];
  for (const doc of BUILTIN_SCENARIOS) {
    const o = openSession({ doc }, {});
    if (!o.ok) continue;
    const t = o.session.sim.trace;
    const exits: Record<number, number> = {};
    for (let i = 0; i < t.length; i++)
      if (t.kind[i] === EventKind.VMEXIT && !(t.d0[i] & 0x80000000)) {
        const r = t.d0[i] & 0xffff;
        exits[r] = (exits[r] ?? 0) + 1;
      }
    const d = doc as { name: string; title: string };
    cached.push({ name: d.name, title: d.title, exits });
  }
  return cached;
}

/** Built-ins whose runs take exit `reason`, the ones where it is the largest share of their
 *  exits first (the scenario about that exit rather than one that passes through it), then by
 *  count; at most `limit`. */
export function closestBuiltins(reason: number, index: BuiltinExits[], limit = 3): BuiltinExits[] {
  const total = (b: BuiltinExits) => Object.values(b.exits).reduce((x, y) => x + y, 0);
  const share = (b: BuiltinExits) => b.exits[reason] / total(b);
  return index
    .filter((b) => (b.exits[reason] ?? 0) > 0)
    .sort((a, b) => share(b) - share(a) || b.exits[reason] - a.exits[reason] || a.name.localeCompare(b.name))
    .slice(0, limit);
}
