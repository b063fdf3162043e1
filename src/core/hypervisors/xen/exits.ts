// svm_vmexit_handler (xen/arch/x86/hvm/svm/svm.c): what Xen does after a #VMEXIT, once STGI
// let the host take its interrupts. An event whose delivery the exit interrupted is queued for
// re-injection first; then the exit code selects the handler.
import { X2APIC } from '../../cpu/apic';
import { RFLAGS } from '../../cpu/state';
import { EVTINJ, INT_CTL, INTERCEPT, SvmEventType, interceptMask } from '../../svm/bits';
import { amdCpuidLeaf } from '../../svm/cpuid';
import { SvmExit } from '../../svm/exit-codes';
import { VMCB } from '../../svm/vmcb';
import { type XenContext, type XenStepResult, decide } from './context';
import { XenFn } from './functions';
import { hvmInterruptBlocked, hvmVcpuHasPendingIrq } from './hvm';
import { guestRdmsrX2apic, guestWrmsrX2apic } from './vlapic';
import { XenPhase } from './state';

const IRET = interceptMask(INTERCEPT.INTERCEPT_IRET);
const VINTR = interceptMask(INTERCEPT.INTERCEPT_VINTR);
const RCX = 1;
const RDX = 2;

/** Bits of svm_vmexit_handler's record d2. */
export const ExitDid = {
  /** EXITINTINFO was copied to EVENTINJ (hvm_event_needs_reinjection). */
  REINJECT: 1,
  /** The exit is one Xen does not handle: domain_crash. */
  CRASH: 2,
  /** #UD injected (an SVM instruction with nested HVM off, MONITOR/MWAIT). */
  UD: 4,
} as const;

/** hvm_event_needs_reinjection: external interrupts, NMIs and hardware exceptions but #BP/#OF. */
function needsReinjection(info: number): boolean {
  const type = (info >>> 8) & 7;
  const vector = info & 0xff;
  if (type === SvmEventType.INTR || type === SvmEventType.NMI) return true;
  return type === SvmEventType.EXCEPTION && vector !== 3 && vector !== 4;
}

/** __update_guest_eip: RIP = nRIP (cpu_has_svm_nrips), and the interrupt shadow is gone. */
function updateGuestEip(c: XenContext): void {
  const p = c.port;
  p.write64(VMCB.RIP, p.read64(VMCB.NEXT_RIP));
  p.write32(VMCB.INT_STATE, 0);
}

/** hvm_inject_hw_exception: EVENTINJ = valid | exception | vector (with an error code for #GP). */
function injectHwException(c: XenContext, vector: number, err: number | null): void {
  const p = c.port;
  const ev = err === null ? 0 : EVTINJ.SVM_EVTINJ_VALID_ERR;
  p.write32(VMCB.EVENT_INJ, EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_EXEPT | ev | vector);
  p.write32(VMCB.EVENT_INJ_ERR, err ?? 0);
}

function crash(c: XenContext, reason: string): void {
  c.xen.crashed = true;
  c.xen.reason = reason;
  c.xen.phase = XenPhase.DEAD;
}

/**
 * svm_vmexit_handler. Record: d1 = the exit code, d2 = ExitDid bits. The handlers with their
 * own function (HLT, MSR, CPUID) record under that function instead.
 */
