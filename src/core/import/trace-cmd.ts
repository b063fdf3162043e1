// The text of `trace-cmd report` or of /sys/kernel/tracing/trace, read into a read-only list
// of KVM events. Each line is "TASK-PID [CPU] (FLAGS) SECONDS: EVENT: PAYLOAD"; the payloads
// follow the TP_printk formats of Linux arch/x86/kvm/trace.h, current and older ones:
//   kvm_entry                 "vcpu %u, rip 0x%lx" (newer kernels append intr_info, error_code, flags)
//   kvm_exit                  "vcpu %u reason %s rip 0x%lx info1 0x%016llx info2 0x%016llx
//                              intr_info 0x%08x error_code 0x%08x"  (older: "reason %s rip 0x%lx info %llx %llx")
//   kvm_nested_vmexit         the kvm_exit format (newer), or "rip: 0x%016llx reason: %s ext_inf1: ...
//                              ext_inf2: ... ext_int: 0x%08x ext_int_err: 0x%08x" (older)
//   kvm_nested_vmexit_inject  "reason: %s ext_inf1: ... ext_inf2: ... ext_int: ... ext_int_err: ..."
//   kvm_nested_intr_vmexit    "rip: 0x%016llx"
//   kvm_nested_vmenter        "rip: ... vmcs|vmcb: ... nested_rip: ... int_ctl: ... event_inj: 0x%08x
//                              nested_ept|nested_npt: on|off"  (kvm_nested_vmrun before it: "... nrip: ... npt: on|off",
//                              read as kvm_nested_vmenter)
//   kvm_inj_virq              "irq %u" (older), "IRQ|Soft/INTn 0x%x [reinjected]" (newer)
//   kvm_inj_exception         "#GP (0x0)", newer "#GP (0x0) [reinjected]", "#UD"
// Other tracepoints are counted and skipped; a line that is not a trace line, or a KVM event
// whose payload does not read, is reported with its line number and the rest is still read.
import { readExitReason, type ExitReason } from './exit-names';

export const IMPORTED_KINDS = [
  'kvm_entry',
  'kvm_exit',
  'kvm_inj_virq',
  'kvm_inj_exception',
  'kvm_nested_vmexit',
  'kvm_nested_vmexit_inject',
  'kvm_nested_intr_vmexit',
  'kvm_nested_vmenter',
] as const;
export type ImportedKind = (typeof IMPORTED_KINDS)[number];

export interface ImportedEvent {
  /** 1-based line in the text. */
  readonly line: number;
  readonly task: string;
  readonly pid: number;
  /** Host CPU the event was recorded on. */
  readonly cpu: number;
  /** Seconds, as the trace prints them. */
  readonly time: number;
  readonly kind: ImportedKind;
  /** vCPU id: from the event, else learned from another event of the same task; -1 unknown. */
  readonly vcpu: number;
  /** Guest RIP as printed (64-bit, so kept as text), or null. */
  readonly rip: string | null;
  readonly exit: Readonly<ExitReason> | null;
  /** Injected vector (kvm_inj_virq, kvm_inj_exception), or null. */
  readonly vector: number | null;
  readonly errorCode: number | null;
  /** kvm_exit intr_info, a nested exit's ext_int, kvm_nested_vmenter's event_inj; or null. */
  readonly intrInfo: number | null;
  readonly reinjected: boolean;
  /** Every field as printed. */
  readonly fields: Readonly<Record<string, string>>;
}

export interface ImportProblem {
  line: number;
  message: string;
}

export interface ImportedTrace {
  readonly events: readonly ImportedEvent[];
  readonly problems: readonly ImportProblem[];
  /** Trace lines of other tracepoints, by event name. */
  readonly skipped: Readonly<Record<string, number>>;
}

const LINE =
  /^\s*(.+?)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(?:[\w.]{1,8}\s+)?(\d+\.\d+):\s+([\w:]+):\s?(.*)$/;
