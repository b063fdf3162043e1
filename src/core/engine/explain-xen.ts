// Explanations of the Xen model's decisions: which Xen function decided what, and why, with
// the Xen source file and the AMD APM section the decision relies on.
import { hex } from './describe';
import type { Explanation } from './view';
import type { XenState } from '../hypervisors/xen/state';
import {
  Assist,
  INTBLK_NAMES,
  IntBlk,
  IntSrc,
  XEN_FN_BASE,
  XenFn,
  xenFunction,
} from '../hypervisors/xen/functions';
import { ExitDid, Hlt } from '../hypervisors/xen/exits';
import { svmExitName } from '../svm/exit-codes';

const APM = 'AMD64 APM Vol. 2, "Secure Virtual Machine"';
const SECTION: Record<number, string> = {
  [XenFn.svm_cpu_up]: '"Enabling SVM", "VM_HSAVE_PA MSR"',
  [XenFn.construct_vmcb]: '"VMCB Layout", "Intercept Operation", "NMI Virtualization"',
  [XenFn.svm_intr_assist]: '"Event Injection", "Virtual Interrupts", "NMI Virtualization"',
  [XenFn.svm_vmexit_handler]: '"#VMEXIT", "Event Injection" (EXITINTINFO)',
  [XenFn.do_IRQ]: '"Global Interrupt Flag", "STGI"',
  [XenFn.do_nmi]: '"Global Interrupt Flag", "STGI"',
  [XenFn.svm_vmexit_do_hlt]: '"Instruction Intercepts" (HLT)',
  [XenFn.svm_do_msr_access]: '"MSR Intercepts"',
  [XenFn.vcpu_unblock]: '"Virtual Interrupts"',
  [XenFn.domain_crash]: '"VMRUN Instruction": "Canonicalization and Consistency Checks"',
  [XenFn.svm_vmexit_do_cpuid]: '"Instruction Intercepts" (CPUID)',
};

function cite(fn: number): string {
  const f = xenFunction(XEN_FN_BASE + fn);
  const apm = SECTION[fn];
  return `Xen xen/${f.file} ${f.name}()${apm ? `; ${APM}: ${apm}` : ''}`;
}

function source(src: number, vector: number): string {
  if (src === IntSrc.nmi) return 'an NMI (v->arch.nmi_pending)';
  if (src === IntSrc.lapic) return `vLAPIC interrupt ${hex(vector)}`;
  return 'nothing';
}

const WHY_BLOCKED: Record<number, string> = {
  [IntBlk.shadow]:
    'the guest is in an interrupt shadow (VMCB int_state; after an IRET exit this is the fake shadow Xen set itself)',
  [IntBlk.rflags_ie]: "the guest's RFLAGS.IF is 0",
  [IntBlk.tpr]: "the vLAPIC's TPR is at or above the vector's class",
  [IntBlk.nmi_iret]: '',
};

