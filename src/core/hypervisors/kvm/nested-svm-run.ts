// KVM's emulation of SVM for its guest (arch/x86/kvm/svm/nested.c): L1's VMRUN exits to KVM,
// which checks vmcb12 (in L1's memory), builds vmcb02 from vmcb01 and vmcb12 and runs L2 with it
// (nested_svm_vmrun → enter_svm_guest_mode); an exit of L2 that L1 intercepts, or an event for
// L1 while L2 runs (svm_check_nested_events), becomes the #VMEXIT L1 sees: vmcb12 written back,
// GIF = 0, L1 resumed after its VMRUN (nested_svm_vmexit). Written against the SVM interface:
// KVM's VMCBs are its own memory, vmcb12 is L1's.
import { MAXPHYADDR } from '../../cpu/control-regs';
import { type Memory, loaded, read, write } from '../../cpu/memory';
import { CR0, RFLAGS, RSP } from '../../cpu/state';
import { EFER, EVTINJ, INT_CTL, INTERCEPT } from '../../svm/bits';
import { SvmExit } from '../../svm/exit-codes';
import { VMCB } from '../../svm/vmcb';
import { rd32, rd64, wr32, wr64, wrCode } from '../../svm/vmcb-memory';
import { vmcbSaveCheck } from '../../svm/vmrun';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn } from './functions';
import { hasInjectableIntr } from './lapic';
import {
  type VmcbControls,
  isIntercept,
  nestedVmcb02PrepareControl,
  nestedVmcbCheckControls,
  sanitizeVmcb12Controls,
  vmcbControlsFrom,
} from './nested-svm';
import { kvmAmdCpuid } from './svm-exit';
import type { NestedCheck } from './nested-events';
import { KvmPhase, queueKvmException } from './state';
import {
  nestedExitOnIntr,
  nestedExitOnNmi,
  nestedFeatures,
  readControls,
  svmGetRflags,
  svmInterruptBlocked,
  svmNmiBlocked,
  svmIsIntercept,
  svmSetGif,
  vmcb01Rd,
  vmcb01Wr,
  vmcbRd,
  vmcbRd64,
  vmcbWr,
  vmcbWr64,
} from './svm';
import { KVM_SVM_HOST, MSRPM_SIZE } from './svm-state';

/** DR6_ACTIVE_LOW: the DR6 bits that read 1 when clear (arch/x86/include/asm/debugreg.h). */
const DR6_ACTIVE_LOW = 0xffff0ff0;

/** L1's memory, where vmcb12 and L1's permission maps are. */
export function l1Memory(c: KvmContext): Memory {
  return c.h.lanes[c.guestLane]!.mem;
}

function l1Byte(m: Memory, addr: number): number {
  read(m, addr, 1);
  return loaded.lo & 0xff;
}

/** The vmcb12 control fields KVM caches (nested_copy_vmcb_control_to_cache), from L1's memory. */
export function readVmcb12Controls(m: Memory, vmcb12: number): VmcbControls {
  return vmcbControlsFrom(
    (o) => rd32(m, vmcb12 + o),
    (o) => rd64(m, vmcb12 + o),
  );
}

/**
 * The save-area fields nested SVM moves between vmcb12 and vmcb02 (nested_vmcb02_prepare_save,
 * nested_svm_vmexit_update_vmcb12) that the lab's processor keeps: ES, CS, SS, DS, GDTR, IDTR,
 * CPL, CR0/CR2/CR3/CR4, DR6/DR7, RFLAGS, RIP, RSP, RAX; EFER apart (KVM adds SVME).
 */
const SEGMENT_SPANS: [number, number][] = [
  [0x400, 0x40], // ES, CS, SS, DS
  [0x460, 0x10], // GDTR
  [0x480, 0x10], // IDTR
];

function copyFromL1(c: KvmContext, m: Memory, from: number, to: number, offset: number, len: number): void {
  for (let i = 0; i < len; i++) c.svmPort!.write(to, offset + i, 1, l1Byte(m, from + offset + i));
}

function copyToL1(c: KvmContext, m: Memory, from: number, to: number, offset: number, len: number): void {
  for (let i = 0; i < len; i++) write(m, to + offset + i, 1, c.svmPort!.read(from, offset + i, 1), 0);
}

/** KVM's registers: RAX and RSP of the vCPU (vcpu->arch.regs), as 64-bit numbers. */
function regPair(c: KvmContext, r: number): number {
  const g = c.kvm.guestRegs;
  return g[2 * r + 1] * 0x100000000 + g[2 * r];
}

