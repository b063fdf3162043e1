// KVM's SVM set-up and run (arch/x86/kvm/svm/svm.c svm_hardware_enable, svm_vcpu_create →
// init_vmcb, svm_vcpu_run, svm_complete_interrupts): the SVM side of the run loop x86.c
// (run-loop.ts) calls through kvm_x86_ops (svm-ops.ts). KVM runs at L0 on the processor.
import { hwExceptionInfo } from '../../cpu/deliver';
import { CR4, CR0_INITIAL, CR4_INITIAL, RSP } from '../../cpu/state';
import {
  EFER,
  EFER_INITIAL,
  EVTINJ,
  INT_CTL,
  INTERCEPT,
  MSR_EFER,
  MSR_VM_HSAVE_PA,
  SvmEventType,
} from '../../svm/bits';
import { VMCB } from '../../svm/vmcb';
import { SvmExit } from '../../svm/exit-codes';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn, RESCHEDULE_VECTOR } from './functions';
import { hostEvents } from './run-loop';
import { KvmPhase } from './state';
import { disableNmiSinglestep, svmSetIntercept, vmcbRd, vmcbRd64, vmcbWr, vmcbWr64 } from './svm';
import { IOPM_SIZE, KVM_SVM_HOST, MSRPM_SIZE } from './svm-state';
import { nestedSyncControlFromVmcb02 } from './nested-svm-vmexit';
import { setDrIntercepts } from './svm-exit';

/** The intercepts init_vmcb sets (vectors 3 and 4), as INTERCEPT_* bits. */
const INIT_VMCB_INTERCEPTS = [
  INTERCEPT.INTERCEPT_INTR,
  INTERCEPT.INTERCEPT_NMI,
  INTERCEPT.INTERCEPT_SMI,
  INTERCEPT.INTERCEPT_INIT,
  INTERCEPT.INTERCEPT_SELECTIVE_CR0,
  INTERCEPT.INTERCEPT_RDPMC,
  INTERCEPT.INTERCEPT_CPUID,
  INTERCEPT.INTERCEPT_INVD,
  INTERCEPT.INTERCEPT_INVLPGA,
  INTERCEPT.INTERCEPT_IOIO_PROT,
  INTERCEPT.INTERCEPT_MSR_PROT,
  INTERCEPT.INTERCEPT_TASK_SWITCH,
  INTERCEPT.INTERCEPT_SHUTDOWN,
  INTERCEPT.INTERCEPT_VMRUN,
  INTERCEPT.INTERCEPT_VMMCALL,
  INTERCEPT.INTERCEPT_VMLOAD,
  INTERCEPT.INTERCEPT_VMSAVE,
  INTERCEPT.INTERCEPT_SKINIT,
  INTERCEPT.INTERCEPT_WBINVD,
  INTERCEPT.INTERCEPT_XSETBV,
  INTERCEPT.INTERCEPT_RDPRU,
  INTERCEPT.INTERCEPT_RSM,
  INTERCEPT.INTERCEPT_MONITOR,
  INTERCEPT.INTERCEPT_MWAIT,
  INTERCEPT.INTERCEPT_HLT,
];

/** The exceptions init_vmcb intercepts: #DB, #UD, #AC, #MC (#PF not: nested paging). */
const INIT_VMCB_EXCEPTIONS = (1 << 1) | (1 << 6) | (1 << 17) | (1 << 18);

/**
 * svm_hardware_enable (svm_enable_virtualization_cpu), then svm_vcpu_create → init_vmcb: one
 * decision each.
 */
export function svmVcpuCreate(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  const port = c.svmPort!;
  if (kvm.stage === 0) {
    kvm.stage = 1;
    // "wrmsrq(MSR_EFER, efer | EFER_SVME)" and the per-CPU host save area in VM_HSAVE_PA.
    port.wrmsr(MSR_EFER, port.rdmsr(MSR_EFER) | EFER.SVME);
    port.wrmsr(MSR_VM_HSAVE_PA, KVM_SVM_HOST.HSAVE);
    return decide(h, Fn.svm_hardware_enable, KVM_SVM_HOST.HSAVE);
  }
  kvm.stage = 0;
  initVmcb(c);
  kvm.vmcsAddr = KVM_SVM_HOST.VMCB01;
  kvm.phase = KvmPhase.ENTER;
  return decide(h, Fn.svm_vcpu_create, KVM_SVM_HOST.VMCB01);
}

