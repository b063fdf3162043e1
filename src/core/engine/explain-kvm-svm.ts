// Explanations of the KVM model's decisions on an AMD processor (kvm_amd, hypervisors/kvm/svm*):
// the same x86.c functions as on Intel, told in SVM's terms (EVENTINJ, V_IRQ/VINTR, V_NMI,
// the IRET intercept, EXITINTINFO, GIF), and svm.c's own handlers. No VMCS field names here.
import { Fn, kvmFunction, RESCHEDULE_VECTOR } from '../hypervisors/kvm/functions';
import { Inject } from '../hypervisors/kvm/context';
import type { KvmState } from '../hypervisors/kvm/state';
import { EVTINJ } from '../svm/bits';
import { hex } from './describe';
import type { Explanation } from './view';
import { explainKvmSvmNested } from './explain-kvm-svm-nested';

function cite(fn: number): string {
  const f = kvmFunction(fn);
  const path = /^(arch|virt)\//.test(f.file) ? f.file : `arch/x86/kvm/${f.file}`;
  return `Linux ${path} ${f.name}()`;
}

const TYPES = ['external interrupt', '?', 'NMI', 'exception', 'software interrupt', '?', '?', '?'];

/** An EVENTINJ / EXITINTINFO word in words. */
export function describeEventInj(info: number): string {
  if (!(info & EVTINJ.SVM_EVTINJ_VALID)) return 'nothing (V = 0)';
  const type = (info >>> 8) & 7;
  const v = info & 0xff;
  const what = type === 2 ? 'an NMI' : `${TYPES[type]} vector ${hex(v)}`;
  return `${what}${info & EVTINJ.SVM_EVTINJ_VALID_ERR ? ' with an error code' : ''} (${hex(info)})`;
}

function injectText(prevK: KvmState, k: KvmState, did: number, vector: number): string {
  const parts: string[] = [];
  if (did & Inject.REINJECT_NMI)
    parts.push('re-injects the NMI the last #VMEXIT interrupted (EVENTINJ = NMI)');
  if (did & Inject.REINJECT_IRQ)
    parts.push(`re-injects IRQ ${hex(vector)} the last #VMEXIT interrupted (EVENTINJ, type INTR)`);
  if (did & Inject.EXCEPTION)
    parts.push(`svm_inject_exception: EVENTINJ = exception vector ${vector} (type 3), before any NMI or IRQ`);
  if (did & Inject.NMI)
    parts.push(
      k.svm.vnmi
        ? 'svm_inject_nmi: EVENTINJ = NMI (0x80000200); with vNMI the processor sets V_NMI_BLOCKING when it delivers it'
        : 'svm_inject_nmi: EVENTINJ = NMI (0x80000200); an injected NMI does not block further NMIs on SVM, so KVM sets its software mask nmi_masked and the IRET intercept',
    );
  if (did & Inject.IRQ)
    parts.push(
      `svm_inject_irq: IRQ ${hex(vector)} (IRR → ISR in the vCPU's APIC), EVENTINJ = ${hex((0x80000000 | vector) >>> 0)}`,
    );
  if (did & (Inject.NMI_WINDOW | Inject.NMI_WINDOW_VIA_IRQ)) {
    const pending =
      prevK.nmiPending > 0 && !(did & Inject.NMI)
        ? 'an NMI is pending but blocked'
        : 'another NMI is pending';
    const how =
      k.svm.nmiWindow === 'iret'
        ? "the IRET intercept (already set by svm_inject_nmi) is the window: the guest's IRET exits (0x74)"
        : k.svm.nmiWindow === 'singlestep'
          ? 'KVM single-steps the guest (RFLAGS.TF|RF, hidden from it by svm_get_rflags): the #DB intercept (exit 0x41) after one instruction ends the window'
          : k.svm.nmiWindow === 'stgi'
            ? 'GIF = 0: the STGI intercept is the window'
            : 'nothing to arm (with vNMI the processor takes a V_NMI when the guest unmasks)';
    parts.push(`${pending}: svm_enable_nmi_window — ${how}`);
  }
  if (did & Inject.IRQ_WINDOW)
    parts.push(
      'an IRQ is pending but the guest has interrupts blocked: svm_enable_irq_window → svm_set_vintr arms a dummy V_IRQ (vector 0, priority 0xF) and the VINTR intercept, so the processor exits (0x64) as soon as the guest could take an interrupt',
    );
  if (did & Inject.NESTED_BUSY)
    parts.push(
      k.nested.runPending || prevK.nested.runPending
        ? "an event for L1 must wait: L1's VMRUN is not complete until L2 has been entered (nested_run_pending: -EBUSY)"
        : 'an event for L1 must wait: L1 sees it as a #VMEXIT from L2, not as an injection (-EBUSY)',
    );
  if (did & Inject.IMMEDIATE_EXIT)
    parts.push(
      did & Inject.NESTED_BUSY
        ? 'KVM forces an immediate exit, which on SVM is always a self-IPI (svm_vcpu_run: smp_send_reschedule): exit 0x60 right after the entry, after which svm_check_nested_events can emulate the #VMEXIT'
        : 'an event must wait for the current injection: KVM forces an immediate exit, which on SVM is always a self-IPI (svm_vcpu_run: smp_send_reschedule), taken as exit 0x60 right after EVENTINJ is delivered',
    );
  return parts.length ? parts.join('; ') : 'nothing to inject';
}

