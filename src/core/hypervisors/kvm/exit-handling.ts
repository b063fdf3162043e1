// KVM after a VM exit: the tail of vmx_vcpu_run (vmx_recover_nmi_blocking,
// __vmx_complete_interrupts, handle_exit_irqoff) and __vmx_handle_exit with the exit handlers
// (arch/x86/kvm/vmx/vmx.c, x86.c, lapic.c). One recorded decision per step.
import { CPU_BASED } from '../../vmx/bits';
import { readVmxMsr } from '../../vmx/capabilities';
import { F, readField } from '../../vmx/vmcs';
import { ExitReason } from '../../vmx/vm-exit';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn, SOFT_VNMI_TIMEOUT_NS } from './functions';
import { x2apicMsrRead, x2apicMsrWrite } from './lapic';
import {
  handleVmclear,
  handleVmptrld,
  handleVmread,
  handleVmwrite,
  handleVmxoff,
  handleVmxon,
  skipEmulatedInstruction,
} from './nested-instructions';
import { nestedVmxCaps, nestedVmxRun } from './nested';
import { nestedVmxReflectVmexit } from './nested-events';
import { getDebugctl, handleDr, setDebugctl, syncDirtyDebugRegs } from './debug';
import { DR6, IA32_DEBUGCTL } from '../../cpu/debug';
import { RFLAGS } from '../../cpu/state';
import { currentVmcs12 } from './nested-state';
import { KvmPhase, queueKvmException } from './state';
import { handleSystemExit } from './handle-system';
import {
  handleInterruptWindow,
  handleNmiWindow,
  kvmRead,
  noteRead,
  rd,
  vmxCompleteInterrupts,
  wr,
  vmxInterruptBlocked,
} from './vmx';

/**
 * After the exit, in vmx_vcpu_run and handle_exit_irqoff: account soft-vNMI time, complete
 * interrupted injections, let the host take the interrupt or NMI that caused the exit.
 * `stage` walks through them, one recorded decision per step.
 */
