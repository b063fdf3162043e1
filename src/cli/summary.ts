// What the command line prints: a readable story of the run, or the whole trace as JSON.
import { svmExitName } from '../core/svm/exit-codes';
import { Op } from '../core/asm/ir';
import type { LabSession } from '../core/engine/session';
import { EVENT_TYPE_NAMES, EventKind, type LabError, type StepView } from '../core/engine/view';
import { exitReasonByCode } from '../core/vmx/exit-reasons';

/** Instructions that change how events are delivered: they belong in the story. */
const STORY_OPS = new Set<number>([
  Op.STI,
  Op.CLI,
  Op.HLT,
  Op.POPF,
  Op.MOV_SS,
  Op.WRMSR,
  Op.VMXON,
  Op.VMCLEAR,
  Op.VMPTRLD,
  Op.VMLAUNCH,
  Op.VMRESUME,
]);
const MAX_STORY_LINES = 400;

export function formatError(target: string, e: LabError): string {
  const where = e.where ? ` at ${e.where}` : '';
  return `${target}: ${e.kind} error${where}: ${e.message}`;
}

/** The steps worth telling: everything but plain instructions. */
export function storySteps(session: LabSession): number[] {
  const t = session.sim.trace;
  const prog = session.compiled.programs;
  const out: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const k = t.kind[i];
    if (
      k === EventKind.INSTR &&
      !STORY_OPS.has(prog[session.compiled.lanes[t.level[i]].program].instrs[t.d0[i]].op)
    )
      continue;
    out.push(i + 1);
  }
  return out;
}

function wrap(text: string, width = 96, indent = ''): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      out.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(indent + line);
  return out;
}

export interface StoryRange {
  from?: number;
  to?: number;
}

export function formatSummary(session: LabSession, range: StoryRange = {}): string {
  const info = session.info();
  const lines: string[] = [];
  lines.push(`nestlab · ${info.name} — ${info.title}`);
  lines.push(...wrap(info.description));
  if (info.params.length)
    lines.push(`parameters: ${info.params.map((p) => `${p.key}=${String(p.value)}`).join(' ')}`);
  lines.push(`levels: ${info.levels.map((l) => `${l.name} (${l.kind})`).join(', ')}`);
  if (session.fork) lines.push(`fork edits: ${session.fork.edits.map((e) => e.text).join('  ')}`);
  lines.push('');
  lines.push('   step        time  level  what happened');
  const steps = storySteps(session).filter((n) => n >= (range.from ?? 0) && n <= (range.to ?? Infinity));
  for (const n of steps.slice(0, MAX_STORY_LINES)) {
    const v = session.view(n);
    const ev = v.event!;
    lines.push(
      `${String(n).padStart(7)} ${String(ev.time).padStart(11)}  L${ev.level}     ${v.explanation.text}`,
    );
  }
  if (steps.length > MAX_STORY_LINES)
    lines.push(`   … ${steps.length - MAX_STORY_LINES} more (use --json for the whole trace)`);
  lines.push('');
  lines.push(...countsByLevel(session));
  const final = session.sim.stateAt(session.totalSteps);
  final.kvms.forEach((kvm, lane) => {
    if (!kvm?.log.length) return;
    lines.push(`KVM log (${session.compiled.lanes[lane].name}):`);
    for (const l of kvm.log) lines.push(`  step ${l.step}: ${l.text}`);
  });
  const { skipped } = info.assertions;
  lines.push(
    `assertions: ${info.assertions.passed} passed, ${info.assertions.failed} failed` +
      (skipped > 0 ? `, ${skipped} skipped` : ''),
  );
  for (const a of session.assertions)
    lines.push(
      `  ${a.passed ? 'pass' : a.skipped ? 'skip' : 'FAIL'}  step ${a.step}, L${a.level} line ${a.line}: ${a.message}`,
    );
  const { notReached } = info.assertions;
  if (notReached.length > 0) {
    lines.push(
      `not reached: ${notReached.length} (stages the run never got to, or failure paths it did not take)`,
    );
    for (const a of notReached) lines.push(`  -     L${a.level} line ${a.line}: ${a.message}`);
  }
  const end = info.expectedEnd;
  if (end)
    lines.push(
      end.reached
        ? `end: reached ${end.label} (L${end.level} line ${end.line}) at step ${end.step}`
        : `end: FAIL  the run ended at step ${info.totalSteps} before L${end.level} line ${end.line} (${end.label}), which limits.expectEnd asks it to reach`,
    );
  const endText: Record<string, string> = {
    halted: 'halted with nothing left that could wake it',
    shutdown: 'shut down (triple fault)',
    stopped: 'stopped: the hypervisor model could not go on (see its log)',
    'step-limit': 'stopped at its step limit',
    'time-limit': 'stopped at its time limit',
    running: 'stopped by an error',
  };
  lines.push(`run: ${info.totalSteps} steps, ${info.endTime} cycles; ${endText[info.endReason]}`);
  return lines.join('\n') + '\n';
}