function setRegPair(c: KvmContext, r: number, v: number): void {
  const g = c.kvm.guestRegs;
  g[2 * r] = v >>> 0;
  g[2 * r + 1] = Math.floor(v / 0x100000000) >>> 0;
}

/** svm_allocate_nested: vmcb02 (a zeroed page) and its MSR permission map, once. */
export function svmAllocateNested(c: KvmContext): void {
  const n = c.kvm.svm.nested;
  if (n.initialized) return;
  c.svmPort!.fill(KVM_SVM_HOST.VMCB02, 0x1000, 0);
  c.svmPort!.fill(KVM_SVM_HOST.MSRPM02, MSRPM_SIZE, 0xff);
  n.initialized = true;
}

/**
 * nested_svm_vmrun (from vmrun_interception): L1's VMRUN. No VM_HSAVE_PA yet is #GP; RAX must be
 * a page of L1's memory (#GP). vmcb12 is cached and checked (nested_vmcb_check_save and
 * _controls: a failure is written into vmcb12 as SVM_EXIT_ERR, GIF = 0, and L1 goes on after its
 * VMRUN, as the processor's VMEXIT_INVALID). Then VMRUN is skipped in vmcb01, L1's state stays
 * there, nested_run_pending = 1, and enter_svm_guest_mode switches to vmcb02.
 */
export function nestedSvmVmrun(c: KvmContext): KvmStepResult {
  const { h, kvm } = c;
  const s = kvm.svm;
  const fn = Fn.nested_svm_vmrun;
  if (!s.nested.hsaveMsr) {
    queueKvmException(kvm, 13, 0);
    return decide(h, fn, 0, 1);
  }
  const m = l1Memory(c);
  const vmcb12 = regPair(c, 0);
  // page_address_valid: a page-aligned legal address, else #GP.
  if (vmcb12 % 0x1000 !== 0 || vmcb12 >= 2 ** MAXPHYADDR) {
    queueKvmException(kvm, 13, 0);
    return decide(h, fn, vmcb12, 1);
  }
  // kvm_vcpu_map fails for an address no memory backs: -EFAULT, an exit to the VMM, which the
  // lab does not have: the vCPU stops.
  if (vmcb12 + 0x1000 > m.bytes.length) {
    kvm.phase = KvmPhase.STOPPED;
    kvm.log.push({
      step: c.step,
      text: `nested_svm_vmrun: vmcb12 at 0x${vmcb12.toString(16)} is not in L1's memory: kvm_handle_memory_failure (KVM_EXIT_INTERNAL_ERROR)`,
    });
    return decide(h, fn, vmcb12, 3);
  }
  const ctl = sanitizeVmcb12Controls(readVmcb12Controls(m, vmcb12), (f) => l1CpuidHas(s.vnmi, f));
  s.nested.ctl = ctl;
  const failure =
    vmcbSaveCheck(m, vmcb12) ??
    (rd64(m, vmcb12 + VMCB.CR3) >= 2 ** MAXPHYADDR
      ? 'CR3 has a bit at or above MAXPHYADDR (kvm_vcpu_is_legal_cr3)'
      : null) ??
    nestedVmcbCheckControls(ctl, 2 ** MAXPHYADDR, true);
  svmSkip(c);
  if (failure) {
    // nested_svm_copy_vmcb12_to_cache: "exit_code = SVM_EXIT_ERR", exit_info_1/2 and EVENTINJ
    // cleared, GIF = 0.
    wrCode(m, vmcb12 + VMCB.EXIT_CODE, SvmExit.ERR);
    wr64(m, vmcb12 + VMCB.EXIT_INFO_1, 0);
    wr64(m, vmcb12 + VMCB.EXIT_INFO_2, 0);
    wr32(m, vmcb12 + VMCB.EVENT_INJ, 0);
    wr32(m, vmcb12 + VMCB.EVENT_INJ_ERR, 0);
    svmSetGif(c, false);
    kvm.log.push({
      step: c.step,
      text: `nested_svm_vmrun: vmcb12 fails its checks (${failure}): SVM_EXIT_ERR`,
    });
    return decide(h, fn, vmcb12, 2);
  }
  // "Since vmcb01 is not in use, we can use it to store some of the L1 state": the processor
  // saved L1's registers there at the VMRUN intercept; EFER as L1 set it.
  vmcb01Wr(c, VMCB.EFER, s.efer | EFER.SVME);
  // kvm_get_rflags: L1's RFLAGS without the TF/RF KVM set for an NMI single-step.
  vmcbWr64(c, VMCB.RFLAGS, svmGetRflags(c));
  kvm.nested.runPending = true;
  enterSvmGuestMode(c, vmcb12);
  return decide(h, fn, vmcb12, 0);
}