function assistText(x: XenState, d1: number, d2: number): string {
  const src = d2 >>> 16;
  const blk = (d2 >>> 8) & 0xff;
  const vector = d2 & 0xff;
  if (d1 & Assist.NONE && !(d1 & ~Assist.NONE))
    return 'svm_intr_assist: hvm_vcpu_has_pending_irq finds nothing pending for the vCPU; VMRUN follows.';
  const parts: string[] = [];
  if (d1 & Assist.SHORT_CIRCUIT)
    parts.push(
      'hvm_interrupt_blocked: V_NMI_MASK is set (a guest NMI handler runs), but with vNMI Xen short-circuits the NMI shadow (86a203ab8d) and hands the NMI to the hardware',
    );
  if (d1 & Assist.NMI_VNMI)
    parts.push(
      "svm_inject_nmi with vNMI: only V_NMI is set (int_ctl bit 11); the processor delivers the NMI when V_NMI_MASK is clear, sets V_NMI_MASK, and the guest's IRET clears it — no EVENTINJ, no IRET intercept",
    );
  if (d1 & Assist.NMI_EVENTINJ)
    parts.push(
      'svm_inject_nmi: EVENTINJ = 0x80000202 and the IRET intercept is set — "SVM does not virtualise the NMI mask, so we emulate it by intercepting the next IRET"',
    );
  if (d1 & Assist.EXTINT) parts.push(`svm_inject_extint: EVENTINJ = ${hex((0x80000000 | vector) >>> 0)}`);
  if (d1 & (Assist.WINDOW_VINTR | Assist.WINDOW_IRET)) {
    const why =
      d1 & Assist.EVENTINJ_BUSY
        ? 'EVENTINJ is still valid (an event is being re-injected)'
        : blk === IntBlk.nmi_iret
          ? x.vnmi
            ? 'V_NMI_MASK is set and the short-circuit is off (the vNMI patch without its hvm.c hunk)'
            : 'the IRET intercept is set: a guest NMI handler has not returned yet'
          : (WHY_BLOCKED[blk] ?? INTBLK_NAMES[blk]);
    const blocked =
      d1 & (Assist.NMI_EVENTINJ | Assist.NMI_VNMI | Assist.EXTINT)
        ? 'the next event waits'
        : `${source(src, vector)} is blocked (${INTBLK_NAMES[blk]}): ${why}`;
    parts.push(
      d1 & Assist.WINDOW_IRET
        ? `${blocked}. svm_enable_intr_window does nothing for an NMI while the IRET intercept is set: the IRET exit will open the window ("VINTR is unaware of NMI-blocking and hence we can enter an endless loop")`
        : `${blocked}. svm_enable_intr_window: a dummy V_IRQ (vector 0, V_INTR_PRIO = the vector's class${src === IntSrc.lapic ? '' : ', V_IGN_TPR'}) and the VINTR intercept, so that the guest exits (0x64) as soon as it can take an interrupt — which needs RFLAGS.IF = 1, even for an NMI (the TODO in svm_enable_intr_window)`,
    );
  }
  return `svm_intr_assist: ${parts.join('; ')}.`;
}

function exitText(x: XenState, d1: number, d2: number): string {
  const name = svmExitName(d1);
  const re =
    d2 & ExitDid.REINJECT
      ? ' EXITINTINFO held an event whose delivery the exit interrupted: it is copied to EVENTINJ for re-injection.'
      : '';
  switch (d1) {
    case 0x60:
      return `svm_vmexit_handler: #VMEXIT(INTR), an asynchronous event already handled when Xen executed STGI after the #VMEXIT.${re}`;
    case 0x61:
      return `svm_vmexit_handler: #VMEXIT(NMI): the host's NMI was taken after STGI.${re}`;
    case 0x64:
      return `svm_vmexit_handler, VMEXIT_VINTR: the guest can take an interrupt now; Xen clears the dummy V_IRQ and the VINTR intercept, and svm_intr_assist will inject the waiting event.${re}`;
    case 0x74:
      return `svm_vmexit_handler, VMEXIT_IRET: the guest is about to execute its NMI handler's IRET (the intercept fires before the IRET; RIP still points at it). Xen clears the IRET intercept — its NMI mask — and sets the interrupt shadow (int_state = 1) so that no NMI is injected before the IRET retires: "This will work perfectly unless the IRET instruction faults".${re}`;
    default:
      return `svm_vmexit_handler: exit code ${hex(d1)} (${name})${d2 & ExitDid.UD ? ': #UD injected (no nested HVM for this domain)' : ', handled; RIP advanced to nRIP'}.${re}${x.crashed ? ' Xen crashes the domain.' : ''}`;
  }
}