export function formatTraceJson(session: LabSession): string {
  const info = session.info();
  return (
    JSON.stringify(
      {
        traceVersion: 1,
        scenario: info.name,
        params: Object.fromEntries(info.params.map((p) => [p.key, p.value])),
        ...(session.fork ? { fork: session.fork.edits.map((e) => e.text) } : {}),
        totalSteps: info.totalSteps,
        endTime: info.endTime,
        endReason: info.endReason,
        runError: session.runError(),
        assertions: session.assertions,
        assertionsNotReached: info.assertions.notReached,
        expectedEnd: info.expectedEnd,
        events: session.traceEvents(),
      },
      null,
      1,
    ) + '\n'
  );
}

/** `--at N`: the state after step N, as the app's panels show it. */
export function formatStepState(v: StepView): string {
  const lines: string[] = [`step ${v.step} of ${v.totalSteps}, time ${v.time} cycles`, v.explanation.text];
  if (v.explanation.cite) lines.push(`  (${v.explanation.cite})`);
  const hx = (n: number) => '0x' + n.toString(16);
  for (const l of v.levels) {
    const c = l.cpu;
    const blocking = Object.entries(c.interruptibility)
      .filter(([, on]) => on)
      .map(([k]) => k.toUpperCase());
    lines.push('');
    lines.push(
      `${l.name}: ${c.activity}, RIP ${hx(c.rip)}${l.nextInstruction ? ` (line ${l.line}: ${l.nextInstruction})` : ''}`,
    );
    lines.push(
      `  RFLAGS ${hx(c.rflags)} IF=${c.if ? 1 : 0} TF=${c.tf ? 1 : 0}  blocking: ${blocking.join(', ') || 'none'}`,
    );
    lines.push(
      `  pending: NMI ${c.pending.nmi ? 'yes' : 'no'}, INTR ${c.pending.intr === null ? 'none' : hx(c.pending.intr)}  handler depth ${c.handlerDepth}, NMI depth ${c.nmiDepth}`,
    );
    for (let i = 0; i < c.regs.length; i += 4) {
      lines.push(
        '  ' +
          c.regs
            .slice(i, i + 4)
            .map((r) => `${r.name.padStart(3)} ${r.value}`)
            .join('  '),
      );
    }
    const vec = (vs: number[]) => (vs.length ? vs.map(hx).join(' ') : 'empty');
    lines.push(
      `  APIC: IRR ${vec(l.apic.irr)}  ISR ${vec(l.apic.isr)}  TPR ${hx(l.apic.tpr)}  PPR ${hx(l.apic.ppr)}`,
    );
    if (l.kvm) lines.push(...kvmLines(l.kvm));
  }
  for (const vmcs of v.vmx.vmcs) {
    lines.push('');
    lines.push(
      `${vmcs.role} (L${vmcs.owner}'s VMCS for L${vmcs.runs}) at ${hx(vmcs.addr)}${vmcs.current ? ', current' : ''}, ${vmcs.launched ? 'launched' : 'clear'}; held by ${vmcs.heldBy}`,
    );
    const cells = vmcs.fields.map((f) => `${f.name} ${hx(f.value)}`);
    for (let i = 0; i < cells.length; i += 3) lines.push('  ' + cells.slice(i, i + 3).join('  '));
  }
  return lines.join('\n') + '\n';
}