/**
 * init_vmcb with nested paging (the lab's levels each have their own memory, as under NPT: no
 * #PF, CR3 or INVLPG intercepts; CR0 is the guest's own, so update_cr0_intercept clears its
 * intercepts), AVIC off (x2APIC accesses are MSR exits), vGIF on (the processor has it: STGI
 * and CLGI not intercepted, V_GIF_ENABLE), vNMI when kvm_amd.vnmi (V_NMI_ENABLE), no PAUSE
 * filter (CPUID 8000_000A lacks it, so PAUSE is not intercepted).
 */
function initVmcb(c: KvmContext): void {
  const port = c.svmPort!;
  const vmcb = KVM_SVM_HOST.VMCB01;
  // clear_page(svm->vmcb)
  port.fill(vmcb, 0x1000, 0);
  // CR4 reads and writes; CR8 writes (no AVIC); every DR read and write (set_dr_intercepts).
  vmcbWr(c, VMCB.INTERCEPT_CR, (1 << 4) | (1 << (16 + 4)) | (1 << (16 + 8)));
  vmcbWr(c, VMCB.INTERCEPT_DR, 0xff00ff);
  vmcbWr(c, VMCB.INTERCEPT_EXCEPTIONS, INIT_VMCB_EXCEPTIONS);
  for (const bit of INIT_VMCB_INTERCEPTS) svmSetIntercept(c, bit);
  // svm_vcpu_alloc_msrpm: every MSR intercepted (the x2APIC's among them, without x2AVIC);
  // iopm_base: every port intercepted.
  port.fill(KVM_SVM_HOST.MSRPM, MSRPM_SIZE, 0xff);
  port.fill(KVM_SVM_HOST.IOPM, IOPM_SIZE, 0xff);
  port.write(vmcb, VMCB.IOPM_BASE_PA, 8, KVM_SVM_HOST.IOPM);
  port.write(vmcb, VMCB.MSRPM_BASE_PA, 8, KVM_SVM_HOST.MSRPM);
  port.write(vmcb, VMCB.ASID, 4, 1);
  // control->nested_ctl |= SVM_NESTED_CTL_NP_ENABLE
  port.write(vmcb, VMCB.NESTED_CTL, 8, 1);
  // int_ctl = V_INTR_MASKING_MASK; vGIF: V_GIF_ENABLE, and enable_gif sets V_GIF; vNMI.
  vmcbWr(
    c,
    VMCB.INT_CTL,
    INT_CTL.V_INTR_MASKING_MASK |
      INT_CTL.V_GIF_ENABLE_MASK |
      INT_CTL.V_GIF_MASK |
      (c.kvm.svm.vnmi ? INT_CTL.V_NMI_ENABLE_MASK : 0),
  );
  // The guest state: the vCPU starts at the guest program's entry with its stack at the top
  // of its memory, RFLAGS 0x2, its IDT, in 64-bit mode as the lab's levels run (EFER.SVME is
  // set in the VMCB's EFER: svm_set_efer, "save.efer = efer | EFER_SVME").
  vmcbWr64(c, VMCB.RIP, c.guest.entry);
  vmcbWr64(c, VMCB.RSP, c.guestMemory);
  vmcbWr64(c, VMCB.RFLAGS, 0x2);
  vmcbWr64(c, VMCB.IDTR_BASE, c.guest.idtBase ?? 0);
  vmcbWr64(c, VMCB.CR0, CR0_INITIAL);
  vmcbWr64(c, VMCB.CR4, CR4_INITIAL & ~CR4.VMXE);
  vmcbWr64(c, VMCB.EFER, EFER_INITIAL | EFER.SVME);
  vmcbWr64(c, VMCB.DR6, 0xffff0ff0);
  vmcbWr64(c, VMCB.DR7, 0x400);
  const regs = c.kvm.guestRegs;
  regs[2 * RSP] = c.guestMemory >>> 0;
  regs[2 * RSP + 1] = 0;
}

/**
 * svm_vcpu_run: an NMI single-step is dropped when an event is being injected (its TF would be
 * pushed on the guest's stack) and an immediate exit forced instead; a forced immediate exit is
 * always a self-IPI (smp_send_reschedule): with interrupts off and GIF = 0 it stays pending,
 * and since KVM intercepts INTR it exits (0x60) right after EVENTINJ is delivered, before the
 * first guest instruction. Then the guest's registers into the VMCB, CLGI, VMRUN.
 */