export function svmVmexitHandler(c: XenContext): XenStepResult {
  const p = c.port;
  const code = p.read32(VMCB.EXIT_CODE);
  const x = c.xen;
  x.phase = XenPhase.RESUME;
  if (code === 0xffffffff) {
    // "invalid VMCB state": svm_vmcb_dump, then domain_crash.
    crash(c, 'VMRUN failed: VMEXIT_INVALID ("invalid VMCB state")');
    return decide(c.h, XenFn.domain_crash, code, ExitDid.CRASH);
  }
  // vintr.tpr tracks the guest's CR8 (not intercepted): the vLAPIC's TPR follows it.
  const vtpr = p.read32(VMCB.INT_CTL) & INT_CTL.V_TPR_MASK;
  x.vlapic.tpr = (vtpr << 4) | (x.vlapic.tpr & 0xf);
  let did = 0;
  // "Event delivery caused this intercept? Queue for redelivery."
  const intInfo = p.read32(VMCB.EXIT_INT_INFO);
  if (intInfo & EVTINJ.SVM_EVTINJ_VALID && needsReinjection(intInfo)) {
    p.write32(VMCB.EVENT_INJ, intInfo);
    p.write32(VMCB.EVENT_INJ_ERR, p.read32(VMCB.EXIT_INT_INFO_ERR));
    did |= ExitDid.REINJECT;
  }
  switch (code) {
    case SvmExit.INTR:
    case SvmExit.NMI:
      // "Asynchronous event, handled when we STGI'd after the VMEXIT."
      break;
    case SvmExit.VINTR:
      // The window is open: drop the dummy V_IRQ and the VINTR intercept.
      p.write32(VMCB.INT_CTL, p.read32(VMCB.INT_CTL) & ~INT_CTL.V_IRQ_MASK);
      p.write32(VMCB.INTERCEPT, p.read32(VMCB.INTERCEPT) & ~VINTR);
      break;
    case SvmExit.IRET:
      // "IRET clears the NMI mask. However because we clear the mask /before/ executing IRET,
      // we set the interrupt shadow to prevent a pending NMI from being injected immediately.
      // This will work perfectly unless the IRET instruction faults". RIP stays at the IRET.
      p.write32(VMCB.INTERCEPT, p.read32(VMCB.INTERCEPT) & ~IRET);
      p.write32(VMCB.INT_STATE, 1);
      break;
    case SvmExit.HLT:
      return svmVmexitDoHlt(c);
    case SvmExit.MSR:
      return svmDoMsrAccess(c);
    case SvmExit.CPUID:
      return svmVmexitDoCpuid(c);
    case SvmExit.VMMCALL:
      // hvm_hypercall: the model has no hypercalls: -ENOSYS in RAX.
      p.write32(VMCB.RAX, -38 >>> 0);
      p.write32(VMCB.RAX + 4, 0xffffffff);
      updateGuestEip(c);
      break;
    case SvmExit.IOIO: {
      // No device behind any port: IN reads all ones; EXITINFO2 holds the next RIP.
      const info = p.read32(VMCB.EXIT_INFO_1);
      if (info & 1) {
        const size = info & 0x10 ? 1 : info & 0x20 ? 2 : 4;
        const rax = p.read64(VMCB.RAX);
        const ones = size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
        p.write64(VMCB.RAX, rax - (rax % 2 ** (size * 8)) + ones);
      }
      p.write64(VMCB.RIP, p.read64(VMCB.EXIT_INFO_2));
      p.write32(VMCB.INT_STATE, 0);
      break;
    }
    case 0x76: // VMEXIT_INVD
    case 0x79: // VMEXIT_INVLPG
    case 0x89: // VMEXIT_WBINVD
      updateGuestEip(c);
      break;
    case SvmExit.VMRUN:
    case 0x82: // VMLOAD
    case 0x83: // VMSAVE
    case 0x84: // STGI
    case 0x85: // CLGI
    case 0x86: // SKINIT
    case 0x8a: // MONITOR
    case 0x8b: // MWAIT
      // Nested HVM is off for this domain: #UD.
      injectHwException(c, 6, null);
      did |= ExitDid.UD;
      break;
    case 0x7f: // VMEXIT_SHUTDOWN: hvm_triple_fault
      crash(c, 'the guest shut down (triple fault)');
      return decide(c.h, XenFn.domain_crash, code, did | ExitDid.CRASH);
    default:
      // "unexpected VMEXIT": domain_crash.
      crash(c, `unexpected VMEXIT, exit code 0x${code.toString(16)}`);
      return decide(c.h, XenFn.domain_crash, code, did | ExitDid.CRASH);
  }
  return decide(c.h, XenFn.svm_vmexit_handler, code, did);
}

/** What hvm_hlt did: d1 of svm_vmexit_do_hlt's record. */
export const Hlt = { BLOCKED: 1, EVENT_PENDING: 2, DOWN: 3 } as const;

/**
 * svm_vmexit_do_hlt → hvm_hlt: past the HLT; an event being injected (hvm_event_pending:
 * EVENTINJ valid) lets the vCPU go on; with IF = 0 ("a pretty sick guest") the vCPU goes down
 * (hvm_vcpu_down: with one vCPU the domain powers off); otherwise SCHEDOP_block, which does
 * not block when an event can be delivered already (local_events_need_delivery).
 */