/** The KVM model's state at a level, for --at. */
function kvmLines(k: NonNullable<StepView['levels'][number]['kvm']>): string[] {
  const out = [
    `  KVM: ${k.phase}; mp_state ${k.halted ? 'HALTED' : 'RUNNABLE'}; nmi_queued ${k.nmiQueued}, nmi_pending ${k.nmiPending}, nmi_injected ${k.nmiInjected ? 1 : 0}; interrupt ${k.irqInjected === null ? 'none' : '0x' + k.irqInjected.toString(16)}; requests ${k.requests.join(' ') || 'none'}`,
  ];
  if (!k.enableVnmi)
    out.push(`  soft_vnmi_blocked ${k.softVnmiBlocked ? 1 : 0}, vnmi_blocked_time ${k.vnmiBlockedTimeNs} ns`);
  const n = k.nested;
  if (n)
    out.push(
      `  nested: vmxon ${n.vmxon ? 1 : 0}, current_vmptr ${n.currentVmptr < 0 ? 'none' : '0x' + n.currentVmptr.toString(16)}, guest mode ${n.guestMode ? 1 : 0}, nested_run_pending ${n.runPending ? 1 : 0}, preemption_timer_expired ${n.preemptionTimerExpired ? 1 : 0}${n.preemptionTimerDeadline >= 0 ? ` (hrtimer at ${n.preemptionTimerDeadline})` : ''}`,
    );
  return out;
}

/** Deliveries through an IDT per level (injections by VM entry included) and VM exits per level. */
function countsByLevel(session: LabSession): string[] {
  const t = session.sim.trace;
  const lanes = session.compiled.lanes;
  const deliveries = new Map<number, Map<string, number>>();
  const exits = new Map<number, Map<string, number>>();
  const bump = (m: Map<number, Map<string, number>>, level: number, key: string) => {
    const inner = m.get(level) ?? new Map<string, number>();
    inner.set(key, (inner.get(key) ?? 0) + 1);
    m.set(level, inner);
  };
  for (let i = 0; i < t.length; i++) {
    const k = t.kind[i];
    if (k === EventKind.DELIVER) {
      bump(
        deliveries,
        t.level[i],
        `${EVENT_TYPE_NAMES[(t.d0[i] >>> 8) & 7]} 0x${(t.d0[i] & 0xff).toString(16)}`,
      );
    } else if (k === EventKind.VMENTRY && t.d0[i] & 0x80000000) {
      // An injected event is delivered through the IDT of the guest the entry entered: the
      // lane of the next event at another level.
      let j = i + 1;
      while (j < t.length && t.level[j] === t.level[i]) j++;
      const guest =
        j < t.length ? t.level[j] : lanes.findIndex((l, k) => k > t.level[i] && l.kind === 'guest');
      // An injected NMI is vector 2 whatever the vector bits say (SVM's EVENTINJ ignores them;
      // KVM writes 0).
      const type = (t.d0[i] >>> 8) & 7;
      const vector = type === 2 ? 2 : t.d0[i] & 0xff;
      bump(deliveries, guest, `${EVENT_TYPE_NAMES[type] ?? 'event'} 0x${vector.toString(16)} (injected)`);
    } else if (k === EventKind.VMEXIT && session.compiled.scenario.arch === 'svm') {
      bump(exits, t.level[i], svmExitName(t.d0[i]).replace(/^SVM_EXIT_/, '#VMEXIT '));
    } else if (k === EventKind.VMEXIT) {
      const r = exitReasonByCode(t.d0[i] & 0xffff);
      const name =
        `${t.d0[i] & 0x80000000 ? 'entry failure ' : ''}${t.d0[i] & 0xffff} ${r ? r.name.replace(/^EXIT_REASON_/, '') : ''}`.trim();
      bump(exits, t.level[i], name);
    }
  }
  const fmt = (title: string, m: Map<number, Map<string, number>>): string[] => {
    const out = [title];
    if (!m.size) out.push('  none');
    for (const [level, inner] of [...m].sort((a, b) => a[0] - b[0])) {
      const total = [...inner.values()].reduce((a, b) => a + b, 0);
      out.push(
        `  ${lanes[level]?.name ?? `L${level}`}: ${total} (${[...inner].map(([key, n]) => `${key} ×${n}`).join(', ')})`,
      );
    }
    return out;
  };
  const out = fmt('deliveries through the IDT:', deliveries);
  if (lanes.some((l) => l.kind === 'guest')) out.push(...fmt('VM exits, by the level that exited:', exits));
  return out;
}
