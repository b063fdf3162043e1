// KVM's SVM exit handlers (arch/x86/kvm/svm/svm.c svm_handle_exit → svm_exit_handlers[], and
// the x86.c / lapic.c emulation they call), for the exits KVM's guest can cause in the lab.
// One recorded decision per exit; an exit KVM cannot handle stops the vCPU.
import { DR6 } from '../../cpu/debug';
import { ioRead } from '../../cpu/io-space';
import { RFLAGS } from '../../cpu/state';
import { CR4 } from '../../cpu/state';
import { CR4_SUPPORTED } from '../../cpu/control-regs';
import { INT_STATE, INTERCEPT } from '../../svm/bits';
import { SVM_FEATURES, amdCpuidLeaf } from '../../svm/cpuid';
import { SvmExit, svmExitName } from '../../svm/exit-codes';
import { VMCB } from '../../svm/vmcb';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn } from './functions';
import { x2apicMsrRead, x2apicMsrWrite } from './lapic';
import { kvmRead } from './vmx';
import { instructionAt } from './nested-instructions';
import {
  gpInterception,
  svmGetMsr,
  svmInstructionInterception,
  svmNestedExitRoute,
  svmSetMsr,
} from './svm-nested-exit';
import { KvmPhase, queueKvmException } from './state';
import {
  disableNmiSinglestep,
  svmSetIntercept,
  svmClrIntercept,
  svmClearVintr,
  svmClrIretIntercept,
  svmGetRflags,
  vmcbRd,
  vmcbRd64,
  vmcbWr,
  vmcbWr64,
} from './svm';

/**
 * The guest's CPUID as KVM reports it on AMD: the processor's table without MONITOR (leaf 1
 * ECX[3], leaf 5 empty). With kvm_amd.nested (the default) SVM stays (8000_0001 ECX[2]) and
 * 8000_000A offers what svm_set_cpu_caps gives L1 of the processor's: NRIPS, vGIF, and vNMI when
 * KVM uses it (kvm_amd.vnmi).
 */
export function kvmAmdCpuid(leaf: number, vnmi = true): [number, number, number, number] {
  const r = amdCpuidLeaf(leaf);
  const l = leaf >>> 0;
  if (l === 1) r[2] = (r[2] & ~(1 << 3)) >>> 0;
  if (l === 5) return [0, 0, 0, 0];
  if (l === 0x8000000a) {
    const f = SVM_FEATURES.NRIPS | SVM_FEATURES.VGIF | (vnmi ? SVM_FEATURES.VNMI : 0);
    return [r[0], r[1], 0, (r[3] & f) >>> 0];
  }
  return r;
}

/**
 * svm_skip_emulated_instruction: RIP = next_rip (NRIPS), the interrupt shadow ends
 * (svm_set_interrupt_shadow(vcpu, 0)); with the guest's RFLAGS.TF the emulated instruction ends
 * with its single-step trap (kvm_vcpu_do_singlestep: #DB with DR6.BS).
 */
export function svmSkipEmulatedInstruction(c: KvmContext): void {
  vmcbWr64(c, VMCB.RIP, vmcbRd64(c, VMCB.NEXT_RIP));
  const state = vmcbRd(c, VMCB.INT_STATE);
  if (state & INT_STATE.SVM_INTERRUPT_SHADOW_MASK)
    vmcbWr(c, VMCB.INT_STATE, state & ~INT_STATE.SVM_INTERRUPT_SHADOW_MASK);
  if (svmGetRflags(c) & RFLAGS.TF) {
    queueKvmException(c.kvm, 1);
    c.kvm.exceptionPayload = DR6.BS;
  }
}

function skipped(c: KvmContext, fn: number, d1 = 0, d2 = 0): KvmStepResult {
  svmSkipEmulatedInstruction(c);
  return decide(c.h, fn, d1, d2);
}

function queued(c: KvmContext, fn: number, vector: number, errorCode = 0): KvmStepResult {
  queueKvmException(c.kvm, vector, errorCode);
  return decide(c.h, fn, c.kvm.lastExitReason, vector);
}

