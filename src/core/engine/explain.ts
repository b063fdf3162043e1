// One plain-language line per step: what happened and why, with the SDM section it follows.
// Computed from the states before and after the step and the step's trace record.
import { Op } from '../asm/ir';
import { X2APIC, deliverableVector, vectorsOf } from '../cpu/apic';
import { RFLAGS, Shadow } from '../cpu/state';
import type { CompiledScenario } from '../scenario/load';
import { EXCEPTION_VECTORS } from '../vmx/exceptions';
import { hex, labelAt } from './describe';
import { explainKvm } from './explain-kvm';
import { explainVmx } from './explain-vmx';
import { explainSvm } from './explain-svm';
import { explainXen } from './explain-xen';
import { isXenFunction } from '../hypervisors/xen/functions';
import type { SimState } from './machine';
import { EVENT_TYPE_NAMES, EventKind, EventType, type Explanation } from './view';
import { INT_CTL } from '../svm/bits';

/** int_ctl V_NMI_BLOCKING (V_NMI_MASK), AMD SVM. */
const V_NMI_BLOCKING = INT_CTL.V_NMI_BLOCKING_MASK;
const SDM3 = 'Intel SDM Vol. 3A';
const CITE = {
  delivery: `${SDM3}, "Interrupt and Exception Handling": "Exception and Interrupt Handling in 64-Bit Mode"`,
  priority: `${SDM3}, "Priority Among Concurrent Events"`,
  nmi: `${SDM3}, "NMI Handling"`,
  apicAccept: `${SDM3}, "Advanced Programmable Interrupt Controller": "Interrupt Acceptance for Fixed Interrupts"`,
  eoi: `${SDM3}, "Advanced Programmable Interrupt Controller": "End-Of-Interrupt (EOI)"`,
  tpr: `${SDM3}, "Advanced Programmable Interrupt Controller": "Task Priority Register (TPR)", "Processor Priority Register (PPR)"`,
  icr: `${SDM3}, "Advanced Programmable Interrupt Controller": "Interrupt Command Register (ICR)"`,
  sti: 'Intel SDM Vol. 2B, "STI—Set Interrupt Flag"',
  movss: 'Intel SDM Vol. 2B, "MOV—Move" (loading SS inhibits interrupts for one instruction)',
  hlt: 'Intel SDM Vol. 2A, "HLT—Halt"',
  iret: 'Intel SDM Vol. 2A, "IRET/IRETD/IRETQ—Interrupt Return"',
  cli: 'Intel SDM Vol. 2A, "CLI—Clear Interrupt Flag"',
  popf: 'Intel SDM Vol. 2B, "POPF/POPFD/POPFQ—Pop Stack Into EFLAGS Register"',
  df: `${SDM3}, "Interrupt 8—Double Fault Exception (#DF)"`,
  np: `${SDM3}, "IDT Descriptors" and "Interrupt 11—Segment Not Present (#NP)"`,
  gp: 'Intel SDM Vol. 2B, "WRMSR—Write to Model Specific Register" (#GP for a reserved or read-only MSR)',
  singleStep: `${SDM3}, "Debug Exceptions": "Single-Step Exception Condition"`,
} as const;

function eventName(vector: number, type: number): string {
  if (type === EventType.NMI) return 'NMI';
  if (type === EventType.EXTINT) return `external interrupt, vector ${hex(vector)},`;
  if (type === EventType.SW_INT) return `software interrupt INT ${hex(vector)}`;
  const e = EXCEPTION_VECTORS[vector];
  return `${e?.mnemonic || 'exception'} (vector ${vector})`;
}

/** An address as "'label' (0x…)" when a label of the program names it. */
function named(c: CompiledScenario, program: number, addr: number): string {
  const name = labelAt(c, program, addr);
  return name ? `'${name}' (${hex(addr)})` : hex(addr);
}

