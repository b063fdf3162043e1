// Explanations of KVM's nested SVM decisions (hypervisors/kvm/nested-svm-run.ts,
// svm-nested-exit.ts): L1's VMRUN emulated, exits of L2 reflected into vmcb12, events for L1
// turned into #VMEXITs, and the handlers of L1's SVM instructions, SVM MSRs and CR/DR accesses.
import { Fn, kvmFunction } from '../hypervisors/kvm/functions';
import type { KvmState } from '../hypervisors/kvm/state';
import { SvmExit, svmExitName } from '../svm/exit-codes';
import { hex } from './describe';
import { describeEventInj } from './explain-kvm-svm';
import type { Explanation } from './view';

function cite(fn: number): string {
  return `Linux arch/x86/kvm/${kvmFunction(fn).file} ${kvmFunction(fn).name}()`;
}

/** Why vmcb12 sends an exit of L2 to L1 (nested_svm_intercept). */
function interceptRule(code: number): string {
  const c = code >>> 0;
  if (c === SvmExit.ERR >>> 0) return 'a VMRUN failure (SVM_EXIT_ERR) is always L1’s';
  if (c >= SvmExit.EXCP_BASE && c < SvmExit.EXCP_BASE + 32)
    return `vmcb12 intercepts exception ${c - SvmExit.EXCP_BASE} (and vmcb01 does not)`;
  if (c === SvmExit.MSR) return 'vmcb12 intercepts MSRs and its MSR permission map has the MSR’s bit';
  if (c === SvmExit.IOIO) return 'vmcb12 intercepts I/O and its I/O permission map has the port’s bit';
  return `vmcb12 has the ${svmExitName(c)} intercept`;
}

function nestedEvent(code: number): string {
  if (code === SvmExit.NMI)
    return 'an NMI for L1 while L2 runs, and vmcb12 intercepts NMI (nested_exit_on_nmi): nested_svm_simple_vmexit(SVM_EXIT_NMI). As on the processor the NMI is not consumed: it stays pending and L1 takes it once it sets GIF = 1 (STGI).';
  if (code === SvmExit.INTR)
    return 'an interrupt for L1 while L2 runs (not blocked: GIF = 1 and L1’s IF — vmcb01’s saved RFLAGS with vmcb12’s V_INTR_MASKING, else L2’s), and vmcb12 intercepts INTR (nested_exit_on_intr): nested_svm_simple_vmexit(SVM_EXIT_INTR). The interrupt is not acknowledged: it stays in L1’s IRR until L1 runs with GIF = 1 and IF = 1.';
  return `an exception queued for L2 that vmcb12 intercepts (vector ${code - SvmExit.EXCP_BASE}): nested_svm_inject_exception_vmexit gives L1 exit ${hex(code)} with the error code in EXITINFO1.`;
}

