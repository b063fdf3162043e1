// Explanations of the SVM steps: VMRUN (entered, or VMEXIT_INVALID with the check that
// failed), #VMEXIT with its exit code, EXITINFO and EXITINTINFO, and STGI/CLGI, each citing the
// AMD APM vol. 2 section it follows.
import { Op } from '../asm/ir';
import { EventKind, type Explanation } from './view';
import type { CompiledScenario } from '../scenario/load';
import type { SimState } from './machine';
import { hex } from './describe';
import { svmExitName } from '../svm/exit-codes';
import { INT_CTL } from '../svm/bits';
import { vmrunCheck } from '../svm/vmrun';

const APM = 'AMD64 APM Vol. 2, "Secure Virtual Machine"';
const CITE = {
  vmrun: `${APM}: "VMRUN Instruction", "Event Injection"`,
  invalid: `${APM}: "VMRUN Instruction": "Canonicalization and Consistency Checks"`,
  exit: `${APM}: "#VMEXIT", "Intercept Operation"`,
  events: `${APM}: "Global Interrupt Flag", "Physical (INTR) Interrupt Masking in EFLAGS", "NMI Intercept"`,
  vintr: `${APM}: "Virtual Interrupts": "Virtual Interrupt Intercept"`,
  intinfo: `${APM}: "Event Injection": EXITINTINFO ("Interrupted Event Delivery")`,
  gif: `${APM}: "Global Interrupt Flag", "STGI", "CLGI" (and "Virtual GIF")`,
} as const;

const SVM_TYPE: Record<number, string> = { 0: 'INTR', 2: 'NMI', 3: 'exception', 4: 'software interrupt' };

/** An EVENTINJ / EXITINTINFO word in words. */
export function describeSvmEvent(w: number): string {
  if (!(w & 0x80000000)) return 'none';
  const type = (w >>> 8) & 7;
  return `${SVM_TYPE[type] ?? `reserved type ${type}`}, vector ${hex(w & 0xff)}${w & 0x800 ? ', with error code' : ''}`;
}

export function explainSvm(
  c: CompiledScenario,
  prev: SimState | null,
  cur: SimState,
  kind: number,
  d0: number,
  d1: number,
  d2: number,
  lane: number,
): Explanation | null {
  if (!prev || c.scenario.arch !== 'svm') return null;
  const lanes = c.lanes;
  if (kind === EventKind.VMENTRY) {
    const guest = lanes[cur.lane]?.name ?? `L${cur.lane}`;
    const inj =
      d0 & 0x80000000
        ? ` EVENTINJ (${describeSvmEvent(d0)}) was delivered through the guest IDT; the guest starts at ${hex(d2)}.`
        : ` The guest starts at ${hex(d2)}.`;
    return {
      text: `VMRUN into ${guest}: the host's state was saved to VM_HSAVE_PA, the guest's loaded from the VMCB, GIF = 1.${inj}`,
      cite: CITE.vmrun,
    };
  }
  if (kind === EventKind.VMEXIT) {
    const host = lanes[cur.lane]?.name ?? `L${cur.lane}`;
    if (d0 === 0xffffffff) {
      const bytes = prev.mems[lanes[lane]?.program ?? 0]?.bytes;
      const why = bytes && cur.svm.vmcb >= 0 ? vmrunCheck({ bytes, stackLimit: 0 }, cur.svm.vmcb) : null;
      return {
        text: `VMRUN failed its consistency checks: #VMEXIT with EXITCODE -1 (VMEXIT_INVALID)${why ? `: ${why}` : ''}. No guest instruction ran; ${host} continues after VMRUN with GIF = 0.`,
        cite: CITE.invalid,
      };
    }
    const name = svmExitName(d0);
    const intinfo =
      d2 & 0x80000000
        ? ` It interrupted the delivery of ${describeSvmEvent(d2)}, saved in EXITINTINFO for the hypervisor to re-inject.`
        : '';
    const pending =
      d0 === 0x60 || d0 === 0x61
        ? ` The ${d0 === 0x60 ? 'interrupt is not acknowledged' : 'NMI is not consumed'}: it stays pending and reaches ${host} once GIF = 1 (STGI).`
        : '';
    return {
      text: `#VMEXIT, exit code ${hex(d0)} (${name}), EXITINFO1 ${hex(d1)}. The guest's state was saved to the VMCB (EVENTINJ.V cleared); ${host} continues after its VMRUN with the state from VM_HSAVE_PA and GIF = 0.${intinfo}${pending}`,
      cite:
        d2 & 0x80000000
          ? CITE.intinfo
          : d0 === 0x64
            ? CITE.vintr
            : d0 >= 0x60 && d0 <= 0x63
              ? CITE.events
              : CITE.exit,
    };
  }
  if (kind === EventKind.DELIVER && prev.svm.guest && cur.svm.guest) {
    // A virtual interrupt or a virtual NMI: the processor's int_ctl, not the APIC.
    const vector = d0 & 0xff;
    const where = `to ${hex(d2)} through the guest's IDT`;
    if (prev.svm.intCtl & INT_CTL.V_IRQ_MASK && !(cur.svm.intCtl & INT_CTL.V_IRQ_MASK))
      return {
        text: `Delivered the virtual interrupt V_IRQ, vector ${hex(vector)} (int_vector), ${where}: the guest's IF was 1 and V_INTR_PRIO ${(prev.svm.intCtl >>> 16) & 0xf} ${prev.svm.intCtl & INT_CTL.V_IGN_TPR_MASK ? 'with V_IGN_TPR' : `above V_TPR ${prev.svm.intCtl & 0xf}`}. Taking it cleared V_IRQ; no APIC state changes.`,
        cite: `${APM}: "Virtual Interrupts"`,
      };
    if (prev.svm.intCtl & INT_CTL.V_NMI_PENDING_MASK && !(cur.svm.intCtl & INT_CTL.V_NMI_PENDING_MASK))
      return {
        text: `Delivered the virtual NMI (V_NMI) ${where}: V_NMI was pending and V_NMI_MASK clear. V_NMI is cleared and V_NMI_MASK set until the guest's IRET.`,
        cite: `${APM}: "NMI Virtualization"`,
      };
  }
  if (kind === EventKind.INSTR) {
    const ins = c.programs[lanes[lane].program].instrs[d0];
    if (!ins || (ins.op !== Op.STGI && ins.op !== Op.CLGI)) return null;
    const set = ins.op === Op.STGI;
    const virtual = cur.svm.guest ? ' (V_GIF with vGIF)' : '';
    return {
      text: `Retired \`${ins.text}\` (line ${ins.line}): GIF${virtual} = ${set ? 1 : 0}${set ? ': interrupts and NMIs held pending may now be taken' : ': INTR and NMI are held pending until STGI'}.`,
      cite: CITE.gif,
    };
  }
  return null;
}