/** Why nothing was delivered at the boundary before this instruction, when something waited. */
function whyNotDelivered(prev: SimState): string {
  const cpu = prev.cpu;
  const waits: string[] = [];
  if (cpu.nmiPending) {
    if (cpu.nmiBlocked) waits.push('the pending NMI waited: NMIs are blocked until the next IRET');
    else if (cpu.shadow)
      waits.push(`the pending NMI waited: blocking by ${cpu.shadow & Shadow.STI ? 'STI' : 'MOV SS'}`);
  }
  const irr = vectorsOf(prev.apic.irr);
  if (irr.length) {
    const top = irr[irr.length - 1];
    if (deliverableVector(prev.apic) < 0)
      waits.push(`IRQ ${hex(top)} waited in the IRR: its priority class was not above the PPR`);
    else if (!(cpu.rflags & RFLAGS.IF)) waits.push(`IRQ ${hex(top)} waited in the IRR: IF was 0`);
    else if (cpu.shadow)
      waits.push(`IRQ ${hex(top)} waited: blocking by ${cpu.shadow & Shadow.STI ? 'STI' : 'MOV SS'}`);
  }
  return waits.length ? ` Before this instruction ${waits.join('; ')}.` : '';
}

function explainInstruction(
  c: CompiledScenario,
  program: number,
  prev: SimState,
  cur: SimState,
  index: number,
): Explanation {
  const ins = c.programs[program].instrs[index];
  const head = `Retired \`${ins.text}\` (line ${ins.line}).`;
  const why = whyNotDelivered(prev);
  const ifWas = (prev.cpu.rflags & RFLAGS.IF) !== 0;
  const ifNow = (cur.cpu.rflags & RFLAGS.IF) !== 0;
  switch (ins.op) {
    case Op.STI:
      return cur.cpu.shadow & Shadow.STI
        ? {
            text: `${head} IF 0→1, with blocking by STI: no interrupt is taken before the next instruction completes.${why}`,
            cite: CITE.sti,
          }
        : {
            text: `${head} IF was already 1, so this STI creates no interrupt shadow (a second STI does not extend one).${why}`,
            cite: CITE.sti,
          };
    case Op.CLI:
      return {
        text: `${head} IF ${ifWas ? '1→0' : 'stays 0'}: maskable interrupts now wait in the IRR; NMIs are not affected.${why}`,
        cite: CITE.cli,
      };
    case Op.HLT: {
      const wake = ifNow ? 'an unmasked interrupt or an NMI' : 'only an NMI (IF=0)';
      return {
        text: `${head} The processor halts; ${wake} can resume it, at the instruction after HLT.${why}`,
        cite: CITE.hlt,
      };
    }
    case Op.MOV_SS:
      return cur.cpu.shadow & Shadow.MOVSS
        ? {
            text: `${head} Loading SS blocks interrupts and NMIs until the next instruction completes.${why}`,
            cite: CITE.movss,
          }
        : {
            text: `${head} Already inside a MOV SS shadow: a second MOV SS does not extend it.${why}`,
            cite: CITE.movss,
          };
    case Op.POPF:
      return {
        text: `${head} RFLAGS loaded from the stack${ifWas !== ifNow ? `: IF ${ifWas ? '1→0' : '0→1'}, without an interrupt shadow` : ''}.${why}`,
        cite: CITE.popf,
      };
    case Op.WRMSR: {
      const msr = prev.cpu.regs[2];
      if (msr === X2APIC.EOI) {
        const before = vectorsOf(prev.apic.isr);
        const v = before[before.length - 1];
        return {
          text: `${head} EOI: the highest in-service vector${v !== undefined ? ` ${hex(v)}` : ''} leaves the ISR, so lower-priority interrupts can be accepted again.${why}`,
          cite: CITE.eoi,
        };
      }
      if (msr === X2APIC.TPR)
        return {
          text: `${head} TPR ← ${hex(cur.apic.tpr)}: only vectors whose class (vector >> 4) is above ${cur.apic.tpr >> 4} can be delivered.${why}`,
          cite: CITE.tpr,
        };
      if (msr === X2APIC.ICR || msr === X2APIC.SELF_IPI) {
        const nmi = !prev.cpu.nmiPending && cur.cpu.nmiPending;
        const newIrr = vectorsOf(cur.apic.irr).filter((v) => !vectorsOf(prev.apic.irr).includes(v));
        const what = nmi
          ? 'an NMI to itself: NMI pending'
          : newIrr.length
            ? `a fixed self-IPI: IRR bit ${hex(newIrr[0])} set`
            : 'an IPI that does not reach this processor (or merges with a pending one)';
        return {
          text: `${head} ${msr === X2APIC.ICR ? 'ICR' : 'SELF IPI'} write sends ${what}.${why}`,
          cite: CITE.icr,
        };
      }
      return { text: `${head} MSR ${hex(msr)} written.${why}`, cite: null };
    }
    case Op.WORK:
      return {
        text: `${head} Spent ${(cur.time - prev.time).toLocaleString('en-US')} cycles of work.${why}`,
        cite: null,
      };
    default:
      return { text: `${head}${why}`, cite: why ? CITE.priority : null };
  }
}

