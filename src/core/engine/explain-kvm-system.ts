// Explanations of KVM's handlers of the control-register, I/O and other instruction exits
// (hypervisors/kvm/handle-system.ts, cr.ts).
import { Fn } from '../hypervisors/kvm/functions';
import type { KvmState } from '../hypervisors/kvm/state';
import { hex } from './describe';

/** The text for one of these decisions, or null for any other function. */
export function explainKvmSystem(k: KvmState, fn: number, d1: number, d2: number): string | null {
  switch (fn) {
    case Fn.handle_cr: {
      const cr = d1 & 0xf;
      const toCr = ((d1 >>> 4) & 3) === 0;
      const reg = (d1 >>> 8) & 0xf;
      if (d2 === 13 && toCr)
        return `handle_cr: MOV to CR${cr} (register ${reg}) with a value kvm_set_cr${cr} refuses: kvm_inject_gp queues #GP(0) for the guest.`;
      if (!toCr)
        return `handle_cr: MOV from CR${cr} exited; KVM returns ${hex(d2)} in register ${reg} and skips the instruction.`;
      const what =
        cr === 8
          ? `the TPR of the emulated APIC becomes ${hex(k.lapic.tpr)} (KVM_REQ_EVENT: a pending interrupt may now be deliverable)`
          : cr === 3
            ? `KVM keeps CR3 = ${hex(d2)} (shadow paging: GUEST_CR3 follows it in the lab, which has no page tables)`
            : `vmx_set_cr${cr}: the read shadow holds the guest's value, GUEST_CR${cr} it with the bits VMX requires forced on`;
      return `handle_cr: MOV to CR${cr} (register ${reg}) exited; kvm_set_cr${cr} accepts it: ${what}; the instruction is skipped.`;
    }
    case Fn.handle_io:
      return d2
        ? `handle_io: IN from port ${hex(d1)}. No in-kernel device claims the port, so Linux would exit to the VMM (KVM_EXIT_IO); the lab has none: the read gives all ones, and the instruction is skipped.`
        : `handle_io: OUT to port ${hex(d1)}. No device claims it (Linux would exit to the VMM); the write is dropped and the instruction skipped.`;
    case Fn.handle_invlpg:
      return `handle_invlpg: kvm_mmu_invlpg drops the shadow translation of ${hex(d1)} (there is none in the lab) and skips the instruction.`;
    case Fn.handle_rdpmc:
      return d2 === 13
        ? `handle_rdpmc: counter index ${hex(d1)} is not one the vPMU has: #GP(0) queued for the guest.`
        : `handle_rdpmc: kvm_emulate_rdpmc reads counter ${hex(d1)} of the vPMU: 0 in EDX:EAX; the instruction is skipped.`;
    case Fn.handle_wbinvd:
      return 'handle_wbinvd: kvm_emulate_wbinvd (no non-coherent DMA: nothing to flush); the instruction is skipped.';
    case Fn.handle_invd:
      return "handle_invd: kvm_emulate_invd treats INVD as a NOP (the guest must not drop the host's dirty cache lines); the instruction is skipped.";
    case Fn.handle_monitor:
    case Fn.handle_mwait:
      return `${fn === Fn.handle_mwait ? 'handle_mwait' : 'handle_monitor'}: kvm_emulate_monitor_mwait emulates it as a NOP (KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS): the vCPU does not wait.`;
    case Fn.kvm_handle_invalid_op:
      return 'kvm_handle_invalid_op: the guest executed an instruction KVM makes #UD (RDRAND, which its CPUID lacks): #UD queued.';
    default:
      return null;
  }
}