/** The explanation of a nested-SVM decision, or null for another function. */
export function explainKvmSvmNested(k: KvmState, fn: number, d1: number, d2: number): Explanation | null {
  const c = cite(fn);
  switch (fn) {
    case Fn.nested_svm_vmrun:
      if (d2 === 1)
        return {
          text: `nested_svm_vmrun: L1's VMRUN with ${k.svm.nested.hsaveMsr ? `RAX = ${hex(d1)}, not a page of L1's memory` : 'no VM_HSAVE_PA set (svm->nested.hsave_msr is 0)'}: #GP(0) queued for L1.`,
          cite: c,
        };
      if (d2 === 2)
        return {
          text: `nested_svm_vmrun: vmcb12 at ${hex(d1)} fails nested_vmcb_check_save / nested_vmcb_check_controls (${k.log[k.log.length - 1]?.text.replace(/^.*\(([^)]*)\).*$/, '$1') ?? 'see the log'}): KVM writes SVM_EXIT_ERR into vmcb12's EXITCODE, clears EVENTINJ and GIF, and L1 goes on after its VMRUN — what the processor's VMEXIT_INVALID would do.`,
          cite: c,
        };
      return {
        text: `nested_svm_vmrun: L1's VMRUN of vmcb12 at ${hex(d1)} (RAX). KVM caches and checks vmcb12, skips the VMRUN in vmcb01 (which keeps L1's state for the #VMEXIT), sets nested_run_pending, and enter_svm_guest_mode builds vmcb02: its intercepts are vmcb01's OR vmcb12's (nested_vmcb02_recalc_intercepts), int_ctl takes V_TPR and the V_IRQ bits from vmcb12 and V_INTR_MASKING from vmcb01, EVENTINJ is ${describeEventInj(k.svm.nested.ctl.eventInj)} from vmcb12, and L2's state comes from vmcb12's save area. GIF = 1; L2 runs next.`,
        cite: c,
      };
    case Fn.nested_svm_vmexit:
      return {
        text: `An exit of L2 (${svmExitName(d1)}) that L0 does not keep (nested_svm_exit_special) and ${interceptRule(d1)} (nested_svm_intercept): nested_svm_vmexit writes L2's state, EXITCODE ${hex(d1)}, EXITINFO1/2 and EXITINTINFO ${describeEventInj(d2)} into vmcb12, makes vmcb01 current with GIF = 0 (svm_set_gif), and L1 resumes after its VMRUN.`,
        cite: c,
      };
    case Fn.svm_check_nested_events:
      return {
        text: `svm_check_nested_events: ${nestedEvent(d1)} The rest of kvm_check_and_inject_events runs for L1 next.`,
        cite: c,
      };
    case Fn.vmload_vmsave_interception:
      return {
        text: `${d2 ? 'vmload_interception' : 'vmsave_interception'}: L1's ${d2 ? 'VMLOAD' : 'VMSAVE'} of the VMCB at ${hex(d1)}; KVM does it on L1's behalf (the state it moves — FS, GS, TR, LDTR and the SYSCALL/SYSENTER MSRs — is not modelled) and skips the instruction.`,
        cite: c,
      };
    case Fn.stgi_interception:
      return {
        text: 'stgi_interception: L1 executed STGI with the STGI intercept set (KVM’s window for an event held off by GIF = 0). svm_set_gif(true): GIF = 1, the intercept goes, and KVM_REQ_EVENT injects the pending event.',
        cite: c,
      };
    case Fn.clgi_interception:
      return { text: 'clgi_interception: L1’s CLGI; svm_set_gif(false).', cite: c };
    case Fn.cr_interception: {
      const cr = d1 & 0xf;
      const write = d1 >= 0x10;
      return {
        text: `cr_interception: MOV ${write ? 'to' : 'from'} CR${cr}. Without decode assists EXITINFO1 names no register, so KVM's emulator decodes the instruction (emulate_on_interception): ${write ? `${cr === 8 ? 'kvm_set_cr8: the TPR of the emulated APIC' : `kvm_set_cr${cr}: the VMCB's CR${cr}`} = ${hex(d2)}` : `the guest reads ${hex(d2)}`}; RIP moves past it.`,
        cite: c,
      };
    }
    case Fn.dr_interception:
      return {
        text: `dr_interception (exit ${hex(d1)}): with no host debugging KVM stops intercepting the debug registers (clr_dr_intercepts, KVM_DEBUGREG_WONT_EXIT) and lets the guest run the instruction itself; svm_sync_dirty_debug_regs intercepts them again at the next exit.`,
        cite: c,
      };
    case Fn.svm_set_msr:
      return {
        text:
          d1 >>> 0 === 0xc0000080
            ? `svm_set_msr → svm_set_efer: the guest's EFER = ${hex(d2)}${d2 & 0x1000 ? ' with SVME: svm_allocate_nested sets up vmcb02, and #GP is intercepted (svm_gp_erratum_intercept)' : ''}; the VMCB's EFER always has SVME.`
            : `svm_set_msr: VM_HSAVE_PA = ${hex(d2)} (svm->nested.hsave_msr; KVM keeps L1's host state in vmcb01, not there).`,
        cite: c,
      };
    case Fn.svm_get_msr:
      return {
        text: `svm_get_msr: ${d1 >>> 0 === 0xc0000080 ? 'EFER as the guest set it' : 'VM_HSAVE_PA'} = ${hex(d2)}; RIP = nRIP.`,
        cite: c,
      };
    case Fn.gp_interception:
      return {
        text: `gp_interception: the guest's #GP(${hex(d2)}) at ${hex(d1)}. KVM intercepts #GP once the guest enables SVM (svm_gp_erratum_intercept: some processors fault VMRUN/VMLOAD/VMSAVE before their intercept); this one is not such an instruction, so it goes back to the guest.`,
        cite: c,
      };
    case Fn.svm_vcpu_run:
      return {
        text: `svm_vcpu_run: KVM's VMRUN trapped to the level below, which emulated it (nested SVM) and ran L${d2} until an exit of it came back to KVM as a #VMEXIT, after its VMRUN (KVM runs as a guest itself).`,
        cite: c,
      };
    case Fn.local_irq_enable:
      return {
        text: `vcpu_enter_guest: local_irq_enable after handle_exit_irqoff. Exit ${hex(d1)} left the ${d1 === SvmExit.NMI ? 'NMI' : 'interrupt'} pending for KVM (SVM does not acknowledge it); with GIF = 1 and interrupts on, the level below can deliver it through KVM's IDT before svm_handle_exit.`,
        cite: 'Linux arch/x86/kvm/x86.c vcpu_enter_guest()',
      };
    default:
      return null;
  }
}

/** The prefix for an exit of L2 that L0 handles itself (nested_svm_exit_special / _intercept). */
export function svmL0HandlesText(code: number): string {
  const c = code >>> 0;
  const special =
    c === SvmExit.INTR || c === SvmExit.NMI
      ? 'INTR and NMI exits are always L0’s (nested_svm_exit_special)'
      : c >= SvmExit.EXCP_BASE && c < SvmExit.EXCP_BASE + 32
        ? 'vmcb01 intercepts this exception, so L0 handles it first (nested_svm_exit_special)'
        : `vmcb12 does not intercept ${svmExitName(c)} (nested_svm_intercept)`;
  return `${special}, so L0 handles this exit of L2 itself.`;
}

/** svm.c's exit handlers: in guest mode they run because the exit stayed with L0. */
export const SVM_HANDLERS = new Set<number>([
  Fn.intr_interception,
  Fn.nmi_interception,
  Fn.interrupt_window_interception,
  Fn.iret_interception,
  Fn.db_interception,
  Fn.io_interception,
  Fn.ud_interception,
  Fn.ac_interception,
  Fn.kvm_emulate_halt,
  Fn.kvm_emulate_cpuid,
  Fn.kvm_emulate_hypercall,
  Fn.x2apic_msr_write,
  Fn.x2apic_msr_read,
  Fn.inject_gp,
  Fn.cr_interception,
  Fn.dr_interception,
  Fn.svm_set_msr,
  Fn.svm_get_msr,
  Fn.gp_interception,
  Fn.vmload_vmsave_interception,
  Fn.stgi_interception,
  Fn.clgi_interception,
  Fn.handle_wbinvd,
  Fn.handle_invd,
  Fn.handle_monitor,
  Fn.handle_mwait,
  Fn.handle_rdpmc,
]);