export function afterExit(c: KvmContext): KvmStepResult | null {
  const { h, kvm } = c;
  const reason = rd(c, F.VM_EXIT_REASON);
  for (;;) {
    const stage = kvm.stage++;
    if (stage === 0) {
      kvm.lastExitReason = reason;
      // vmx_recover_nmi_blocking with virtual NMIs: an exit for a fault on IRET cleared
      // virtual-NMI blocking and says so in bit 12 of VM_EXIT_INTR_INFO; KVM re-sets the
      // blocking before the next entry (its comment: "SDM 3: 27.7.1.2 ... Re-set bit 'block by
      // NMI' before VM entry if vmexit caused by a guest IRET fault"). Bit 12 is undefined for
      // #DF and when IDT-vectoring information is valid, so those are left alone.
      if (kvm.enableVnmi) {
        const intr = rd(c, F.VM_EXIT_INTR_INFO);
        const idtv = rd(c, F.IDT_VECTORING_INFO_FIELD);
        if (intr & 0x80000000 && intr & 0x1000 && (intr & 0xff) !== 8 && !(idtv & 0x80000000)) {
          noteRead(c, F.VM_EXIT_INTR_INFO, 0x1000, intr);
          wr(c, F.GUEST_INTERRUPTIBILITY_INFO, (rd(c, F.GUEST_INTERRUPTIBILITY_INFO) | 8) >>> 0);
          return decide(h, Fn.vmx_recover_nmi_blocking, intr, 0);
        }
      }
      // vmx_recover_nmi_blocking: the guest's net run time counts toward the 1 s break-out.
      if (!kvm.enableVnmi && kvm.softVnmiBlocked) {
        // Its inputs (causes/why.ts), noted only when it acts: the step has one decision.
        kvmRead(c, 'enable_vnmi', kvm.enableVnmi);
        kvmRead(c, 'soft_vnmi_blocked', kvm.softVnmiBlocked);
        const ns = Math.round(((c.port.tsc() - kvm.entryTime) * 1e9) / c.tscHz);
        kvm.vnmiBlockedTimeNs += ns;
        return decide(h, Fn.vmx_recover_nmi_blocking, ns, kvm.vnmiBlockedTimeNs);
      }
    } else if (stage === 1) {
      const info = vmxCompleteInterrupts(c, kvm);
      if (info) return decide(h, Fn.vmx_complete_interrupts, info);
    } else if (stage === 2) {
      // vcpu_enter_guest after vmx_vcpu_run: KVM_DEBUGREG_WONT_EXIT → sync_dirty_debug_regs.
      const r = syncDirtyDebugRegs(c);
      if (r) return r;
    } else if (stage === 3) {
      const intr = rd(c, F.VM_EXIT_INTR_INFO);
      if ((reason & 0xffff) === ExitReason.EXTERNAL_INTERRUPT && !(intr & 0x80000000)) {
        // KVM runs with "acknowledge interrupt on exit": an external-interrupt exit without a
        // vector is impossible on hardware. Above a 2011 L0 that ignores ack it happens, and
        // handle_external_interrupt_irqoff's KVM_BUG kills the VM.
        kvm.stage = 0;
        return stop(
          c,
          `handle_external_interrupt_irqoff: KVM_BUG: unexpected VM-Exit interrupt info: 0x${intr.toString(16)}`,
        );
      }
      if ((reason & 0xffff) === ExitReason.EXTERNAL_INTERRUPT && intr & 0x80000000) {
        // handle_external_interrupt_irqoff: the vector acknowledged at the exit runs the host's
        // handler, which ends with EOI to the physical APIC. Its inputs: the exit reason and
        // the valid bit of the exit's interruption information (causes/why.ts).
        noteRead(c, F.VM_EXIT_REASON, 0xffffffff, reason);
        noteRead(c, F.VM_EXIT_INTR_INFO, 0x80000000, intr);
        c.port.hostEoi();
        kvm.hostIrqs++;
        return decide(h, Fn.handle_external_interrupt_irqoff, intr & 0xff);
      }
      if ((reason & 0xffff) === ExitReason.EXCEPTION_NMI && (intr & 0x7ff) === 0x202) {
        // vmx_do_nmi_irqoff: the host's NMI handler; its IRET ends the host's NMI blocking.
        // Its inputs: the exit reason, the valid bit and the type (2, NMI) of the exit's
        // interruption information (is_nmi).
        noteRead(c, F.VM_EXIT_REASON, 0xffffffff, reason);
        noteRead(c, F.VM_EXIT_INTR_INFO, 0x80000700, intr);
        c.port.hostNmiIret();
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
function skipInstruction(c: KvmContext): void {
  const tf = rd(c, F.GUEST_RFLAGS) & RFLAGS.TF;
  skipEmulatedInstruction(c);
  // kvm_skip_emulated_instruction → kvm_vcpu_do_singlestep: with RFLAGS.TF the emulated
  // instruction ends with the single-step trap the processor would have raised:
  // kvm_queue_exception_p(vcpu, DB_VECTOR, DR6_BS).
  if (tf) {
    queueKvmException(c.kvm, 1);
    c.kvm.exceptionPayload = DR6.BS;
  }
  // vmx_update_emulated_instruction: an instruction L0 emulated for L2 counts for vmcs12's
  // monitor trap flag: an MTF exit to L1 is pending.
  const n = c.kvm.nested;
  if (n.guestMode) {
    const vmcs12 = currentVmcs12(n);
    if (vmcs12 && readField(vmcs12, F.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED.CPU_BASED_MONITOR_TRAP_FLAG) {
      n.mtfPending = true;
      c.kvm.reqEvent = true;
    }
  }
}

/** __vmx_handle_exit: in guest mode the reflection to L1 first, the soft-vNMI check on every
 * exit, then the exit's handler. */
export function handleExit(c: KvmContext): KvmStepResult | null {
  const { h, kvm } = c;
  if (kvm.stage === 0 && kvm.nested.guestMode) {
    const reflected = nestedVmxReflectVmexit(c);
    if (reflected) {
      kvm.stage = 0;
      kvm.phase = KvmPhase.ENTER;
      kvm.reqEvent = true;
      return decide(h, Fn.nested_vmx_reflect_vmexit, reflected.reason, reflected.intrInfo);
    }
  }
  if (kvm.stage === 0) {
    kvm.stage = 1;
    if (!kvmRead(c, 'enable_vnmi', kvm.enableVnmi) && kvmRead(c, 'soft_vnmi_blocked', kvm.softVnmiBlocked)) {
      if (!vmxInterruptBlocked(c)) {
        kvm.softVnmiBlocked = false;
        return decide(h, Fn.vmx_handle_exit, 1);
      }
      if (
        kvmRead(c, 'vnmi_blocked_time', kvm.vnmiBlockedTimeNs) > SOFT_VNMI_TIMEOUT_NS &&
        kvmRead(c, 'nmi_pending', kvm.nmiPending) > 0
      ) {
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
  // The handler is chosen by the exit reason (kvm_vmx_exit_handlers[exit_reason.basic]): an
  // input of every handler's decision. Interrupt and NMI exits decide nothing here (their
  // work was done in handle_exit_irqoff), so the read would belong to the step's next
  // decision: it is not noted for them.
  if (reason !== ExitReason.EXTERNAL_INTERRUPT && reason !== ExitReason.EXCEPTION_NMI)
    kvmRead(c, 'exit_reason', kvm.lastExitReason);
  switch (reason) {
    case ExitReason.EXTERNAL_INTERRUPT:
    case ExitReason.EXCEPTION_NMI:
      // Handled in handle_exit_irqoff; back to the run loop with nothing to record.
      return null;
    case ExitReason.INTERRUPT_WINDOW:
      handleInterruptWindow(c, kvm);
      return decide(h, Fn.handle_interrupt_window);
    case ExitReason.NMI_WINDOW:
      if (!kvm.enableVnmi)
        return stop(c, 'handle_nmi_window: KVM_BUG_ON — NMI-window exit without virtual NMIs');
      handleNmiWindow(c, kvm);
      return decide(h, Fn.handle_nmi_window);
    case ExitReason.HLT:
      // kvm_emulate_halt: skip the HLT, mark the vCPU halted; vcpu_block waits for an event.
      skipInstruction(c);
      kvm.halted = true;
      return decide(h, Fn.kvm_emulate_halt);
    case ExitReason.VMCALL:
      skipInstruction(c);
      kvm.guestRegs[0] = kvm.guestRegs[1] = 0;
      return decide(h, Fn.kvm_emulate_hypercall);
    case ExitReason.DR_ACCESS:
      // The MOV DR is re-executed (a fault-like exit: GUEST_RIP is not advanced).
      return handleDr(c);
    case ExitReason.MSR_WRITE: {
      const msr = kvm.guestRegs[2];
      if (msr === IA32_DEBUGCTL) {
        const vmcs12 = kvm.nested.guestMode ? currentVmcs12(kvm.nested) : null;
        if (!setDebugctl(c, kvm.guestRegs[0], kvm.guestRegs[4], vmcs12)) return injectGp(c, msr);
        skipInstruction(c);
        return decide(h, Fn.vmx_set_debugctl, kvm.guestRegs[0]);
      }
      if (!x2apicMsrWrite(kvm, msr, kvm.guestRegs[0], kvm.guestRegs[4])) return injectGp(c, msr);
      skipInstruction(c);
      return decide(h, Fn.x2apic_msr_write, msr, kvm.guestRegs[0]);
    }
    case ExitReason.MSR_READ: {
      const msr = kvm.guestRegs[2];
      // vmx_get_vmx_msr: the VMX capabilities KVM offers its guest (nested_vmx_setup_ctls_msrs).
      const vmxMsr = readVmxMsr(nestedVmxCaps(kvm, c.port.caps), msr);
      if (vmxMsr) {
        kvm.guestRegs[0] = vmxMsr[0] >>> 0;
        kvm.guestRegs[1] = 0;
        kvm.guestRegs[4] = vmxMsr[1] >>> 0;
        kvm.guestRegs[5] = 0;
        skipInstruction(c);
        return decide(h, Fn.vmx_get_vmx_msr, msr, vmxMsr[0]);
      }
      if (msr === IA32_DEBUGCTL) {
        kvm.guestRegs[0] = getDebugctl(c);
        kvm.guestRegs[1] = kvm.guestRegs[4] = kvm.guestRegs[5] = 0;
        skipInstruction(c);
        return decide(h, Fn.vmx_get_debugctl, kvm.guestRegs[0]);
      }
      const v = x2apicMsrRead(kvm, msr, c.port.tsc());
      if (!v) return injectGp(c, msr);
      kvm.guestRegs[0] = v[0];
      kvm.guestRegs[1] = 0;
      kvm.guestRegs[4] = v[1];
      kvm.guestRegs[5] = 0;
      skipInstruction(c);
      return decide(h, Fn.x2apic_msr_read, msr, v[0]);
    }
    case ExitReason.PREEMPTION_TIMER:
      return decide(h, Fn.handle_preemption_timer);
    case ExitReason.VMXON:
      return handleVmxon(c);
    case ExitReason.VMXOFF:
      return handleVmxoff(c);
    case ExitReason.VMCLEAR:
      return handleVmclear(c);
    case ExitReason.VMPTRLD:
      return handleVmptrld(c);
    case ExitReason.VMREAD:
      return handleVmread(c);
    case ExitReason.VMWRITE:
      return handleVmwrite(c);
    case ExitReason.VMLAUNCH:
    case ExitReason.VMRESUME:
      return nestedVmxRun(c, reason === ExitReason.VMLAUNCH);
    default: {
      const r = handleSystemExit(c, reason, () => skipInstruction(c));
      if (r) return r;
      return stop(
        c,
        `vmx_handle_exit: unexpected exit reason 0x${kvm.lastExitReason.toString(16)} (KVM_EXIT_INTERNAL_ERROR to userspace)`,
      );
    }
  }
}

/** kvm_queue_exception(#GP): KVM injects #GP(0) for an MSR it does not emulate. */
function injectGp(c: KvmContext, msr: number): KvmStepResult {
  queueKvmException(c.kvm, 13);
  return decide(c.h, Fn.inject_gp, msr);
}

function stop(c: KvmContext, text: string): KvmStepResult {
  c.kvm.phase = KvmPhase.STOPPED;
  c.kvm.log.push({ step: c.step, text });
  return decide(c.h, Fn.unexpected_exit, c.kvm.lastExitReason);
}