export function explainXen(prev: XenState, cur: XenState, d0: number, d1: number, d2: number): Explanation {
  const fn = d0 - XEN_FN_BASE;
  let text: string;
  switch (fn) {
    case XenFn.svm_cpu_up:
      text = `svm_cpu_up: EFER.SVME = 1 and VM_HSAVE_PA = ${hex(d1)}: the processor may execute VMRUN and saves the host's state there.`;
      break;
    case XenFn.construct_vmcb:
      text = `construct_vmcb: the vCPU's VMCB — intercepts INTR, NMI${d1 & 2 ? '' : ' (not: a misconfiguration)'}, HLT, CPUID, MSR and I/O (all-ones permission maps), the SVM instructions; int_ctl = ${hex(d2)} (V_INTR_MASKING${d2 & (1 << 26) ? ', V_NMI_ENABLE: vnmi_enable = cpu_has_svm_vnmi' : ''}); ASID 1; the guest starts at its entry with RFLAGS 0x2.`;
      break;
    case XenFn.svm_intr_assist:
      text = assistText(cur, d1, d2);
      break;
    case XenFn.svm_vmexit_handler:
      text = exitText(cur, d1, d2);
      break;
    case XenFn.svm_asm_do_resume:
      text =
        "svm_asm_do_resume: Xen's CLGI, STI and VMRUN (Xen runs above L0: the VMRUN trapped to the KVM below, which emulated it — nested SVM — and ran Xen's guest until an exit of it came back to Xen as a #VMEXIT, after its VMRUN).";
      break;
    case XenFn.svm_stgi_label:
      text =
        "STGI after the #VMEXIT (entry.S svm_stgi_label): GIF = 1 with IF = 1 from before VMRUN, so an interrupt pending for Xen is taken now, before svm_vmexit_handler — above L0 through Xen's IDT, once the KVM below delivers it (its VINTR window opens at this STGI).";
      break;
    case XenFn.idle_loop:
      text =
        "idle_loop: no vCPU can run, so Xen's CPU idles (STI; HLT); above L0 the HLT exits to the KVM below, which blocks Xen's vCPU until an interrupt for it arrives.";
      break;
    case XenFn.do_IRQ:
      text = `After the #VMEXIT Xen executes STGI, and the host takes its pending interrupt ${hex(d1)}${d1 === 0xfc ? ' (EVENT_CHECK_VECTOR: the IPI vcpu_kick sent to make the vCPU exit)' : ''}.`;
      break;
    case XenFn.do_nmi:
      text = 'After the #VMEXIT Xen executes STGI, and the host takes the NMI the #VMEXIT(NMI) left pending.';
      break;
    case XenFn.svm_vmexit_do_hlt:
      text =
        d1 === Hlt.DOWN
          ? 'svm_vmexit_do_hlt → hvm_hlt: HLT with IF = 0 ("a pretty sick guest"): hvm_vcpu_down takes the vCPU offline; with one vCPU the domain powers off.'
          : d1 === Hlt.EVENT_PENDING
            ? 'svm_vmexit_do_hlt → hvm_hlt: an event is already deliverable, so the vCPU does not block.'
            : 'svm_vmexit_do_hlt → hvm_hlt: the vCPU blocks (SCHEDOP_block) until an event can be delivered to it.';
      break;
    case XenFn.svm_do_msr_access: {
      const write = d2 & 1;
      const gp = d2 & 2;
      const ipi = (d2 >>> 8) - 1;
      text = `svm_do_msr_access: ${write ? 'WRMSR' : 'RDMSR'} ${hex(d1)}${gp ? ' is not emulated: #GP(0) injected' : ` emulated by the vLAPIC (guest_${write ? 'wr' : 'rd'}msr_x2apic)${d2 & 4 ? '; an NMI IPI to itself sets nmi_pending' : ''}${ipi >= 0 ? `; a self-IPI sets vector ${hex(ipi)} in the IRR` : ''}; RIP advanced to nRIP`}.`;
      break;
    }
    case XenFn.vlapic_set_irq:
      text = `vlapic_set_irq: vector ${hex(d1)} set in the vLAPIC's IRR.`;
      break;
    case XenFn.vlapic_accept_nmi:
      text = 'vlapic_accept_irq (APIC_DM_NMI): v->arch.nmi_pending = 1.';
      break;
    case XenFn.vcpu_unblock:
      text = `vcpu_unblock: ${source(d1, d2)} can be delivered, so the blocked (halted) vCPU runs again.`;
      break;
    case XenFn.domain_crash:
      text =
        d1 === 0xffffffff
          ? 'svm_vmexit_handler: VMRUN failed with VMEXIT_INVALID (exit code -1): "invalid VMCB state"; Xen dumps the VMCB (svm_vmcb_dump) and crashes the domain. V_NMI_ENABLE is legal only with the NMI intercept.'
          : `svm_vmexit_handler: ${cur.reason}: domain_crash.`;
      break;
    case XenFn.svm_vmexit_do_cpuid:
      text = `svm_vmexit_do_cpuid: leaf ${hex(d1)} from the domain's CPUID policy (the host's, without SVM); RIP advanced.`;
      break;
    default:
      text = `${xenFunction(d0).name}.`;
  }
  void prev;
  return { text, cite: cite(fn) };
}