function stop(c: KvmContext, text: string): KvmStepResult {
  c.kvm.phase = KvmPhase.STOPPED;
  c.kvm.log.push({ step: c.step, text });
  return decide(c.h, Fn.svm_handle_exit, c.kvm.lastExitReason);
}

/** svm_handle_exit: the exit code's handler (svm_invoke_exit_handler). */
export function svmHandleExit(c: KvmContext): KvmStepResult | null {
  const { h, kvm } = c;
  kvm.stage = 0;
  kvm.phase = KvmPhase.ENTER;
  // The handler is chosen by the exit code (svm_exit_handlers[exit_code]): an input of every
  // handler's decision (causes/why.ts; the lab's KVM keeps it as exit_reason).
  const code = kvmRead(c, 'exit_reason', kvm.svm.exitCode) >>> 0;
  const regs = kvm.guestRegs;
  if (kvm.nested.guestMode) {
    const reflected = svmNestedExitRoute(c, code);
    if (reflected) return reflected;
  }
  const svmInsn = svmInstructionInterception(c, code, svmSkipEmulatedInstruction);
  if (svmInsn) return svmInsn;
  if (code < 0x20) return crInterception(c, code);
  if (code < 0x40) return drInterception(c);
  switch (code) {
    case SvmExit.ERR >>> 0:
      // "if (svm->vmcb->control.exit_code == SVM_EXIT_ERR)": KVM_EXIT_FAIL_ENTRY to userspace.
      return stop(c, 'svm_handle_exit: VMRUN failed its checks (SVM_EXIT_ERR): KVM_EXIT_FAIL_ENTRY');
    case SvmExit.INTR:
      // The host took its interrupt after STGI; nothing else to do ("return 1").
      return decide(h, Fn.intr_interception);
    case SvmExit.NMI:
      return decide(h, Fn.nmi_interception);
    case SvmExit.VINTR:
      kvm.reqEvent = true;
      svmClearVintr(c);
      return decide(h, Fn.interrupt_window_interception);
    case SvmExit.IRET: {
      // The IRET is not skipped: the guest executes it after the entry; NMIs unmask once RIP
      // has moved on (svm_complete_interrupts).
      const s = kvm.svm;
      s.awaitingIretCompletion = true;
      svmClrIretIntercept(c);
      s.nmiIretRip = vmcbRd64(c, VMCB.RIP);
      kvm.reqEvent = true;
      return decide(h, Fn.iret_interception, s.nmiIretRip);
    }
    case SvmExit.EXCP_BASE + 1: {
      if (kvm.svm.nmiSinglestep) {
        disableNmiSinglestep(c);
        kvm.reqEvent = true;
        return decide(h, Fn.db_interception, 1);
      }
      // The guest's own #DB, re-injected with its DR6 bits as the payload.
      queueKvmException(kvm, 1);
      kvm.exceptionPayload = c.h.cpu.dr[12] & (DR6.B0_B3 | DR6.BD | DR6.BS);
      return decide(h, Fn.db_interception, 0);
    }
    case SvmExit.EXCP_BASE + 6:
      // handle_ud: the emulator finds no instruction it emulates for the guest: #UD.
      return queued(c, Fn.ud_interception, 6);
    case SvmExit.EXCP_BASE + 17:
      return queued(c, Fn.ac_interception, 17, 0);
    case SvmExit.HLT:
      // kvm_emulate_halt: skip the HLT, the vCPU halts; kvm_vcpu_block waits for an event.
      svmSkipEmulatedInstruction(c);
      kvm.halted = true;
      return decide(h, Fn.kvm_emulate_halt);
    case SvmExit.EXCP_BASE + 13:
      return gpInterception(c);
    case SvmExit.CPUID: {
      const r = kvmAmdCpuid(regs[0], kvm.svm.vnmi);
      [0, 3, 1, 2].forEach((reg, i) => {
        regs[2 * reg] = r[i] >>> 0;
        regs[2 * reg + 1] = 0;
      });
      return skipped(c, Fn.kvm_emulate_cpuid, r[0]);
    }
    case SvmExit.MSR:
      return msrInterception(c);
    case SvmExit.IOIO: {
      // io_interception → kvm_fast_pio: no device claims the port (no userspace VMM in the
      // lab): IN reads all ones, OUT is dropped; RIP = EXITINFO2 (the next instruction).
      const info = vmcbRd(c, VMCB.EXIT_INFO_1);
      const port = info >>> 16;
      const size = info & 0x10 ? 1 : info & 0x20 ? 2 : 4;
      const isIn = (info & 1) === 1;
      if (isIn) {
        const v = ioRead(port, size);
        const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
        regs[0] = ((regs[0] & ~mask) | (v & mask)) >>> 0;
        if (size === 4) regs[1] = 0;
      }
      vmcbWr64(c, VMCB.NEXT_RIP, vmcbRd64(c, VMCB.EXIT_INFO_2));
      return skipped(c, Fn.io_interception, port, isIn ? 1 : 0);
    }
    case SvmExit.VMMCALL:
      regs[0] = regs[1] = 0;
      return skipped(c, Fn.kvm_emulate_hypercall);
    case SvmExit.WBINVD:
      return skipped(c, Fn.handle_wbinvd);
    case SvmExit.INVD:
      return skipped(c, Fn.handle_invd);
    case SvmExit.MONITOR:
    case SvmExit.MWAIT:
      return skipped(c, code === SvmExit.MWAIT ? Fn.handle_mwait : Fn.handle_monitor);
    case SvmExit.RDPMC:
      regs[0] = regs[1] = regs[4] = regs[5] = 0;
      return skipped(c, Fn.handle_rdpmc, regs[2]);
    case SvmExit.SHUTDOWN:
      // "The VMCB is undefined after a SHUTDOWN intercept": KVM_EXIT_SHUTDOWN to userspace.
      kvm.phase = KvmPhase.STOPPED;
      kvm.log.push({ step: c.step, text: 'shutdown_interception: KVM_EXIT_SHUTDOWN (the guest shut down)' });
      return decide(h, Fn.shutdown_interception);
    default:
      return stop(
        c,
        `svm_handle_exit: unexpected exit ${svmExitName(code)} (0x${code.toString(16)}): KVM_EXIT_INTERNAL_ERROR to userspace`,
      );
  }
}