/** Whether the CPUID KVM gives L1 (kvmAmdCpuid) has a feature whose intercept vmcb12 may use. */
function l1CpuidHas(vnmi: boolean, f: 'xsave' | 'rdtscp' | 'skinit' | 'rdpru'): boolean {
  switch (f) {
    case 'xsave':
      return ((kvmAmdCpuid(1, vnmi)[2] >>> 26) & 1) === 1;
    case 'rdtscp':
      return ((kvmAmdCpuid(0x80000001, vnmi)[3] >>> 27) & 1) === 1;
    case 'skinit':
      return ((kvmAmdCpuid(0x80000001, vnmi)[2] >>> 12) & 1) === 1;
    case 'rdpru':
      return ((kvmAmdCpuid(0x80000008, vnmi)[1] >>> 4) & 1) === 1;
  }
}

/** svm_skip_emulated_instruction for the VMRUN in vmcb01 (RIP = next_rip, no shadow). */
function svmSkip(c: KvmContext): void {
  vmcbWr64(c, VMCB.RIP, vmcbRd64(c, VMCB.NEXT_RIP));
  vmcbWr(c, VMCB.INT_STATE, vmcbRd(c, VMCB.INT_STATE) & ~1);
}

/**
 * enter_svm_guest_mode: vmcb02 becomes current; nested_vmcb02_prepare_control (the int_ctl
 * merge, EVENTINJ, the intercepts) and nested_vmcb02_prepare_save (L2's state from vmcb12);
 * nested_svm_merge_msrpm; GIF = 1.
 */
