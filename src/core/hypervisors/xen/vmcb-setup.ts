// Setting up the processor and the vCPU's VMCB: svm_cpu_up (xen/arch/x86/hvm/svm/svm.c) and
// construct_vmcb (xen/arch/x86/hvm/svm/vmcb.c).
import { EFER, INT_CTL, INTERCEPT, interceptMask } from '../../svm/bits';
import { SVM_FEATURES, amdCpuidLeaf } from '../../svm/cpuid';
import { VMCB } from '../../svm/vmcb';
import { type XenContext, type XenStepResult, decide } from './context';
import { XenFn } from './functions';
import { XEN_HOST } from './port';
import { XenPhase } from './state';

const m = (bit: number) => interceptMask(bit);

/** construct_vmcb's general1 intercepts (vector 3), the NMI intercept apart. */
export const GENERAL1 =
  m(INTERCEPT.INTERCEPT_INTR) |
  m(INTERCEPT.INTERCEPT_SMI) |
  m(INTERCEPT.INTERCEPT_INIT) |
  m(INTERCEPT.INTERCEPT_CPUID) |
  m(INTERCEPT.INTERCEPT_INVD) |
  m(INTERCEPT.INTERCEPT_HLT) |
  m(INTERCEPT.INTERCEPT_INVLPG) |
  m(INTERCEPT.INTERCEPT_INVLPGA) |
  m(INTERCEPT.INTERCEPT_IOIO_PROT) |
  m(INTERCEPT.INTERCEPT_MSR_PROT) |
  m(INTERCEPT.INTERCEPT_TASK_SWITCH) |
  m(INTERCEPT.INTERCEPT_SHUTDOWN);

/** General2 (vector 4): the SVM instructions (no nested HVM), WBINVD, MONITOR, MWAIT. */
export const GENERAL2 =
  m(INTERCEPT.INTERCEPT_VMRUN) |
  m(INTERCEPT.INTERCEPT_VMMCALL) |
  m(INTERCEPT.INTERCEPT_VMLOAD) |
  m(INTERCEPT.INTERCEPT_VMSAVE) |
  m(INTERCEPT.INTERCEPT_STGI) |
  m(INTERCEPT.INTERCEPT_CLGI) |
  m(INTERCEPT.INTERCEPT_SKINIT) |
  m(INTERCEPT.INTERCEPT_WBINVD) |
  m(INTERCEPT.INTERCEPT_MONITOR) |
  m(INTERCEPT.INTERCEPT_MWAIT);

/** cpu_has_svm_vnmi: CPUID Fn8000_000A EDX[25] of the processor Xen runs on. */
export function cpuHasSvmVnmi(features: number): boolean {
  return (amdCpuidLeaf(0x8000000a, features)[3] & SVM_FEATURES.VNMI) !== 0;
}

/** svm_cpu_up: EFER.SVME and VM_HSAVE_PA. Record: d1 = VM_HSAVE_PA. */
export function svmCpuUp(c: XenContext): XenStepResult {
  c.port.cpuUp();
  c.xen.stage = 1;
  return decide(c.h, XenFn.svm_cpu_up, XEN_HOST.HSAVE);
}

/**
 * construct_vmcb: the intercepts (INTR, NMI, HLT, MSR and I/O through all-ones permission maps,
 * the SVM instructions), V_INTR_MASKING, vnmi_enable = cpu_has_svm_vnmi (86a203ab8d), ASID 1,
 * and the vCPU's start state (the guest program's entry and IDT, RFLAGS 0x2, the host's paging
 * mode; EFER with SVME, as svm_update_guest_efer always keeps it in the VMCB).
 * Record: d1 = general1 intercepts, d2 = int_ctl.
 */
export function constructVmcb(c: XenContext): XenStepResult {
  const p = c.port;
  p.fill(XEN_HOST.VMCB, 0x1000, 0);
  p.fill(XEN_HOST.MSRPM, 0x2000, 0xff);
  p.fill(XEN_HOST.IOPM, 0x3000, 0xff);
  const general1 = GENERAL1 | (c.options.nmiIntercept ? m(INTERCEPT.INTERCEPT_NMI) : 0);
  p.write32(VMCB.INTERCEPT, general1);
  p.write32(VMCB.INTERCEPT_WORD4, GENERAL2);
  // #MC only: the #DB/#AC intercepts of HVM_TRAP_MASK are not modelled (docs/xen.md).
  p.write32(VMCB.INTERCEPT_EXCEPTIONS, 1 << 18);
  p.write64(VMCB.IOPM_BASE_PA, XEN_HOST.IOPM);
  p.write64(VMCB.MSRPM_BASE_PA, XEN_HOST.MSRPM);
  p.write32(VMCB.ASID, 1);
  const intCtl = INT_CTL.V_INTR_MASKING_MASK | (c.xen.vnmi ? INT_CTL.V_NMI_ENABLE_MASK : 0);
  p.write32(VMCB.INT_CTL, intCtl);
  const cr = p.hostCr();
  p.write64(VMCB.CR0, cr.cr0);
  p.write64(VMCB.CR3, cr.cr3);
  p.write64(VMCB.CR4, cr.cr4);
  p.write64(VMCB.EFER, p.hostEfer() | EFER.SVME);
  p.write64(VMCB.RIP, c.guest.entry);
  p.write64(VMCB.RSP, c.guestMemory);
  p.write64(VMCB.RFLAGS, 0x2);
  p.write64(VMCB.IDTR_BASE, c.guest.idtBase);
  c.xen.phase = XenPhase.RESUME;
  c.xen.stage = 0;
  return decide(c.h, XenFn.construct_vmcb, general1, intCtl);
}