/**
 * msr_interception: EXITINFO1 = 1 for WRMSR. EFER and VM_HSAVE_PA go to svm_set_msr /
 * svm_get_msr (the guest's own EFER, without the SVME KVM forces in the VMCB); the x2APIC
 * registers to the emulated APIC (kvm_x2apic_msr_write / read); any other MSR is #GP(0).
 */
function msrInterception(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  const regs = kvm.guestRegs;
  const msr = regs[2];
  const write = (vmcbRd(c, VMCB.EXIT_INFO_1) & 1) === 1;
  if (write) {
    const svm = svmSetMsr(c, msr, regs[0], regs[4]);
    if (svm !== null) {
      if (svm) return skipped(c, Fn.svm_set_msr, msr, regs[0]);
      queueKvmException(kvm, 13);
      return decide(h, Fn.inject_gp, msr);
    }
    if (!x2apicMsrWrite(kvm, msr, regs[0], regs[4])) {
      queueKvmException(kvm, 13);
      return decide(h, Fn.inject_gp, msr);
    }
    return skipped(c, Fn.x2apic_msr_write, msr, regs[0]);
  }
  const own = svmGetMsr(c, msr);
  const v: [number, number] | null = own ?? x2apicMsrRead(kvm, msr, c.port.tsc());
  if (!v) {
    queueKvmException(kvm, 13);
    return decide(h, Fn.inject_gp, msr);
  }
  regs[0] = v[0] >>> 0;
  regs[1] = 0;
  regs[4] = v[1] >>> 0;
  regs[5] = 0;
  return skipped(c, own ? Fn.svm_get_msr : Fn.x2apic_msr_read, msr, v[0]);
}