function enterSvmGuestMode(c: KvmContext, vmcb12: number): void {
  const { kvm } = c;
  const s = kvm.svm;
  const n = s.nested;
  const port = c.svmPort!;
  const m = l1Memory(c);
  const V02 = KVM_SVM_HOST.VMCB02;
  n.vmcb12Gpa = vmcb12;
  n.lastVmcb12Gpa = vmcb12;
  n.provenance = {};
  const prov = (offset: number, from: string) => (n.provenance[offset] = from);
  const vmcb01 = readControls(c, KVM_SVM_HOST.VMCB01);
  // With vNMI, an NMI parked in vmcb01 becomes a software one (it is L1's).
  if (s.vnmi && vmcb01.intCtl & INT_CTL.V_NMI_PENDING_MASK) {
    kvm.nmiPending++;
    kvm.reqEvent = true;
  }
  kvm.nested.guestMode = true; // enter_guest_mode
  s.vmcb = V02; // svm_switch_vmcb
  const l1If = (port.read(KVM_SVM_HOST.VMCB01, VMCB.RFLAGS, 8) & RFLAGS.IF) !== 0;
  const { vmcb02, nmiL1ToL2 } = nestedVmcb02PrepareControl(vmcb01, n.ctl, l1If, nestedFeatures(c));
  const words = [
    VMCB.INTERCEPT_CR,
    VMCB.INTERCEPT_DR,
    VMCB.INTERCEPT_EXCEPTIONS,
    VMCB.INTERCEPT,
    VMCB.INTERCEPT_WORD4,
  ];
  words.forEach((o, i) => {
    port.write(V02, o, 4, vmcb02.intercepts[i]);
    prov(o, 'vmcb01 | vmcb12: nested_vmcb02_recalc_intercepts');
  });
  const ctl32: [number, number, string][] = [
    [
      VMCB.INT_CTL,
      vmcb02.intCtl,
      'V_TPR, V_IRQ bits from vmcb12; V_INTR_MASKING (and V_GIF/V_NMI unless L1 uses them) from vmcb01',
    ],
    [VMCB.INT_VECTOR, vmcb02.intVector, 'vmcb12'],
    [VMCB.INT_STATE, vmcb02.intState, 'vmcb12'],
    [VMCB.EVENT_INJ, vmcb02.eventInj, 'vmcb12: L1’s injection into L2'],
    [VMCB.EVENT_INJ_ERR, vmcb02.eventInjErr, 'vmcb12'],
    [VMCB.ASID, vmcb02.asid, 'L0’s ASID'],
  ];
  for (const [o, v, from] of ctl32) {
    port.write(V02, o, 4, v);
    prov(o, `${from}: nested_vmcb02_prepare_control`);
  }
  port.write(V02, VMCB.NESTED_CTL, 8, vmcb02.nestedCtl);
  port.write(V02, VMCB.IOPM_BASE_PA, 8, vmcb02.iopmBasePa);
  port.write(V02, VMCB.NEXT_RIP, 8, vmcb02.nextRip);
  port.write(
    V02,
    VMCB.TSC_OFFSET,
    8,
    port.read(KVM_SVM_HOST.VMCB01, VMCB.TSC_OFFSET, 8) + rd64(m, vmcb12 + VMCB.TSC_OFFSET),
  );
  prov(VMCB.IOPM_BASE_PA, 'vmcb01: L0 intercepts every port');
  prov(VMCB.TSC_OFFSET, 'vmcb01 + vmcb12');
  s.nested.nmiL1ToL2 = nmiL1ToL2;
  // nested_svm_merge_msrpm: with L1's MSR intercept, vmcb02's map is vmcb01's OR L1's (vmcb01's
  // is all ones here, so the merge is too), else vmcb01's.
  const msrpm = isIntercept(n.ctl, INTERCEPT.INTERCEPT_MSR_PROT) ? KVM_SVM_HOST.MSRPM02 : vmcb01.msrpmBasePa;
  port.write(V02, VMCB.MSRPM_BASE_PA, 8, msrpm);
  prov(VMCB.MSRPM_BASE_PA, 'svm->nested.msrpm (vmcb01’s map | L1’s): nested_svm_merge_msrpm');
  // nested_vmcb02_prepare_save.
  for (const [o, len] of SEGMENT_SPANS) copyFromL1(c, m, vmcb12, V02, o, len);
  copyFromL1(c, m, vmcb12, V02, 0x4cb, 1); // CPL
  const rflags = rd64(m, vmcb12 + VMCB.RFLAGS);
  port.write(V02, VMCB.RFLAGS, 8, (rflags | RFLAGS.FIXED) >>> 0);
  s.efer = rd32(m, vmcb12 + VMCB.EFER);
  port.write(V02, VMCB.EFER, 8, s.efer | EFER.SVME);
  for (const o of [VMCB.CR0, VMCB.CR3, VMCB.CR4, VMCB.CR2]) port.write(V02, o, 8, rd64(m, vmcb12 + o));
  // vcpu->arch.dr6 = save.dr6 | DR6_ACTIVE_LOW.
  port.write(V02, VMCB.DR6, 8, (rd64(m, vmcb12 + VMCB.DR6) | DR6_ACTIVE_LOW) >>> 0);
  port.write(V02, VMCB.DR7, 8, rd64(m, vmcb12 + VMCB.DR7) | 0x400);
  for (const o of [VMCB.RAX, VMCB.RSP, VMCB.RIP]) port.write(V02, o, 8, rd64(m, vmcb12 + o));
  setRegPair(c, 0, rd64(m, vmcb12 + VMCB.RAX));
  setRegPair(c, RSP, rd64(m, vmcb12 + VMCB.RSP));
  for (const o of [
    VMCB.RIP,
    VMCB.RSP,
    VMCB.RAX,
    VMCB.RFLAGS,
    VMCB.CR0,
    VMCB.CR3,
    VMCB.CR4,
    VMCB.EFER,
    VMCB.IDTR_BASE,
  ])
    prov(o, 'vmcb12: nested_vmcb02_prepare_save');
  // The level vmcb12 runs: L1's guest (lab bookkeeping of whose code runs).
  kvm.nested.l2Lane = c.laneRunBy(c.guestLane, vmcb12);
  svmSetGif(c, true);
}

/**
 * nested_sync_control_from_vmcb02 (svm_vcpu_run, after every exit of L2): what the processor
 * wrote into vmcb02's controls goes back into KVM's copy of vmcb12's — EVENTINJ, int_state, and
 * of int_ctl V_IRQ (unless KVM's own window had taken it over) and V_TPR, V_GIF when L1 uses
 * vGIF, V_NMI_BLOCKING and V_NMI_PENDING when L1 uses vNMI.
 */