export function svmVcpuRun(c: KvmContext): KvmStepResult {
  const { kvm, port } = c;
  const svmPort = c.svmPort!;
  let force = false;
  if (kvm.immediateExit) {
    kvm.immediateExit = false;
    // vcpu_enter_guest re-raises KVM_REQ_EVENT for the event that had to wait.
    kvm.reqEvent = true;
    force = true;
  }
  if (kvm.svm.nmiSinglestep && vmcbRd(c, VMCB.EVENT_INJ) & EVTINJ.SVM_EVTINJ_VALID) {
    disableNmiSinglestep(c);
    force = true;
  }
  if (force) port.selfIpi(RESCHEDULE_VECTOR);
  // sync_lapic_to_cr8: V_TPR is the emulated APIC's TPR[7:4] — not while L2 runs with vmcb12's
  // V_INTR_MASKING (nested_svm_virtualize_tpr: L2's V_TPR is L1's to set).
  const n = kvm.nested;
  if (!(n.guestMode && kvm.svm.nested.ctl.intCtl & INT_CTL.V_INTR_MASKING_MASK)) {
    const tpr = (kvm.lapic.tpr >>> 4) & 0xf;
    vmcbWr(c, VMCB.INT_CTL, (vmcbRd(c, VMCB.INT_CTL) & ~INT_CTL.V_TPR_MASK) | tpr);
  }
  // RAX and RSP travel in the VMCB; the other registers are loaded by __svm_vcpu_run.
  const regs = kvm.guestRegs;
  vmcbWr64(c, VMCB.RAX, regs[1] * 0x100000000 + regs[0]);
  vmcbWr64(c, VMCB.RSP, regs[2 * RSP + 1] * 0x100000000 + regs[2 * RSP]);
  svmPort.clgi();
  port.loadGuestRegs(regs);
  kvm.regsSaved = false;
  // __svm_vcpu_run: STI before VMRUN (the host's IF = 1 lets physical INTR exit through
  // V_INTR_MASKING; GIF = 0 holds it off the host until the #VMEXIT).
  svmPort.setHostIf(true);
  // In guest mode the VMCB is vmcb02 and the guest it runs is L2.
  svmPort.vmrun(kvm.svm.vmcb, KVM_SVM_HOST.SVM_VMEXIT, n.guestMode ? n.l2Lane : c.guestLane);
  // "nested_run_pending = 0": the nested entry has happened (whether or not L2 exits at once).
  n.runPending = false;
  // Whether VMRUN entered the guest or failed its checks (#VMEXIT with VMEXIT_INVALID, the
  // step's record), KVM is back after it: the exit is handled as any other.
  kvm.exceptionInjected = false;
  kvm.launched = true;
  kvm.eventsChecked = false;
  kvm.phase = KvmPhase.EXITED;
  // At L0 the step's record is the hardware's VMRUN (or VMEXIT_INVALID). Above L0 the VMRUN
  // trapped and the level below ran the guest; KVM is back after its #VMEXIT.
  return c.port.level === 0
    ? 'recorded'
    : decide(c.h, Fn.svm_vcpu_run, 0, n.guestMode ? n.l2Lane : c.guestLane);
}

/**
 * After the #VMEXIT, svm_vcpu_run's tail: STGI (a pending host NMI or interrupt is taken by
 * the host from here on), the guest's RAX and RSP from the VMCB, svm_complete_interrupts, then
 * the host's pending interrupt. One decision per call when something happened, else none.
 */