/** A trace record, as explainStep reads it. */
export interface StepRecordView {
  kind: number;
  level: number;
  rip: number;
  d0: number;
  d1: number;
  d2: number;
}

const NO_RECORD: StepRecordView = { kind: 0, level: 0, rip: 0, d0: 0, d1: 0, d2: 0 };

/** Whether the IRET about to retire leaves an NMI handler: the innermost frame is an NMI's. */
function leavesNmiHandler(prev: SimState): boolean {
  const f = prev.cpu.frames;
  return f.length >= 3 && f[f.length - 1] === EventType.NMI;
}

export function explainStep(
  c: CompiledScenario,
  prev: SimState | null,
  cur: SimState,
  rec: StepRecordView = NO_RECORD,
): Explanation {
  // The program the acting lane runs (a host and its guest share one).
  const program = c.lanes[rec.level]?.program ?? 0;
  const { kind, d0, d1, d2 } = rec;
  const curK = cur.kvms[rec.level];
  const prevK = prev?.kvms[rec.level];
  if (prevK && curK && kind === EventKind.DECISION) {
    const level = c.scenario.levels[c.lanes[rec.level].level];
    return explainKvm(
      prevK,
      curK,
      d0,
      d1,
      d2,
      level.kind === 'kvm' ? level.options.era : 'current',
      rec.level,
      c.scenario.arch,
    );
  }
  if (prev?.xen && cur.xen && kind === EventKind.DECISION && isXenFunction(d0))
    return explainXen(prev.xen, cur.xen, d0, d1, d2);
  const svmText = explainSvm(c, prev, cur, kind, d0, d1, d2, rec.level);
  if (svmText) return svmText;
  const vmxText = explainVmx(c, prev, cur, kind, d0, d1, d2, rec.level);
  if (vmxText) return vmxText;
  if (!prev) {
    return {
      text: `${c.scenario.description ? `${c.scenario.description} — ` : ''}Initial state: RIP at ${named(c, program, cur.cpu.rip)}, IF=${cur.cpu.rflags & RFLAGS.IF ? 1 : 0}, RSP at the top of memory (${hex(cur.mems[0].bytes.length)}). Step forward to run.`,
      cite: null,
    };
  }
  switch (kind) {
    case EventKind.INSTR:
      return explainInstruction(c, program, prev, cur, d0);
    case EventKind.IRET: {
      let unblock = '';
      if (prev.cpu.vnmiBlocked && !cur.cpu.vnmiBlocked)
        unblock = ' Virtual-NMI blocking ends here (the CPU tracks it for the VMM).';
      else if (prev.svm.intCtl & V_NMI_BLOCKING && !(cur.svm.intCtl & V_NMI_BLOCKING))
        unblock = ' V_NMI_MASK is cleared (AMD NMI virtualization): a pending V_NMI can be taken.';
      else if (prev.cpu.nmiBlocked && !cur.cpu.nmiBlocked) unblock = ' NMI blocking ends here.';
      else if (cur.vmx.nonRoot && leavesNmiHandler(prev) && (cur.vmx.pin & 0x28) === 0x08)
        // "Changes to Instruction Behavior in VMX Non-Root Operation" (IRET): said at every IRET
        // out of a guest's NMI handler, whether or not blocking by NMI is still in effect (a VM
        // exit in the handler may have ended it already).
        unblock =
          ' With NMI exiting and no virtual NMIs, IRET in VMX non-root operation does not affect blocking by NMI, and nothing tells the VMM that the guest returned from its NMI handler.';
      const pending =
        cur.cpu.nmiPending && !cur.cpu.nmiBlocked ? ' The waiting NMI can now be delivered.' : '';
      return {
        text: `Retired \`iretq\`: returned to ${named(c, program, cur.cpu.rip)} with RFLAGS restored (IF=${cur.cpu.rflags & RFLAGS.IF ? 1 : 0}).${unblock}${pending}`,
        cite: unblock
          ? prev.svm.guest
            ? 'AMD64 APM Vol. 2, "Secure Virtual Machine": "NMI Virtualization"'
            : cur.vmx.nonRoot || prev.vmx.nonRoot
              ? 'Intel SDM Vol. 3C, "Changes to Instruction Behavior in VMX Non-Root Operation" (IRET)'
              : CITE.nmi
          : CITE.iret,
      };
    }
    case EventKind.ASSERT: {
      const ins = c.programs[program].instrs[d0];
      return {
        text:
          d1 === 2
            ? `skipped (line ${ins.line}): ${ins.message ?? ''}. Neither a pass nor a failure, like kvm-unit-tests' report_skip.`
            : `assert ${d1 ? 'passed' : 'FAILED'} (line ${ins.line}): ${ins.message ?? ins.text}`,
        cite: null,
      };
    }
    case EventKind.RAISE: {
      const vector = d0 & 0xff;
      const ev = c.scenario.events[d1];
      const note = ev?.note ? ` (${ev.note})` : '';
      const idle =
        d2 & 1
          ? ` ${prev.cpu.activity === 1 ? 'The processor was halted' : 'Nothing ran until then'}; time advanced to ${cur.time.toLocaleString('en-US')} cycles.`
          : '';
      const target = d2 >>> 8;
      if (target > 0 && cur.kvms[target - 1]) {
        const what =
          d0 >>> 8 === EventType.NMI
            ? 'kvm_inject_nmi: nmi_queued + 1 and KVM_REQ_NMI'
            : `kvm_apic_set_irq: IRR bit ${hex(vector)} set in the vCPU's emulated APIC and KVM_REQ_EVENT`;
        const kick =
          d2 & 2
            ? ` The vCPU is running, so kvm_vcpu_kick sends the reschedule IPI (${hex(0xfd)}) to force a VM exit.`
            : '';
        return {
          text: `${d0 >>> 8 === EventType.NMI ? 'NMI' : `IRQ ${hex(vector)}`} for L${target}'s vCPU${note}: ${what}.${idle}${kick}`,
          cite:
            d0 >>> 8 === EventType.NMI
              ? 'Linux arch/x86/kvm/x86.c kvm_inject_nmi(), kvm_vcpu_kick()'
              : 'Linux arch/x86/kvm/lapic.c kvm_apic_set_irq(), x86.c kvm_vcpu_kick()',
        };
      }
      if (d0 >>> 8 === EventType.NMI) {
        const lost = prev.cpu.nmiPending
          ? ' One NMI was already pending: the latch holds only one, so this one merges with it.'
          : '';
        const blocked = cur.cpu.nmiBlocked
          ? ' NMIs are blocked (an NMI handler is running) until its IRET.'
          : '';
        return { text: `External NMI raised${note}.${idle}${lost}${blocked}`, cite: CITE.nmi };
      }
      const merged =
        (prev.apic.irr[vector >>> 5] >>> (vector & 31)) & 1
          ? ' It was already pending in the IRR: the two requests become one.'
          : '';
      const exiting = cur.vmx.nonRoot && (cur.vmx.pin & 1) !== 0;
      const masked = exiting
        ? " The guest runs with external-interrupt exiting: it causes a VM exit whatever the guest's IF."
        : cur.cpu.rflags & RFLAGS.IF
          ? ''
          : ' IF=0, so it waits in the IRR.';
      return {
        text: `External IRQ, vector ${hex(vector)}, raised at the APIC: IRR bit ${hex(vector)} set${note}.${idle}${merged}${masked}`,
        cite: CITE.apicAccept,
      };
    }
    case EventKind.DELIVER: {
      const vector = d0 & 0xff;
      const type = (d0 >>> 8) & 7;
      const gate = gateKind(cur, program, vector);
      const woke = d0 & (1 << 25) ? 'The processor leaves HLT. ' : '';
      const esc =
        d0 & (1 << 24)
          ? `Vector ${hex((d0 >>> 16) & 0xff)} has no IDT gate, so the CPU raised ${eventName(vector, type)} instead. `
          : '';
      const err = d0 & (1 << 11) ? ` and error code ${hex(d1)}` : '';
      const ifNote =
        gate === 'interrupt' ? 'an interrupt gate, so IF is cleared' : 'a trap gate, so IF is left as it was';
      let extra = '';
      let cite: string = CITE.delivery;
      if (type === EventType.NMI) {
        extra = ' NMIs are now blocked until the next IRET.';
        cite = CITE.nmi;
      } else if (type === EventType.EXTINT) {
        extra = ` The APIC moved ${hex(vector)} from IRR to ISR.`;
        cite = CITE.apicAccept;
      }
      if (vector === 8) cite = CITE.df;
      else if (vector === 11 && type === EventType.HW_EXCEPTION) cite = CITE.np;
      else if (vector === 13 && type === EventType.HW_EXCEPTION) cite = CITE.gp;
      else if (vector === 1 && type === EventType.HW_EXCEPTION) {
        cite = CITE.singleStep;
        // DR6 reports the causes (SDM "Debug Status Register (DR6)"); an injected #DB leaves it.
        const dr6 = cur.cpu.dr[12];
        const bits = [0, 1, 2, 3].filter((n) => (dr6 >>> n) & 1).map((n) => `B${n} (breakpoint ${n})`);
        if (dr6 & 0x2000) bits.push('BD (general detect)');
        if (dr6 & 0x4000) bits.push('BS (single-step)');
        extra = ` DR6 is ${hex(dr6)}${bits.length ? `: ${bits.join(', ')}` : ''}.`;
      }
      const both =
        type === EventType.NMI && deliverableVector(prev.apic) >= 0 && prev.cpu.rflags & RFLAGS.IF
          ? ' An IRQ was also pending: NMIs come first.'
          : '';
      return {
        text: `${woke}${esc}Delivered ${eventName(vector, type)}${type === EventType.NMI || type === EventType.EXTINT ? '' : ` (${EVENT_TYPE_NAMES[type]})`} through ${ifNote}, to ${named(c, program, d2)}: pushed SS, RSP, RFLAGS, CS and return RIP ${hex(rec.rip)}${err}.${extra}${both}`,
        cite: both ? CITE.priority : cite,
      };
    }
    case EventKind.SHUTDOWN:
      return {
        text: `Triple fault: delivering ${eventName(d0 & 0xff, (d0 >>> 8) & 7)} needed #DF, and #DF itself could not be delivered. The processor shuts down.`,
        cite: CITE.df,
      };
    case EventKind.WAKE:
      return {
        text: `MWAIT's wait ends: an interrupt is pending, and MWAIT was given ECX[0] = 1, so interrupts are break events even with IF = 0. The interrupt is not delivered (it stays in the IRR); execution goes on at ${hex(rec.rip)}, after MWAIT.`,
        cite: 'Intel SDM Vol. 2B "MWAIT—Monitor Wait" (ECX[0]: treat interrupts as break events)',
      };
    default:
      return { text: 'Nothing happened.', cite: null };
  }
}

/** The kind of the gate for `vector` in the IDT the processor uses now (read from memory). */
function gateKind(s: SimState, program: number, vector: number): 'interrupt' | 'trap' | null {
  const m = s.mems[program].bytes;
  const at = s.cpu.idtr + vector * 16 + 5;
  if (at < 0 || at >= m.length || !(m[at] & 0x80)) return null;
  return (m[at] & 0xf) === 0xe ? 'interrupt' : 'trap';
}