export function nestedSyncControlFromVmcb02(c: KvmContext): void {
  const n = c.kvm.svm.nested;
  const ctl = n.ctl;
  ctl.eventInj = vmcbRd(c, VMCB.EVENT_INJ);
  ctl.eventInjErr = vmcbRd(c, VMCB.EVENT_INJ_ERR);
  ctl.intState = vmcbRd(c, VMCB.INT_STATE);
  let mask = INT_CTL.V_IRQ_MASK | INT_CTL.V_TPR_MASK;
  // svm_is_intercept: the current VMCB's (vmcb02's) VINTR intercept.
  if (svmIsIntercept(c, INTERCEPT.INTERCEPT_VINTR) && !isIntercept(ctl, INTERCEPT.INTERCEPT_VINTR))
    mask &= ~INT_CTL.V_IRQ_MASK;
  const f = nestedFeatures(c);
  if (f.vgif) mask |= INT_CTL.V_GIF_MASK;
  if (f.vnmi) mask |= INT_CTL.V_NMI_BLOCKING_MASK | INT_CTL.V_NMI_PENDING_MASK;
  ctl.intCtl = ((ctl.intCtl & ~mask) | (vmcbRd(c, VMCB.INT_CTL) & mask)) >>> 0;
}

/**
 * nested_save_pending_event_to_vmcb12: the event KVM was injecting into L2 (re-queued from
 * vmcb02's EXITINTINFO by svm_complete_interrupts) becomes vmcb12's EXITINTINFO.
 */
function pendingEventInfo(c: KvmContext, m: Memory, vmcb12: number): number {
  const k = c.kvm;
  if (k.exceptionInjected) {
    const v = k.exceptionVector;
    // exception.has_error_code: as EXITINTINFO had it for a re-queued one, else by the vector.
    const withErr = k.svm.requeuedHasError ?? ERROR_CODE_VECTORS.includes(v);
    if (withErr) wr32(m, vmcb12 + VMCB.EXIT_INT_INFO_ERR, k.exceptionErrorCode);
    return (
      (v |
        EVTINJ.SVM_EVTINJ_VALID |
        EVTINJ.SVM_EVTINJ_TYPE_EXEPT |
        (withErr ? EVTINJ.SVM_EVTINJ_VALID_ERR : 0)) >>>
      0
    );
  }
  if (k.nmiInjected) return (EVTINJ.SVM_EVTINJ_VALID | EVTINJ.SVM_EVTINJ_TYPE_NMI) >>> 0;
  if (k.irqInjected)
    return (
      (k.irqVector |
        EVTINJ.SVM_EVTINJ_VALID |
        (k.irqSoft ? EVTINJ.SVM_EVTINJ_TYPE_SOFT : EVTINJ.SVM_EVTINJ_TYPE_INTR)) >>>
      0
    );
  return 0;
}

/**
 * nested_svm_vmexit: the #VMEXIT L1 sees, from vmcb02's exit information (the processor's, or
 * what KVM wrote for an exit it synthesizes). vmcb12 gets L2's state, int_state, EXITCODE,
 * EXITINFO1/2, EXITINTINFO (the event being injected into L2), nRIP, EVENTINJ = 0 and int_ctl;
 * vmcb01 becomes current with GIF = 0 (and with vNMI L2's NMI blocking and KVM's pending NMI);
 * L1 resumes after its VMRUN with its registers from vmcb01 and DR7 = 0x400; what was being
 * injected into L2 is dropped.
 */
