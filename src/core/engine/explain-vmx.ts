// Explanations of the VMX steps: VM entries, VM exits and the VMX instructions' outcomes,
// each with the SDM section it follows.
import { Op, REG64 } from '../asm/ir';
import { EVENT_TYPE_NAMES, EventKind, type Explanation } from './view';
import type { CompiledScenario } from '../scenario/load';
import type { SimState } from './machine';
import { hex } from './describe';
import { exitReasonByCode, vmInstructionError } from '../vmx/exit-reasons';
import { VmxOutcome } from '../vmx/instructions';
import { currentVmcs } from '../vmx/state';
import { F, readField } from '../vmx/vmcs';
import { checkControls, checkGuestState, checkHostState } from '../vmx/vm-entry';
import { vmxCaps } from '../vmx/capabilities';
import { describeSystemExit } from './explain-vmx-system';

const SDM3C = 'Intel SDM Vol. 3C';
const CITE = {
  entry: `${SDM3C}, "VM Entries": "Loading Guest State", "Event Injection"`,
  entryFail: `${SDM3C}, "VM Entries": "Checking and Loading Guest State" (failure: exit reason 33, bit 31)`,
  conventions: `${SDM3C}, "VMX Instruction Reference": "Conventions" (VMsucceed, VMfailInvalid, VMfailValid)`,
  windows: `${SDM3C}, "VMX Non-Root Operation": "Other Causes of VM Exits" (interrupt window, NMI window)`,
  timer: `${SDM3C}, "VMX Non-Root Operation": "VMX-Preemption Timer"`,
  mtf: `${SDM3C}, "VMX Non-Root Operation": "Monitor Trap Flag"`,
  instr: `${SDM3C}, "VMX Non-Root Operation": "Instructions That Cause VM Exits"`,
  events: `${SDM3C}, "VMX Non-Root Operation": "Exceptions", "External Interrupts", "Non-Maskable Interrupts (NMIs)"`,
  vectoring: `${SDM3C}, "VM Exits": "Information for VM Exits That Occur During Event Delivery"`,
} as const;

/** An interruption-information word in words: "NMI (vector 2)". */
export function describeIntrInfo(info: number): string {
  if (!(info & 0x80000000)) return 'none';
  const type = (info >>> 8) & 7;
  const vector = info & 0xff;
  const name = type === 7 ? 'other event (pending MTF)' : (EVENT_TYPE_NAMES[type] ?? `type ${type}`);
  return `${name}, vector ${hex(vector)}${info & 0x800 ? ', with error code' : ''}`;
}

/** "7 (INTERRUPT_WINDOW)": an exit reason's basic number and name. */
export function exitName(reason: number): string {
  const basic = reason & 0xffff;
  const r = exitReasonByCode(basic);
  return `${basic} (${r ? r.name.replace(/^EXIT_REASON_/, '') : 'unknown'})`;
}

function exitCite(basic: number): string {
  if (basic === 7 || basic === 8) return CITE.windows;
  if (basic === 52) return CITE.timer;
  if (basic === 37) return CITE.mtf;
  if (basic <= 2) return CITE.events;
  return CITE.instr;
}