export function svmCompleteExit(c: KvmContext): KvmStepResult | null {
  const { kvm } = c;
  if (kvm.stage === 0) {
    kvm.stage = 1;
    // __svm_vcpu_run's CLI right after VMRUN, then svm_vcpu_enter_exit's STGI.
    c.svmPort!.setHostIf(false);
    c.svmPort!.stgi();
    const code = vmcbRd(c, VMCB.EXIT_CODE);
    kvm.svm.exitCode = code;
    kvm.lastExitReason = code;
    const regs = kvm.guestRegs;
    const rax = vmcbRd64(c, VMCB.RAX);
    const rsp = vmcbRd64(c, VMCB.RSP);
    regs[0] = rax >>> 0;
    regs[1] = Math.floor(rax / 0x100000000) >>> 0;
    regs[2 * RSP] = rsp >>> 0;
    regs[2 * RSP + 1] = Math.floor(rsp / 0x100000000) >>> 0;
    // svm_vcpu_run after an exit of L2: nested_sync_control_from_vmcb02.
    if (kvm.nested.guestMode) nestedSyncControlFromVmcb02(c);
    // svm_sync_dirty_debug_regs: the guest ran with its DR accesses unintercepted.
    if (kvm.dbregsWontExit) {
      kvm.dbregsWontExit = false;
      setDrIntercepts(c);
    }
    const r = svmCompleteInterrupts(c);
    if (r) return r;
  }
  if (kvm.stage === 1) {
    // vcpu_enter_guest's local_irq_enable after handle_exit_irqoff: the interrupt (or NMI) that
    // caused exit 0x60 (0x61) is still pending at the processor and the host takes it now,
    // before svm_handle_exit. Above L0 it comes through KVM's IDT once interrupts are on: the
    // step ends with IF = 1, and the next one disables them again.
    kvm.stage = 2;
    if (c.port.level === 0) {
      const r = hostEvents(c);
      if (r) return r;
    } else if (kvm.svm.exitCode === SvmExit.INTR || kvm.svm.exitCode === SvmExit.NMI) {
      c.port.irqWindow();
      return decide(c.h, Fn.local_irq_enable, kvm.svm.exitCode);
    }
  }
  if (kvm.stage === 2 && c.port.level > 0) c.port.cli();
  kvm.stage = 0;
  kvm.phase = KvmPhase.HANDLE;
  return null;
}

/**
 * svm_complete_interrupts: once RIP has moved past the intercepted IRET the guest's NMI handler
 * has returned, and NMIs are unmasked (awaiting_iret_completion); then the event the exit
 * interrupted (EXITINTINFO) goes back into KVM's queues, to be re-injected first: an NMI as
 * nmi_injected, an exception re-queued with its error code, an interrupt (or soft interrupt)
 * as vcpu->arch.interrupt. d1 = EXITINTINFO, d2 = 1 when the IRET completed.
 */
function svmCompleteInterrupts(c: KvmContext): KvmStepResult | null {
  const { h, kvm } = c;
  const s = kvm.svm;
  let iretDone = 0;
  if (s.awaitingIretCompletion && vmcbRd64(c, VMCB.RIP) !== s.nmiIretRip) {
    s.awaitingIretCompletion = false;
    s.nmiMasked = false;
    kvm.reqEvent = true;
    iretDone = 1;
  }
  kvm.nmiInjected = false;
  kvm.irqInjected = false;
  kvm.exceptionInjected = false;
  // svm->nmi_l1_to_l2 holds only for the NMI it re-queues now.
  const nmiL1ToL2 = s.nested.nmiL1ToL2;
  s.nested.nmiL1ToL2 = false;
  const info = vmcbRd(c, VMCB.EXIT_INT_INFO);
  if (!(info & EVTINJ.SVM_EVTINJ_VALID)) return iretDone ? decide(h, Fn.svm_complete_interrupts, 0, 1) : null;
  kvm.reqEvent = true;
  const vector = info & 0xff;
  const type = (info >>> 8) & 7;
  if (type === SvmEventType.NMI) {
    kvm.nmiInjected = true;
    s.nested.nmiL1ToL2 = nmiL1ToL2;
  } else if (type === SvmEventType.EXCEPTION) {
    // kvm_requeue_exception: injected again at the next entry, with its error code.
    kvm.exceptionInjected = true;
    kvm.exceptionPending = false;
    kvm.exceptionVector = vector;
    kvm.exceptionErrorCode = info & EVTINJ.SVM_EVTINJ_VALID_ERR ? vmcbRd(c, VMCB.EXIT_INT_INFO_ERR) : 0;
    s.requeuedHasError = (info & EVTINJ.SVM_EVTINJ_VALID_ERR) !== 0;
  } else if (type === SvmEventType.INTR || type === SvmEventType.SOFT_INT) {
    kvm.irqInjected = true;
    kvm.irqVector = vector;
    kvm.irqSoft = type === SvmEventType.SOFT_INT;
  }
  return decide(h, Fn.svm_complete_interrupts, info, iretDone);
}

/** Whether an exception vector pushes an error code (for EVENTINJ.EV). */
export function exceptionHasErrorCode(vector: number): boolean {
  return (hwExceptionInfo(vector) & 0x800) !== 0;
}
