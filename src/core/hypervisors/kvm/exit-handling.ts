// KVM after a VM exit: the tail of vmx_vcpu_run (vmx_recover_nmi_blocking,
// __vmx_complete_interrupts, handle_exit_irqoff) and __vmx_handle_exit with the exit handlers
// (arch/x86/kvm/vmx/vmx.c, x86.c, lapic.c). One recorded decision per step.
import { eoi } from '../../cpu/apic';
import type { Hart } from '../../cpu/hart';
import { GUEST_INTR_STATE } from '../../vmx/bits';
import { F } from '../../vmx/vmcs';
import { ExitReason } from '../../vmx/vm-exit';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn, SOFT_VNMI_TIMEOUT_NS } from './functions';
import { x2apicMsrRead, x2apicMsrWrite } from './lapic';
import { KvmPhase } from './state';
import {
  handleInterruptWindow,
  handleNmiWindow,
  rd,
  vmxCompleteInterrupts,
  vmxInterruptBlocked,
  wr,
} from './vmx';

/**
 * After the exit, in vmx_vcpu_run and handle_exit_irqoff: account soft-vNMI time, complete
 * interrupted injections, let the host take the interrupt or NMI that caused the exit.
 * `stage` walks through them, one recorded decision per step.
 */
export function afterExit(c: KvmContext): KvmStepResult | null {
  const { h, kvm } = c;
  const reason = rd(h, F.VM_EXIT_REASON);
  for (;;) {
    const stage = kvm.stage++;
    if (stage === 0) {
      kvm.lastExitReason = reason;
      // vmx_recover_nmi_blocking: the guest's net run time counts toward the 1 s break-out.
      if (!kvm.enableVnmi && kvm.softVnmiBlocked) {
        const ns = Math.round(((h.tsc - kvm.entryTime) * 1e9) / c.tscHz);
        kvm.vnmiBlockedTimeNs += ns;
        return decide(h, Fn.vmx_recover_nmi_blocking, ns, kvm.vnmiBlockedTimeNs);
      }
    } else if (stage === 1) {
      const info = vmxCompleteInterrupts(h, kvm);
      if (info) return decide(h, Fn.vmx_complete_interrupts, info);
    } else if (stage === 2) {
      const intr = rd(h, F.VM_EXIT_INTR_INFO);
      if ((reason & 0xffff) === ExitReason.EXTERNAL_INTERRUPT && intr & 0x80000000) {
        // handle_external_interrupt_irqoff: the vector acknowledged at the exit runs the host's
        // handler, which ends with EOI to the physical APIC.
        eoi(h.apic);
        kvm.hostIrqs++;
        return decide(h, Fn.handle_external_interrupt_irqoff, intr & 0xff);
      }
      if ((reason & 0xffff) === ExitReason.EXCEPTION_NMI && (intr & 0x7ff) === 0x202) {
        // vmx_do_nmi_irqoff: the host's NMI handler; its IRET ends the host's NMI blocking.
        h.cpu.nmiBlocked = false;
        return decide(h, Fn.vmx_do_nmi_irqoff);
      }
    } else {
      kvm.stage = 0;
      kvm.phase = KvmPhase.HANDLE;
      return null;
    }
  }
}

/**
 * skip_emulated_instruction: GUEST_RIP past the instruction that exited, and "skipping an
 * emulated instruction also counts" as the end of an STI or MOV-SS shadow
 * (vmx_set_interrupt_shadow(vcpu, 0)): after `sti; hlt` the woken vCPU takes its interrupt
 * at once.
 */
function skipInstruction(h: Hart): void {
  wr(h, F.GUEST_RIP, rd(h, F.GUEST_RIP) + rd(h, F.VM_EXIT_INSTRUCTION_LEN));
  const intr = rd(h, F.GUEST_INTERRUPTIBILITY_INFO);
  const shadows = GUEST_INTR_STATE.GUEST_INTR_STATE_STI | GUEST_INTR_STATE.GUEST_INTR_STATE_MOV_SS;
  if (intr & shadows) wr(h, F.GUEST_INTERRUPTIBILITY_INFO, intr & ~shadows);
}