export function explainVmx(
  c: CompiledScenario,
  prev: SimState | null,
  cur: SimState,
  kind: number,
  d0: number,
  d1: number,
  d2: number,
  lane: number,
): Explanation | null {
  if (!prev) return null;
  const lanes = c.lanes;
  if (kind === EventKind.VMENTRY) {
    const guest = lanes[cur.lane]?.name ?? `L${cur.lane}`;
    const launch = d1 ? 'VMLAUNCH' : 'VMRESUME';
    const inj =
      d0 & 0x80000000
        ? ` The injected event (${describeIntrInfo(d0)}) was delivered through the guest IDT; the guest starts at ${hex(d2)}.`
        : ` The guest starts at ${hex(d2)}.`;
    const vmcs = currentVmcs(cur.vmx);
    const timer =
      cur.vmx.timerDeadline >= 0 && vmcs
        ? ` The VMX-preemption timer was loaded with ${readField(vmcs, F.VMX_PREEMPTION_TIMER_VALUE)}.`
        : '';
    const mtf = cur.vmx.mtfPending
      ? ' An MTF VM exit is now pending before the first guest instruction.'
      : '';
    const bits = (cur.cpu.dbTrapPending ? 0x4000 : 0) | cur.cpu.dbPending;
    const dbg = bits
      ? ` GUEST_PENDING_DBG_EXCEPTIONS makes a #DB pending (${hex(bits)}): it comes at the first boundary with the priority of a debug trap, or exits if #DB is in the exception bitmap.`
      : '';
    return {
      text: `VM entry (${launch}) into ${guest}: guest state loaded from the VMCS.${inj}${timer}${mtf}${dbg}`,
      cite: CITE.entry,
    };
  }
  if (kind === EventKind.VMEXIT) {
    const failed = (d0 & 0x80000000) !== 0;
    const host = lanes[cur.lane]?.name ?? `L${cur.lane}`;
    if (failed) {
      const pv = currentVmcs(prev.vmx);
      const why = pv ? checkGuestState(pv, vmxCaps(c.scenario.features.vmx)) : null;
      return {
        text: `VM entry failed: exit reason ${hex(d0)} (invalid guest state${why ? `: ${why}` : ''}). No guest instruction ran; ${host} continues at HOST_RIP with the failure recorded in VM_EXIT_REASON and EXIT_QUALIFICATION only: the other exit-information fields, the guest state and a pending injection (its valid bit stays set) are as they were.`,
        cite: CITE.entryFail,
      };
    }
    const basic = d0 & 0xffff;
    const r = exitReasonByCode(basic);
    const info =
      d1 & 0x80000000
        ? ` VM_EXIT_INTR_INFO: ${describeIntrInfo(d1)}.`
        : basic === 1
          ? ' VM_EXIT_INTR_INFO is invalid (acknowledge interrupt on exit is 0): the interrupt stays pending in the IRR.'
          : '';
    const vect =
      d2 & 0x80000000
        ? ` It happened while delivering ${describeIntrInfo(d2)}, recorded in IDT_VECTORING_INFO_FIELD for re-injection.`
        : '';
    const nmi =
      basic === 0 && (d1 & 0x7ff) === 0x202
        ? ' The NMI is consumed; the host runs with NMIs blocked until its next IRET.'
        : '';
    const dbg = debugQualificationText(cur, basic, d1);
    return {
      text: `VM exit, reason ${exitName(d0)}${r ? `: ${r.description}` : ''}.${describeSystemExit(basic, currentVmcs(cur.vmx))} Guest state saved (GUEST_RIP ${hex(readGuestRip(cur))}); ${host} continues at HOST_RIP with RFLAGS 0x2.${info}${vect}${nmi}${dbg}`,
      cite: vect ? CITE.vectoring : exitCite(basic),
    };
  }
  if (kind === EventKind.INSTR) {
    const ins = c.programs[lanes[lane].program].instrs[d0];
    if (!ins || ins.op < Op.VMXON || ins.op > Op.VMCALL) return null;
    const head = `Retired \`${ins.text}\` (line ${ins.line}):`;
    if (d1 === VmxOutcome.SUCCEED)
      return { text: `${head} VMsucceed (CF = ZF = 0).`, cite: CITE.conventions };
    if (d1 === VmxOutcome.FAIL_INVALID)
      return {
        text: `${head} VMfailInvalid (CF = 1): no current VMCS or an invalid operand.`,
        cite: CITE.conventions,
      };
    const vmcs = currentVmcs(cur.vmx);
    const err = vmcs ? readField(vmcs, F.VM_INSTRUCTION_ERROR) : 0;
    const e = vmInstructionError(err);
    // For error 7, say which check failed: the checks are pure functions of the VMCS.
    const pv = currentVmcs(prev.vmx);
    const why =
      err === 7 && pv
        ? checkControls(vmxCaps(c.scenario.features.vmx), pv)
        : err === 8 && pv
          ? checkHostState(pv)
          : null;
    return {
      text: `${head} VMfailValid (ZF = 1), VM_INSTRUCTION_ERROR = ${err}${e ? `: ${e.description}` : ''}${why ? ` — ${why}` : ''}.`,
      cite:
        err === 7
          ? `${SDM3C}, "VM Entries": "Checks on VMX Controls"`
          : err === 8
            ? `${SDM3C}, "VM Entries": "Checks on the Host-State Area"`
            : CITE.conventions,
    };
  }
  return null;
}

function readGuestRip(s: SimState): number {
  const v = currentVmcs(s.vmx);
  return v ? readField(v, F.GUEST_RIP) : 0;
}

/**
 * The exit qualification of a #DB exit (SDM "Exit Qualification for VM Exits Due to Debug
 * Exceptions": B3–B0, BD, BS) or a MOV-DR exit ("... Due to MOV DR": register, direction, GPR).
 */
function debugQualificationText(cur: SimState, basic: number, intrInfo: number): string {
  const vmcs = currentVmcs(cur.vmx);
  if (!vmcs) return '';
  const q = readField(vmcs, F.EXIT_QUALIFICATION);
  if (basic === 0 && (intrInfo & 0x7ff) === 0x301) {
    const causes = [0, 1, 2, 3].filter((n) => (q >>> n) & 1).map((n) => `B${n}`);
    if (q & 0x2000) causes.push('BD');
    if (q & 0x4000) causes.push('BS');
    return ` Exit qualification ${hex(q)}: ${causes.length ? causes.join(', ') : 'no cause bits'} (as DR6 would have them; DR6 is unchanged).`;
  }
  if (basic === 29) {
    const gpr = REG64[(q >>> 8) & 0xf];
    const dr = `DR${q & 7}`;
    return ` Exit qualification ${hex(q)}: ${q & 0x10 ? `MOV ${gpr}, ${dr}` : `MOV ${dr}, ${gpr}`}.`;
  }
  return '';
}