/** The explanation of a KVM decision on SVM, or null when the VMX text applies unchanged. */
export function explainKvmSvm(
  prevK: KvmState,
  k: KvmState,
  fn: number,
  d1: number,
  d2: number,
): Explanation | null {
  const c = cite(fn);
  switch (fn) {
    case Fn.svm_hardware_enable:
      return {
        text: `svm_hardware_enable: EFER.SVME = 1 (WRMSR C000_0080) and VM_HSAVE_PA = ${hex(d1)}, the host save area VMRUN uses.`,
        cite: c,
      };
    case Fn.svm_vcpu_create:
      return {
        text: `svm_vcpu_create → init_vmcb: vmcb01 at ${hex(d1)} intercepts INTR, NMI, SMI, INIT, CPUID, HLT, IOIO_PROT (all ports), MSR_PROT (an MSR permission map of all ones: the x2APIC MSRs exit), VMRUN, VMMCALL and the other SVM instructions, #DB, #UD, #AC and #MC; int_ctl = V_INTR_MASKING (the host's IF masks physical interrupts in the guest) | V_GIF_ENABLE | V_GIF${k.svm.vnmi ? ' | V_NMI_ENABLE (kvm_amd.vnmi)' : ' (kvm_amd.vnmi = 0: NMIs masked in software)'}; nested paging, ASID 1; the vCPU starts at the guest's entry with IF = 0.`,
        cite: c,
      };
    case Fn.process_nmi: {
      const parked = (d1 & 0x100) !== 0;
      return {
        text: `process_nmi: nmi_pending = ${d1 & 0xff}${d2 ? `, ${d2} dropped (at most 2 may be pending, 1 while NMIs are masked or one is in flight, one fewer while one is parked in V_NMI_PENDING)` : ''}${parked ? '; svm_set_vnmi_pending parks one NMI in V_NMI_PENDING: the processor delivers it when the guest is ready (V_NMI_BLOCKING clear), with no exit' : ''}${d1 & 0xff ? '; KVM_REQ_EVENT' : ''}.`,
        cite: c,
      };
    }
    case Fn.kvm_check_and_inject_events:
      return { text: `kvm_check_and_inject_events: ${injectText(prevK, k, d1, d2)}.`, cite: c };
    case Fn.svm_complete_interrupts: {
      const iret = d2
        ? "RIP has moved past the intercepted IRET, so the guest's NMI handler has returned: awaiting_iret_completion and nmi_masked are cleared (KVM_REQ_EVENT)"
        : '';
      const event =
        d1 & EVTINJ.SVM_EVTINJ_VALID
          ? `EXITINTINFO holds ${describeEventInj(d1)}: its delivery was interrupted by the #VMEXIT, so KVM queues it again for re-injection (KVM_REQ_EVENT)`
          : '';
      return { text: `svm_complete_interrupts: ${[iret, event].filter(Boolean).join('; ')}.`, cite: c };
    }
    case Fn.svm_handle_exit:
    case Fn.unexpected_exit:
      return { text: `KVM stops: ${k.log[k.log.length - 1]?.text ?? 'unexpected exit'}.`, cite: c };
    case Fn.intr_interception:
      return {
        text: 'intr_interception (exit 0x60): a physical interrupt for the host stopped the guest; SVM does not acknowledge it, it stayed pending at the APIC, and the host took it once KVM executed STGI and enabled interrupts. Nothing else to do.',
        cite: c,
      };
    case Fn.nmi_interception:
      return {
        text: 'nmi_interception (exit 0x61): an NMI for the host stopped the guest; it stayed pending until STGI, when the host took it. Nothing else to do.',
        cite: c,
      };
    case Fn.interrupt_window_interception:
      return {
        text: 'interrupt_window_interception (exit 0x64, VINTR): the guest can take an interrupt now; svm_clear_vintr drops the dummy V_IRQ and the VINTR intercept, and KVM_REQ_EVENT injects the pending IRQ through EVENTINJ.',
        cite: c,
      };
    case Fn.iret_interception:
      return {
        text: `iret_interception (exit 0x74): the guest's NMI handler is about to IRET at ${hex(d1)}. The IRET is not skipped: KVM clears the IRET intercept, sets awaiting_iret_completion with nmi_iret_rip = ${hex(d1)}, and treats NMIs as unmasked once an exit finds RIP elsewhere (KVM_REQ_EVENT).`,
        cite: c,
      };
    case Fn.db_interception:
      return d1
        ? {
            text: "db_interception (exit 0x41): the single-step KVM set for its NMI window trapped after one guest instruction; disable_nmi_singlestep removes KVM's TF and RF, and KVM_REQ_EVENT looks at the pending NMI again.",
            cite: c,
          }
        : {
            text: "db_interception (exit 0x41): the guest's own #DB; KVM queues it back for the guest.",
            cite: c,
          };
    case Fn.io_interception:
      return {
        text: d2
          ? `io_interception: IN from port ${hex(d1)}. No in-kernel device claims the port (Linux would exit to the VMM); the lab has none: the read gives all ones, and RIP = EXITINFO2 skips the instruction.`
          : `io_interception: OUT to port ${hex(d1)}. No device claims it; the write is dropped and RIP = EXITINFO2 skips the instruction.`,
        cite: c,
      };
    case Fn.ud_interception:
      return {
        text: `The guest's instruction is #UD under KVM (exit ${hex(d1)}): #UD queued for the guest.`,
        cite: c,
      };
    case Fn.ac_interception:
      return {
        text: "ac_interception: the guest's #AC is re-injected (kvm_queue_exception_e(AC, 0)).",
        cite: c,
      };
    case Fn.shutdown_interception:
      return {
        text: 'shutdown_interception (exit 0x7f): the guest shut down; KVM reports KVM_EXIT_SHUTDOWN and the vCPU stops.',
        cite: c,
      };
    case Fn.kvm_emulate_halt:
      return {
        text: 'halt_interception → kvm_emulate_halt: HLT exit (0x78); KVM skips the HLT (RIP = nRIP, the interrupt shadow ends) and marks the vCPU halted: it runs again only when an event for it arrives.',
        cite: c,
      };
    case Fn.kvm_emulate_hypercall:
      return {
        text: 'VMMCALL exit: kvm_emulate_hypercall returns 0 in RAX and skips the instruction (RIP = nRIP).',
        cite: c,
      };
    case Fn.kvm_emulate_cpuid:
      return {
        text: "CPUID exit: kvm_emulate_cpuid answers from the guest CPUID table (AMD's, without MONITOR; with SVM and, in 8000_000A, the NRIPS, vGIF and vNMI KVM offers L1 for nested SVM); RIP = nRIP.",
        cite: c,
      };
    case Fn.host_irq:
      return d2 === 1
        ? {
            text: "An NMI reaches the host while KVM runs (GIF = 1): the host kernel's NMI handler runs.",
            cite: c,
          }
        : {
            text: `Host interrupt ${d1 === RESCHEDULE_VECTOR ? `${hex(d1)} (RESCHEDULE_VECTOR: the kick or KVM's own self-IPI)` : hex(d1)} is taken by the host kernel now that GIF = 1 and interrupts are on; its handler runs and EOIs.`,
            cite: c,
          };
    case Fn.handle_wbinvd:
    case Fn.handle_invd:
    case Fn.handle_monitor:
    case Fn.handle_mwait:
    case Fn.handle_rdpmc: {
      const what = EMULATED[fn];
      return {
        text: `${what} (svm.c's intercept handler); RIP = nRIP skips the instruction.`,
        cite: 'Linux arch/x86/kvm/x86.c',
      };
    }
    default:
      return explainKvmSvmNested(k, fn, d1, d2);
  }
}

/** The x86.c emulation svm.c's handlers of these exits call. */
const EMULATED: Record<number, string> = {
  [Fn.handle_wbinvd]: 'kvm_emulate_wbinvd: nothing to flush (no non-coherent DMA)',
  [Fn.handle_invd]: 'kvm_emulate_invd: INVD is a NOP for the guest',
  [Fn.handle_monitor]: 'kvm_emulate_monitor: a NOP (KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS)',
  [Fn.handle_mwait]: 'kvm_emulate_mwait: a NOP, the vCPU does not wait',
  [Fn.handle_rdpmc]: 'kvm_emulate_rdpmc: the vPMU counter reads 0',
};