export function nestedSvmVmexit(c: KvmContext): void {
  const { kvm } = c;
  const s = kvm.svm;
  const n = s.nested;
  const port = c.svmPort!;
  const m = l1Memory(c);
  const vmcb12 = n.vmcb12Gpa;
  const V02 = KVM_SVM_HOST.VMCB02;
  // nested_svm_vmexit_update_vmcb12.
  for (const [o, len] of SEGMENT_SPANS) copyToL1(c, m, V02, vmcb12, o, len);
  copyToL1(c, m, V02, vmcb12, 0x4cb, 1);
  wr64(m, vmcb12 + VMCB.EFER, s.efer);
  for (const o of [VMCB.CR0, VMCB.CR3, VMCB.CR2, VMCB.CR4, VMCB.DR7, VMCB.DR6, VMCB.RIP])
    wr64(m, vmcb12 + o, port.read(V02, o, 8));
  wr64(m, vmcb12 + VMCB.RFLAGS, svmGetRflags(c));
  wr64(m, vmcb12 + VMCB.RSP, regPair(c, RSP));
  wr32(m, vmcb12 + VMCB.RAX, kvm.guestRegs[0]);
  wr32(m, vmcb12 + VMCB.RAX + 4, kvm.guestRegs[1]);
  wr32(m, vmcb12 + VMCB.INT_STATE, port.read(V02, VMCB.INT_STATE, 4));
  const code = port.read(V02, VMCB.EXIT_CODE, 4);
  wr32(m, vmcb12 + VMCB.EXIT_CODE, code);
  wr32(m, vmcb12 + VMCB.EXIT_CODE_HI, port.read(V02, VMCB.EXIT_CODE_HI, 4));
  wr64(m, vmcb12 + VMCB.EXIT_INFO_1, port.read(V02, VMCB.EXIT_INFO_1, 8));
  wr64(m, vmcb12 + VMCB.EXIT_INFO_2, port.read(V02, VMCB.EXIT_INFO_2, 8));
  if (code !== SvmExit.ERR >>> 0) wr32(m, vmcb12 + VMCB.EXIT_INT_INFO, pendingEventInfo(c, m, vmcb12));
  wr64(m, vmcb12 + VMCB.NEXT_RIP, port.read(V02, VMCB.NEXT_RIP, 8));
  wr32(m, vmcb12 + VMCB.EVENT_INJ, 0);
  wr32(m, vmcb12 + VMCB.EVENT_INJ_ERR, 0);
  wr32(m, vmcb12 + VMCB.INT_CTL, n.ctl.intCtl);
  // Leave guest mode, vmcb01 current again.
  kvm.nested.guestMode = false;
  kvm.nested.runPending = false;
  n.vmcb12Gpa = 0;
  kvm.halted = false; // "in case we halted in L2"
  const intr02 = port.read(V02, VMCB.INT_CTL, 4);
  s.vmcb = KVM_SVM_HOST.VMCB01;
  if (!isIntercept(n.ctl, INTERCEPT.INTERCEPT_INTR)) kvm.reqEvent = true;
  if (s.vnmi) {
    let v01 = vmcb01Rd(c, VMCB.INT_CTL);
    v01 =
      intr02 & INT_CTL.V_NMI_BLOCKING_MASK
        ? v01 | INT_CTL.V_NMI_BLOCKING_MASK
        : v01 & ~INT_CTL.V_NMI_BLOCKING_MASK;
    if (kvm.nmiPending > 0) {
      kvm.nmiPending--;
      v01 |= INT_CTL.V_NMI_PENDING_MASK;
    } else v01 &= ~INT_CTL.V_NMI_PENDING_MASK;
    vmcb01Wr(c, VMCB.INT_CTL, v01);
  }
  // "On vmexit the GIF is set to false and no event can be injected in L1."
  svmSetGif(c, false);
  vmcbWr(c, VMCB.EXIT_INT_INFO, 0);
  // Restore L1's processor state from vmcb01: RFLAGS, EFER, CR0 | PE, CR4, RAX, RSP, RIP.
  const v01 = KVM_SVM_HOST.VMCB01;
  s.efer = port.read(v01, VMCB.EFER, 4);
  port.write(v01, VMCB.CR0, 8, (port.read(v01, VMCB.CR0, 8) | CR0.PE) >>> 0);
  setRegPair(c, 0, port.read(v01, VMCB.RAX, 8));
  setRegPair(c, RSP, port.read(v01, VMCB.RSP, 8));
  // svm->vcpu.arch.dr7 = DR7_FIXED_1: L1's breakpoints are off after the #VMEXIT, as the
  // processor's (APM "#VMEXIT").
  port.write(v01, VMCB.DR7, 8, 0x400);
  port.write(v01, 0x4cb, 1, 0);
  n.nmiL1ToL2 = false;
  kvm.nmiInjected = false;
  kvm.exceptionPending = false;
  kvm.exceptionInjected = false;
  kvm.exceptionPayload = 0;
  kvm.irqInjected = false;
  // A VMRUN single-stepped by L1: its #DB comes before L1's next instruction.
  if (port.read(v01, VMCB.RFLAGS, 8) & RFLAGS.TF) queueKvmException(kvm, 1);
  if (hasInjectableIntr(kvm) || kvm.nmiPending > 0) kvm.reqEvent = true;
  kvm.phase = KvmPhase.ENTER;
}

