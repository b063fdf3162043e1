// Turning state and trace records into the views the faces show (see view.ts).
import { REG64 } from '../asm/ir';
import { deliverableVector, ppr, vectorsOf } from '../cpu/apic';
import { Activity, RFLAGS, Shadow, nmiDepth } from '../cpu/state';
import type { CompiledScenario } from '../scenario/load';
import type { SimState } from './machine';
import type { Trace } from './trace';
import { EVENT_KIND_NAMES, EventKind, type LevelView, type TraceEventView } from './view';

export const hex = (v: number, digits = 0): string => '0x' + (v >>> 0).toString(16).padStart(digits, '0');

export function hex64(lo: number, hi: number): string {
  return '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

export function levelName(c: CompiledScenario, i: number): string {
  const lv = c.scenario.levels[i];
  return `L${i} · ${lv.name ?? 'bare metal'}`;
}

export function describeLevel(c: CompiledScenario, s: SimState, i: number): LevelView {
  const cpu = s.cpu;
  const prog = c.programs[i];
  const off = cpu.rip - prog.origin;
  const idx = off >= 0 && off < prog.indexAt.length ? prog.indexAt[off] : -1;
  const ins = idx >= 0 ? prog.instrs[idx] : null;
  const pendingVector = deliverableVector(s.apic);
  const irr = vectorsOf(s.apic.irr);
  return {
    index: i,
    name: levelName(c, i),
    kind: 'program',
    cpu: {
      regs: REG64.map((name, r) => ({ name, value: hex64(cpu.regs[2 * r], cpu.regs[2 * r + 1]) })),
      rip: cpu.rip,
      rflags: cpu.rflags,
      if: (cpu.rflags & RFLAGS.IF) !== 0,
      tf: (cpu.rflags & RFLAGS.TF) !== 0,
      interruptibility: {
        sti: (cpu.shadow & Shadow.STI) !== 0,
        movss: (cpu.shadow & Shadow.MOVSS) !== 0,
        nmi: cpu.nmiBlocked,
      },
      activity:
        cpu.activity === Activity.HLT ? 'hlt' : cpu.activity === Activity.SHUTDOWN ? 'shutdown' : 'active',
      pending: {
        nmi: cpu.nmiPending,
        intr: pendingVector >= 0 ? pendingVector : irr.length ? irr[irr.length - 1] : null,
      },
      workRemaining: cpu.workRemaining,
      tsc: s.time,
      handlerDepth: cpu.frames.length / 3,
      nmiDepth: nmiDepth(cpu),
    },
    apic: { irr, isr: vectorsOf(s.apic.isr), tpr: s.apic.tpr, ppr: ppr(s.apic) },
    line: ins ? ins.line : null,
    nextInstruction: ins ? ins.text : null,
  };
}

/** Named data of a trace record, per kind. */
export function eventData(kind: number, d0: number, d1: number, d2: number): Record<string, number> {
  switch (kind) {
    case EventKind.INSTR:
      return { instruction: d0 };
    case EventKind.IRET:
      return { instruction: d0, returnRip: d2 };
    case EventKind.ASSERT:
      return { instruction: d0, passed: d1 };
    case EventKind.DELIVER: {
      const data: Record<string, number> = {
        vector: d0 & 0xff,
        type: (d0 >>> 8) & 7,
        handler: d2,
        wokeFromHlt: (d0 >>> 25) & 1,
      };
      if (d0 & (1 << 11)) data.errorCode = d1;
      if (d0 & (1 << 24)) data.originalVector = (d0 >>> 16) & 0xff;
      return data;
    }
    case EventKind.RAISE:
      return { vector: d0 & 0xff, type: (d0 >>> 8) & 7, event: d1, whileHalted: d2 };
    case EventKind.SHUTDOWN:
      return { vector: d0 & 0xff, type: (d0 >>> 8) & 7 };
    default:
      return {};
  }
}

export function describeEvent(t: Trace, step: number): TraceEventView | null {
  if (step < 1 || step > t.length) return null;
  const i = step - 1;
  const kind = t.kind[i];
  return {
    step,
    time: t.time[i],
    level: t.level[i],
    kind: EVENT_KIND_NAMES[kind],
    rip: t.rip[i],
    data: eventData(kind, t.d0[i], t.d1[i], t.d2[i]),
  };
}