/** __vmx_handle_exit: the soft-vNMI check on every exit, then the exit's handler. */
export function handleExit(c: KvmContext): KvmStepResult | null {
  const { h, kvm } = c;
  if (kvm.stage === 0) {
    kvm.stage = 1;
    if (!kvm.enableVnmi && kvm.softVnmiBlocked) {
      if (!vmxInterruptBlocked(h)) {
        kvm.softVnmiBlocked = false;
        return decide(h, Fn.vmx_handle_exit, 1);
      }
      if (kvm.vnmiBlockedTimeNs > SOFT_VNMI_TIMEOUT_NS && kvm.nmiPending > 0) {
        kvm.softVnmiBlocked = false;
        kvm.log.push({
          step: c.step,
          text: '__vmx_handle_exit: Breaking out of NMI-blocked state on VCPU 0 after 1 s timeout',
        });
        return decide(h, Fn.vmx_handle_exit, 2, kvm.vnmiBlockedTimeNs);
      }
    }
  }
  kvm.stage = 0;
  kvm.phase = KvmPhase.ENTER;
  const reason = kvm.lastExitReason & 0xffff;
  switch (reason) {
    case ExitReason.EXTERNAL_INTERRUPT:
    case ExitReason.EXCEPTION_NMI:
      // Handled in handle_exit_irqoff; back to the run loop with nothing to record.
      return null;
    case ExitReason.INTERRUPT_WINDOW:
      handleInterruptWindow(h, kvm);
      return decide(h, Fn.handle_interrupt_window);
    case ExitReason.NMI_WINDOW:
      if (!kvm.enableVnmi)
        return stop(c, 'handle_nmi_window: KVM_BUG_ON — NMI-window exit without virtual NMIs');
      handleNmiWindow(h, kvm);
      return decide(h, Fn.handle_nmi_window);
    case ExitReason.HLT:
      // kvm_emulate_halt: skip the HLT, mark the vCPU halted; vcpu_block waits for an event.
      skipInstruction(h);
      kvm.halted = true;
      return decide(h, Fn.kvm_emulate_halt);
    case ExitReason.VMCALL:
      skipInstruction(h);
      h.cpu.regs[0] = h.cpu.regs[1] = 0;
      return decide(h, Fn.kvm_emulate_hypercall);
    case ExitReason.MSR_WRITE: {
      const msr = h.cpu.regs[2];
      if (!x2apicMsrWrite(kvm, msr, h.cpu.regs[0], h.cpu.regs[4])) return injectGp(c, msr);
      skipInstruction(h);
      return decide(h, Fn.x2apic_msr_write, msr, h.cpu.regs[0]);
    }
    case ExitReason.MSR_READ: {
      const msr = h.cpu.regs[2];
      const v = x2apicMsrRead(kvm, msr, h.tsc);
      if (!v) return injectGp(c, msr);
      h.cpu.regs[0] = v[0];
      h.cpu.regs[1] = 0;
      h.cpu.regs[4] = v[1];
      h.cpu.regs[5] = 0;
      skipInstruction(h);
      return decide(h, Fn.x2apic_msr_read, msr, v[0]);
    }
    case ExitReason.PREEMPTION_TIMER:
      return decide(h, Fn.handle_preemption_timer);
    default:
      return stop(
        c,
        `vmx_handle_exit: unexpected exit reason 0x${kvm.lastExitReason.toString(16)} (KVM_EXIT_INTERNAL_ERROR to userspace)`,
      );
  }
}

/** kvm_queue_exception(#GP): KVM injects #GP(0) for an MSR it does not emulate. */
function injectGp(c: KvmContext, msr: number): KvmStepResult {
  const kvm = c.kvm;
  kvm.exceptionPending = true;
  kvm.exceptionVector = 13;
  kvm.exceptionErrorCode = 0;
  kvm.reqEvent = true;
  return decide(c.h, Fn.inject_gp, msr);
}

function stop(c: KvmContext, text: string): KvmStepResult {
  c.kvm.phase = KvmPhase.STOPPED;
  c.kvm.log.push({ step: c.step, text });
  return decide(c.h, Fn.unexpected_exit, c.kvm.lastExitReason);
}
