// KVM's exit handling for nested SVM (arch/x86/kvm/svm/svm.c and nested.c): which exits of L2
// go to L1 (svm_handle_exit → nested_svm_exit_special, nested_svm_exit_handled), and the
// handlers of L1's SVM instructions and SVM MSRs (vmrun_interception, vmload_interception,
// vmsave_interception, stgi_interception, clgi_interception, svm_set_efer, MSR_VM_HSAVE_PA).
import { hypervisorNote, noteRule } from '../../causes/why';
import { EFER, INTERCEPT, MSR_EFER, MSR_VM_CR, MSR_VM_HSAVE_PA } from '../../svm/bits';
import { SvmExit } from '../../svm/exit-codes';
import { VMCB } from '../../svm/vmcb';
import { loaded, read } from '../../cpu/memory';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn } from './functions';
import { nestedSvmExitHandled } from './nested-svm';
import { l1Memory, nestedSvmVmrun, svmAllocateNested } from './nested-svm-run';
import { nestedSvmVmexit } from './nested-svm-vmexit';
import { queueKvmException } from './state';
import { readControls, svmClrIntercept, svmSetGif, svmSetIntercept, vmcbRd, vmcbRd64, vmcbWr64 } from './svm';
import { KVM_SVM_HOST } from './svm-state';

/**
 * svm_handle_exit in guest mode: nested_svm_exit_special keeps INTR, NMI, NPF and the
 * exceptions vmcb01 intercepts for L0; otherwise nested_svm_intercept asks vmcb12 (its intercept
 * bits, its MSR and I/O permission maps in L1's memory; every exception and SVM_EXIT_ERR are
 * L1's), and an exit L1 wants becomes its #VMEXIT (nested_svm_vmexit). Null: L0 handles it.
 */
export function svmNestedExitRoute(c: KvmContext, code: number): KvmStepResult | null {
  const { kvm } = c;
  const m = l1Memory(c);
  const mapName = code === SvmExit.MSR ? 'MSR permission map' : 'I/O permission map';
  const l1Bit = (addr: number, bit: number) => {
    if (addr < 0 || addr >= m.bytes.length) return true;
    read(m, addr, 1);
    const set = ((loaded.lo >> bit) & 1) === 1;
    // The bit of L1's permission map that decides, noted as the decision's input (causes/why.ts).
    if (c.h.why)
      hypervisorNote(
        c.h,
        c.lane,
        { k: 'mem', lane: c.guestLane, addr, bit, name: `${mapName} of vmcb12` },
        set ? 1 : 0,
      );
    return set;
  };
  const vmcb01 = readControls(c, KVM_SVM_HOST.VMCB01);
  const route = nestedSvmExitHandled(
    code,
    vmcbRd(c, VMCB.EXIT_INFO_1),
    kvm.guestRegs[2],
    vmcb01,
    kvm.svm.nested.ctl,
    l1Bit,
  );
  // Which of nested.c's two functions decided: nested_svm_exit_special keeps INTR, NMI, NPF
  // and vmcb01's exceptions; nested_svm_intercept asks vmcb12 about the rest.
  const c32 = code >>> 0;
  const special =
    c32 === SvmExit.INTR ||
    c32 === SvmExit.NMI ||
    c32 === 0x400 ||
    (c32 >= SvmExit.EXCP_BASE &&
      c32 < SvmExit.EXCP_BASE + 32 &&
      ((vmcb01.intercepts[2] >>> (c32 - SvmExit.EXCP_BASE)) & 1) === 1);
  noteRule(c.h, {
    fn: special ? 'nested_svm_exit_special' : 'nested_svm_intercept',
    to: route === 'host' ? 'L0' : 'L1',
    lane: c.lane,
    reason: code,
  });
  if (route === 'host') return null;
  nestedSvmVmexit(c);
  const info = read32(c, kvm.svm.nested.vmcb12Gpa + VMCB.EXIT_INT_INFO);
  return decide(c.h, Fn.nested_svm_vmexit, code, info);
}

function read32(c: KvmContext, addr: number): number {
  read(l1Memory(c), addr, 4);
  return loaded.lo >>> 0;
}

/**
 * nested_svm_check_permissions: an SVM instruction of the guest with EFER.SVME clear is #UD
 * (the lab's guests run at CPL 0, so the #GP for CPL > 0 never applies). Null when allowed.
 */
function checkPermissions(c: KvmContext): KvmStepResult | null {
  if (c.kvm.svm.efer & EFER.SVME) return null;
  queueKvmException(c.kvm, 6);
  return decide(c.h, Fn.ud_interception, c.kvm.lastExitReason, 6);
}

/** svm_skip_emulated_instruction (svm-exit.ts), injected to avoid an import cycle. */
type Skip = (c: KvmContext) => void;