const IGNORED = /^\s*(#.*|cpus=\d+|CPU \d+ is empty|version = .*|trace-cmd: .*)?\s*$/;
const X = '(0x[0-9a-f]+)';

/** Exception names printed by kvm_trace_sym_exc. */
const EXCEPTIONS: Record<string, number> = {
  DE: 0,
  DB: 1,
  BP: 3,
  OF: 4,
  BR: 5,
  UD: 6,
  NM: 7,
  DF: 8,
  TS: 10,
  NP: 11,
  SS: 12,
  GP: 13,
  PF: 14,
  MF: 16,
  AC: 17,
  MC: 18,
};

type Payload = Omit<ImportedEvent, 'line' | 'task' | 'pid' | 'cpu' | 'time' | 'kind' | 'vcpu'> & {
  vcpu: number;
};

const num = (s: string | undefined): number | null =>
  s === undefined ? null : parseInt(s, s.startsWith('0x') ? 16 : 10);
const empty = (): Payload => ({
  vcpu: -1,
  rip: null,
  exit: null,
  vector: null,
  errorCode: null,
  intrInfo: null,
  reinjected: false,
  fields: {},
});

function exitPayload(m: RegExpExecArray, names: string[]): Payload {
  const fields = Object.fromEntries(names.map((n, i) => [n, m[i + 1]]).filter(([, v]) => v !== undefined));
  return {
    ...empty(),
    fields,
    vcpu: fields.vcpu !== undefined ? Number(fields.vcpu) : -1,
    rip: fields.rip ?? null,
    exit: readExitReason(fields.reason),
    intrInfo: num(fields.intr_info ?? fields.ext_int),
    errorCode: num(fields.error_code ?? fields.ext_int_err),
  };
}

const EXIT_NEW = new RegExp(
  `^vcpu (\\d+) reason (.+?) rip ${X} info1 ${X} info2 ${X} intr_info ${X} error_code ${X}$`,
);
const EXIT_NEW_NAMES = ['vcpu', 'reason', 'rip', 'info1', 'info2', 'intr_info', 'error_code'];
const EXIT_OLD = /^reason (.+?) rip (0x[0-9a-f]+) info ([0-9a-f]+) ([0-9a-f]+)$/;
const NESTED_TAIL = `ext_inf1: ${X} ext_inf2: ${X} ext_int: ${X} ext_int_err: ${X}$`;
const NESTED_EXIT_OLD = new RegExp(`^rip: ${X} reason: (.+?) ${NESTED_TAIL}`);
const NESTED_INJECT = new RegExp(`^reason: (.+?) ${NESTED_TAIL}`);
const NESTED_NAMES = ['ext_inf1', 'ext_inf2', 'ext_int', 'ext_int_err'];
const VMENTER = new RegExp(
  `^rip: ${X} (vmcs|vmcb): ${X} (?:nested_rip|nrip): ${X} int_ctl: ${X} event_inj: ${X} (?:nested_)?(ept|npt): (on|off)$`,
);

/** Reads one KVM event's payload, or returns why it cannot. */
function readPayload(kind: ImportedKind, text: string): Payload | string {
  let m: RegExpExecArray | null;
  switch (kind) {
    case 'kvm_entry':
      if ((m = new RegExp(`^vcpu (\\d+), rip ${X}(.*)$`).exec(text))) {
        const fields: Record<string, string> = { vcpu: m[1], rip: m[2] };
        for (const [, k, v] of m[3].matchAll(/(intr_info|error_code) (0x[0-9a-f]+)/g)) fields[k] = v;
        return { ...empty(), fields, vcpu: Number(m[1]), rip: m[2], intrInfo: num(fields.intr_info) };
      }
      return 'expected "vcpu N, rip 0x..."';
    case 'kvm_exit':
    case 'kvm_nested_vmexit':
      if ((m = EXIT_NEW.exec(text))) return exitPayload(m, EXIT_NEW_NAMES);
      if (kind === 'kvm_exit' && (m = EXIT_OLD.exec(text)))
        return exitPayload(m, ['reason', 'rip', 'info1', 'info2']);
      if (kind === 'kvm_nested_vmexit' && (m = NESTED_EXIT_OLD.exec(text)))
        return exitPayload(m, ['rip', 'reason', ...NESTED_NAMES]);
      return 'expected "vcpu N reason NAME rip 0x... info1 0x... info2 0x... intr_info 0x... error_code 0x..."';
    case 'kvm_nested_vmexit_inject':
      if ((m = NESTED_INJECT.exec(text))) return exitPayload(m, ['reason', ...NESTED_NAMES]);
      return 'expected "reason: NAME ext_inf1: 0x... ext_inf2: 0x... ext_int: 0x... ext_int_err: 0x..."';
    case 'kvm_nested_intr_vmexit':
      if ((m = new RegExp(`^rip: ${X}$`).exec(text))) return { ...empty(), rip: m[1], fields: { rip: m[1] } };
      return 'expected "rip: 0x..."';
    case 'kvm_nested_vmenter':
      if ((m = VMENTER.exec(text))) {
        const fields = {
          rip: m[1],
          [m[2]]: m[3],
          nested_rip: m[4],
          int_ctl: m[5],
          event_inj: m[6],
          [`nested_${m[7]}`]: m[8],
        };
        return { ...empty(), fields, rip: m[1], intrInfo: num(m[6]) };
      }
      return 'expected "rip: 0x... vmcs: 0x... nested_rip: 0x... int_ctl: 0x... event_inj: 0x... nested_ept: on|off"';
    case 'kvm_inj_virq':
      if ((m = /^irq (\d+)$/.exec(text))) return { ...empty(), vector: Number(m[1]), fields: { irq: m[1] } };
      if ((m = /^(IRQ|Soft\/INTn) (0x[0-9a-f]+)( \[reinjected\])?$/.exec(text)))
        return { ...empty(), vector: num(m[2]), reinjected: !!m[3], fields: { type: m[1], irq: m[2] } };
      return 'expected "irq N" or "IRQ 0x.." / "Soft/INTn 0x.." (optionally "[reinjected]")';
    case 'kvm_inj_exception':
      if ((m = /^(?:#(\w+)|(0x[0-9a-f]+))(?: \((0x[0-9a-f]+)\))?( \[reinjected\])?$/.exec(text))) {
        const vector = m[1] !== undefined ? EXCEPTIONS[m[1]] : num(m[2]);
        if (vector === undefined) return `unknown exception #${m[1]}`;
        const fields: Record<string, string> = { exception: m[1] ? '#' + m[1] : m[2] };
        if (m[3]) fields.error_code = m[3];
        return { ...empty(), vector, errorCode: num(m[3]), reinjected: !!m[4], fields };
      }
      return 'expected "#XX (0x..)", e.g. "#GP (0x0)"';
  }
}

export function parseTraceCmd(text: string): ImportedTrace {
  const events: (ImportedEvent & { vcpu: number })[] = [];
  const problems: ImportProblem[] = [];
  const skipped: Record<string, number> = {};
  const vcpuOfTask = new Map<number, number>();
  const kinds = new Set<string>(IMPORTED_KINDS);
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (IGNORED.test(raw)) return;
    const m = LINE.exec(raw);
    if (!m) {
      problems.push({ line, message: 'not a trace line ("TASK-PID [CPU] SECONDS: EVENT: ...")' });
      return;
    }
    const [, task, pid, cpu, time, rawName, payload] = m;
    // kvm_nested_vmrun is what kernels before 5.12 called kvm_nested_vmenter (SVM only).
    const name = rawName.replace(/^kvm:/, '').replace(/^kvm_nested_vmrun$/, 'kvm_nested_vmenter');
    if (!kinds.has(name)) {
      skipped[name] = (skipped[name] ?? 0) + 1;
      return;
    }
    const kind = name as ImportedKind;
    const p = readPayload(kind, payload.trim());
    if (typeof p === 'string') {
      problems.push({ line, message: `${kind}: ${p}, got "${payload.trim()}"` });
      return;
    }
    if (p.vcpu >= 0) vcpuOfTask.set(Number(pid), p.vcpu);
    events.push({
      line,
      task: task.trim(),
      pid: Number(pid),
      cpu: Number(cpu),
      time: Number(time),
      kind,
      ...p,
    });
  });
  // Events that do not name their vCPU run in its task: learn the task's vCPU from any event.
  for (const e of events) if (e.vcpu < 0) e.vcpu = vcpuOfTask.get(e.pid) ?? -1;
  for (const e of events) {
    Object.freeze(e.fields);
    if (e.exit) Object.freeze(e.exit);
    Object.freeze(e);
  }
  return Object.freeze({
    events: Object.freeze(events),
    problems: Object.freeze(problems),
    skipped: Object.freeze(skipped),
  });
}