function svmVmexitDoHlt(c: XenContext): XenStepResult {
  const p = c.port;
  updateGuestEip(c);
  if (p.read32(VMCB.EVENT_INJ) & EVTINJ.SVM_EVTINJ_VALID)
    return decide(c.h, XenFn.svm_vmexit_do_hlt, Hlt.EVENT_PENDING);
  if (!(p.read32(VMCB.RFLAGS) & RFLAGS.IF)) {
    c.xen.phase = XenPhase.DEAD;
    c.xen.reason = 'HLT with IF = 0: hvm_vcpu_down (the domain powers off)';
    return decide(c.h, XenFn.svm_vmexit_do_hlt, Hlt.DOWN);
  }
  const intack = hvmVcpuHasPendingIrq(c);
  if (intack.source !== 0 && hvmInterruptBlocked(c, intack).blk === 0)
    return decide(c.h, XenFn.svm_vmexit_do_hlt, Hlt.EVENT_PENDING);
  c.xen.phase = XenPhase.BLOCKED;
  return decide(c.h, XenFn.svm_vmexit_do_hlt, Hlt.BLOCKED);
}

/**
 * svm_do_msr_access: RDMSR/WRMSR of the x2APIC registers go to the vLAPIC (guest_rdmsr_x2apic,
 * guest_wrmsr_x2apic); anything else, or a write the vLAPIC refuses, is #GP(0).
 * Record: d1 = the MSR, d2 = write | #GP << 1 | NMI IPI << 2 | (IPI vector + 1) << 8.
 */
function svmDoMsrAccess(c: XenContext): XenStepResult {
  const p = c.port;
  const write = (p.read32(VMCB.EXIT_INFO_1) & 1) === 1;
  const msr = p.guestReg(RCX) >>> 0;
  let gp = false;
  let nmi = false;
  let irq = -1;
  if (write) {
    const lo = p.read64(VMCB.RAX) >>> 0;
    const hi = p.guestReg(RDX) >>> 0;
    const r = guestWrmsrX2apic(c.xen, msr, lo, hi);
    gp = !r.ok;
    // The VMCB's V_TPR mirrors the vLAPIC's TPR, so that a V_IRQ window honours it (docs/xen.md).
    if (r.ok && msr === X2APIC.TPR)
      p.write32(VMCB.INT_CTL, (p.read32(VMCB.INT_CTL) & ~INT_CTL.V_TPR_MASK) | (c.xen.vlapic.tpr >> 4));
    nmi = r.nmiToSelf;
    irq = r.irq;
  } else {
    const v = guestRdmsrX2apic(c.xen, msr, p.tsc() + p.read64(VMCB.TSC_OFFSET));
    if (v) {
      p.write64(VMCB.RAX, v[0]);
      p.setGuestReg(RDX, v[1]);
    } else gp = true;
  }
  if (gp) injectHwException(c, 13, 0);
  else updateGuestEip(c);
  return decide(
    c.h,
    XenFn.svm_do_msr_access,
    msr,
    (write ? 1 : 0) | (gp ? 2 : 0) | (nmi ? 4 : 0) | ((irq + 1) << 8),
  );
}

/** svm_vmexit_do_cpuid: the guest's CPUID policy — the host's leaves without SVM. */
function svmVmexitDoCpuid(c: XenContext): XenStepResult {
  const p = c.port;
  const leaf = p.read64(VMCB.RAX) >>> 0;
  const r = amdCpuidLeaf(leaf, c.h.svm.features);
  if (leaf === 0x80000001) r[2] &= ~(1 << 2);
  if (leaf === 0x8000000a) r[0] = r[1] = r[2] = r[3] = 0;
  p.write64(VMCB.RAX, r[0] >>> 0);
  p.setGuestReg(3, r[1] >>> 0);
  p.setGuestReg(RCX, r[2] >>> 0);
  p.setGuestReg(RDX, r[3] >>> 0);
  updateGuestEip(c);
  return decide(c.h, XenFn.svm_vmexit_do_cpuid, leaf);
}