/** nested_svm_simple_vmexit: a synthesized exit (EXITCODE, EXITINFO1/2 = 0) reflected to L1. */
function simpleVmexit(c: KvmContext, code: number, info1 = 0): NestedCheck {
  vmcbWr(c, VMCB.EXIT_CODE, code);
  vmcbWr(c, VMCB.EXIT_CODE_HI, 0);
  vmcbWr64(c, VMCB.EXIT_INFO_1, info1);
  vmcbWr64(c, VMCB.EXIT_INFO_2, 0);
  nestedSvmVmexit(c);
  return { r: 'exit', reason: code, intrInfo: 0 };
}

/**
 * nested_svm_inject_exception_vmexit: EXITCODE = the exception's; EXITINFO1 = its error code
 * when it has one (else left as the last exit wrote it); #PF: EXITINFO2 = the payload or CR2;
 * #DB: the payload goes into DR6 first (kvm_deliver_exception_payload) and DR7.GD is cleared.
 */
function exceptionVmexit(c: KvmContext, v: number): NestedCheck {
  const kvm = c.kvm;
  const payload = kvm.exceptionPayload;
  kvm.exceptionPending = false;
  kvm.exceptionPayload = 0;
  const code = SvmExit.EXCP_BASE + v;
  vmcbWr(c, VMCB.EXIT_CODE, code);
  vmcbWr(c, VMCB.EXIT_CODE_HI, 0);
  if (ERROR_CODE_VECTORS.includes(v)) vmcbWr64(c, VMCB.EXIT_INFO_1, kvm.exceptionErrorCode);
  if (v === 14) vmcbWr64(c, VMCB.EXIT_INFO_2, payload || vmcbRd64(c, VMCB.CR2));
  else if (v === 1) {
    if (payload) {
      let dr6 = ((vmcbRd64(c, VMCB.DR6) & ~0xf) | DR6_ACTIVE_LOW | payload) >>> 0;
      dr6 = (dr6 ^ (payload & DR6_ACTIVE_LOW)) & ~0x1000;
      vmcbWr64(c, VMCB.DR6, dr6 >>> 0);
    }
    vmcbWr64(c, VMCB.DR7, vmcbRd64(c, VMCB.DR7) & ~DR7_GD);
  }
  nestedSvmVmexit(c);
  return { r: 'exit', reason: code, intrInfo: 0 };
}

/** DR7.GD (general detect). */
const DR7_GD = 1 << 13;

/** Exceptions that push an error code (EXITINFO1 of an exception intercept). */
const ERROR_CODE_VECTORS = [8, 10, 11, 12, 13, 14, 17, 21, 29, 30];

/**
 * svm_check_nested_events: an exception queued for L2 that L1 intercepts becomes its #VMEXIT
 * (nested_svm_inject_exception_vmexit; blocked only by a pending nested run); then NMI and INTR
 * for L1, if L1 intercepts them, once not blocked (GIF, L1's IF), as SVM_EXIT_NMI / _INTR —
 * the NMI or interrupt stays pending, taken by L1 after its STGI, as on the processor; they wait
 * (-EBUSY) while a nested run is pending or an event is being re-injected.
 */
export function svmCheckNestedEvents(c: KvmContext): NestedCheck {
  const { kvm } = c;
  const blockExceptions = kvm.nested.runPending;
  const blockEvents = blockExceptions || kvm.exceptionInjected || kvm.nmiInjected || kvm.irqInjected;
  const busy = (): NestedCheck => ({ r: 'busy', why: blockExceptions ? 'run-pending' : 'reinjection' });
  const ctl = kvm.svm.nested.ctl;
  if (kvm.exceptionPending) {
    const v = kvm.exceptionVector;
    if ((ctl.intercepts[2] >>> v) & 1) {
      if (blockExceptions) return busy();
      return exceptionVmexit(c, v);
    }
    if (blockExceptions) return busy();
    return { r: 'none' };
  }
  if (kvm.nmiPending > 0 && !svmNmiBlocked(c)) {
    if (blockEvents) return busy();
    if (!nestedExitOnNmi(c)) return { r: 'none' };
    return simpleVmexit(c, SvmExit.NMI);
  }
  if (hasInjectableIntr(kvm) && !svmInterruptBlocked(c)) {
    if (blockEvents) return busy();
    if (!nestedExitOnIntr(c)) return { r: 'none' };
    return simpleVmexit(c, SvmExit.INTR);
  }
  return { r: 'none' };
}