/** The exit handlers of L1's SVM instructions; null for any other exit code. */
export function svmInstructionInterception(c: KvmContext, code: number, skip: Skip): KvmStepResult | null {
  switch (code) {
    case SvmExit.VMRUN:
      return checkPermissions(c) ?? nestedSvmVmrun(c);
    case SvmExit.VMLOAD:
    case SvmExit.VMSAVE: {
      // vmload_vmsave_interception: kvm_vcpu_map of RAX's page (gpa_to_gfn: no alignment
      // check); memory that is not there is #GP (-EINVAL). The state they move (FS, GS, TR,
      // LDTR, the SYSCALL/SYSENTER MSRs) is not modelled (docs/svm.md).
      const denied = checkPermissions(c);
      if (denied) return denied;
      const rax = c.kvm.guestRegs[1] * 0x100000000 + c.kvm.guestRegs[0];
      const lane = c.kvm.nested.guestMode ? c.kvm.nested.l2Lane : c.guestLane;
      const size = c.h.lanes[lane]!.mem.bytes.length;
      if (rax - (rax % 0x1000) + 0x1000 > size) {
        queueKvmException(c.kvm, 13, 0);
        return decide(c.h, Fn.inject_gp, rax);
      }
      skip(c);
      return decide(c.h, Fn.vmload_vmsave_interception, rax, code === SvmExit.VMLOAD ? 1 : 0);
    }
    case SvmExit.STGI: {
      const denied = checkPermissions(c);
      if (denied) return denied;
      skip(c);
      svmSetGif(c, true);
      return decide(c.h, Fn.stgi_interception);
    }
    case SvmExit.CLGI: {
      const denied = checkPermissions(c);
      if (denied) return denied;
      skip(c);
      svmSetGif(c, false);
      return decide(c.h, Fn.clgi_interception);
    }
    default:
      return null;
  }
}

/** SVM_VM_CR_VALID_MASK (DPD, R_INIT, DIS_A20M, LOCK, SVMDIS) and SVM_VM_CR_SVM_DIS_MASK. */
const SVM_VM_CR_VALID_MASK = 0x1f;
const SVM_VM_CR_SVM_DIS = 0x10;

/**
 * svm_leave_nested (EFER.SVME cleared while L2 runs): guest mode ends without a #VMEXIT to L1;
 * vmcb01 is current again.
 */
function svmLeaveNested(c: KvmContext): void {
  const k = c.kvm;
  k.nested.runPending = false;
  k.nested.guestMode = false;
  k.svm.nested.vmcb12Gpa = 0;
  k.svm.vmcb = KVM_SVM_HOST.VMCB01;
}

/** EFER bits KVM accepts (kvm_valid_efer: SCE, LME, LMA, NXE, SVME — SVM offered to L1). */
const EFER_ACCEPTED = EFER.SCE | EFER.LME | EFER.LMA | EFER.NXE | EFER.SVME;

/**
 * svm_set_msr for the SVM MSRs: EFER through set_efer → svm_set_efer (SVME on allocates the
 * nested state and, with svm_gp_erratum_intercept, intercepts #GP; SVME off leaves guest mode and
 * sets GIF; the VMCB's EFER always has SVME), VM_HSAVE_PA (a page-aligned legal address, else
 * #GP). Null for another MSR; false for a write KVM refuses (#GP).
 */
export function svmSetMsr(c: KvmContext, msr: number, lo: number, hi: number): boolean | null {
  const s = c.kvm.svm;
  if (msr >>> 0 === MSR_EFER) {
    if (hi !== 0 || lo & ~EFER_ACCEPTED) return false;
    const old = s.efer;
    s.efer = lo >>> 0;
    if ((old ^ lo) & EFER.SVME) {
      if (!(lo & EFER.SVME)) {
        // svm_leave_nested: out of guest mode at once (a non-architectural exit), vmcb01 current.
        if (c.kvm.nested.guestMode) svmLeaveNested(c);
        svmSetGif(c, true);
        svmClrIntercept(c, INTERCEPT.INTERCEPT_EXCEPTION_OFFSET + 13);
      } else {
        svmAllocateNested(c);
        svmSetIntercept(c, INTERCEPT.INTERCEPT_EXCEPTION_OFFSET + 13);
      }
    }
    vmcbWr64(c, VMCB.EFER, (lo | EFER.SVME) >>> 0);
    return true;
  }
  if (msr >>> 0 === MSR_VM_CR) {
    // svm->nested.vm_cr_msr: only SVM_VM_CR_VALID_MASK bits; SVMDIS with EFER.SVME set is #GP.
    if (hi !== 0 || lo & ~SVM_VM_CR_VALID_MASK) return false;
    if (lo & SVM_VM_CR_SVM_DIS && s.efer & EFER.SVME) return false;
    s.nested.vmCr = lo >>> 0;
    return true;
  }
  if (msr >>> 0 === MSR_VM_HSAVE_PA) {
    // "Old kernels write 0 to this MSR ... ignore it", else a page-aligned legal address.
    const v = hi * 0x100000000 + lo;
    if (v % 0x1000 !== 0 || hi >>> 4 !== 0) return false;
    s.nested.hsaveMsr = v;
    return true;
  }
  return null;
}

/** svm_get_msr for the SVM MSRs: EFER as the guest set it, VM_HSAVE_PA; null for another MSR. */
export function svmGetMsr(c: KvmContext, msr: number): [number, number] | null {
  const s = c.kvm.svm;
  if (msr >>> 0 === MSR_EFER) return [s.efer, 0];
  if (msr >>> 0 === MSR_VM_HSAVE_PA)
    return [s.nested.hsaveMsr >>> 0, Math.floor(s.nested.hsaveMsr / 0x100000000)];
  if (msr >>> 0 === MSR_VM_CR) return [s.nested.vmCr, 0];
  return null;
}

/**
 * gp_interception: with svm_gp_erratum_intercept KVM sees the guest's #GPs — some processors
 * raise #GP for VMRUN/VMLOAD/VMSAVE on certain addresses before checking their intercept. The
 * lab's processor checks the intercept first, so every #GP here is the guest's own: re-injected
 * with its error code (EXITINFO1).
 */
export function gpInterception(c: KvmContext): KvmStepResult {
  const err = vmcbRd(c, VMCB.EXIT_INFO_1);
  queueKvmException(c.kvm, 13, err);
  return decide(c.h, Fn.gp_interception, vmcbRd64(c, VMCB.RIP), err);
}