/**
 * cr_interception without decode assists (the lab's processor reports no GPR in EXITINFO1):
 * emulate_on_interception — KVM's emulator decodes the MOV CR at RIP. CR4 reads return the
 * guest's CR4 (the VMCB's); CR4 writes with a reserved bit, VMXE (AMD) or PAE clear in long mode
 * are #GP (kvm_set_cr4); CR8 writes set the emulated APIC's TPR (kvm_set_cr8). Anything else
 * KVM's emulator would do that the lab does not model stops the vCPU.
 */
function crInterception(c: KvmContext, code: number): KvmStepResult {
  const { kvm } = c;
  const lane = kvm.nested.guestMode ? kvm.nested.l2Lane : c.guestLane;
  const ins = instructionAt(c, lane, vmcbRd64(c, VMCB.RIP));
  const cr = code & 0xf;
  const write = code >= 0x10;
  if (!ins || ins.n !== cr) return stop(c, `cr_interception: no MOV CR${cr} at RIP to emulate`);
  const regs = kvm.guestRegs;
  const r = ins.a.reg;
  if (!write) {
    const v = cr === 8 ? (kvm.lapic.tpr >>> 4) & 0xf : cr === 4 ? vmcbRd64(c, VMCB.CR4) : NaN;
    if (Number.isNaN(v)) return stop(c, `cr_interception: reads of CR${cr} are not emulated`);
    regs[2 * r] = v >>> 0;
    regs[2 * r + 1] = 0;
    vmcbWr64(c, VMCB.NEXT_RIP, ins.addr + ins.len);
    return skipped(c, Fn.cr_interception, code, v);
  }
  const lo = regs[2 * r];
  const hi = regs[2 * r + 1];
  if (cr === 4) {
    if (hi !== 0 || lo & ~CR4_SUPPORTED || lo & CR4.VMXE || !(lo & CR4.PAE)) {
      queueKvmException(kvm, 13);
      return decide(c.h, Fn.inject_gp, code);
    }
    vmcbWr64(c, VMCB.CR4, lo >>> 0);
  } else if (cr === 8) {
    if (hi !== 0 || lo & ~0xf) {
      queueKvmException(kvm, 13);
      return decide(c.h, Fn.inject_gp, code);
    }
    kvm.lapic.tpr = (lo & 0xf) << 4;
  } else return stop(c, `cr_interception: writes of CR${cr} are not emulated`);
  vmcbWr64(c, VMCB.NEXT_RIP, ins.addr + ins.len);
  return skipped(c, Fn.cr_interception, code, lo);
}

/**
 * dr_interception with no host debugging (vcpu->guest_debug == 0): KVM drops the DR intercepts
 * (clr_dr_intercepts, KVM_DEBUGREG_WONT_EXIT) and lets the guest execute the instruction itself;
 * svm_sync_dirty_debug_regs sets them again at the next exit (svm-run.ts).
 */
function drInterception(c: KvmContext): KvmStepResult {
  for (let dr = 0; dr < 8; dr++) {
    svmClrIntercept(c, INTERCEPT.INTERCEPT_DR0_READ + dr);
    svmClrIntercept(c, INTERCEPT.INTERCEPT_DR0_WRITE + dr);
  }
  c.kvm.dbregsWontExit = true;
  return decide(c.h, Fn.dr_interception, c.kvm.lastExitReason);
}

/** set_dr_intercepts: every DR read and write, as init_vmcb set them. */
export function setDrIntercepts(c: KvmContext): void {
  for (let dr = 0; dr < 8; dr++) {
    svmSetIntercept(c, INTERCEPT.INTERCEPT_DR0_READ + dr);
    svmSetIntercept(c, INTERCEPT.INTERCEPT_DR0_WRITE + dr);
  }
}
