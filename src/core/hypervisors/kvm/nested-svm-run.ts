// KVM's emulation of L1's VMRUN (arch/x86/kvm/svm/nested.c): L1's VMRUN exits to KVM, which
// checks vmcb12 (in L1's memory), builds vmcb02 from vmcb01 and vmcb12 and runs L2 with it
// (nested_svm_vmrun → enter_svm_guest_mode). The way back — the #VMEXIT L1 sees, and the events
// for L1 that become one — is nested-svm-vmexit.ts. Written against the SVM interface: KVM's
// VMCBs are its own memory, vmcb12 is L1's.
import { MAXPHYADDR } from '../../cpu/control-regs';
import { type Memory, loaded, read, write } from '../../cpu/memory';
import { RFLAGS, RSP } from '../../cpu/state';
import { EFER, INT_CTL, INTERCEPT } from '../../svm/bits';
import { SvmExit } from '../../svm/exit-codes';
import { VMCB } from '../../svm/vmcb';
import { rd32, rd64, wr32, wr64, wrCode } from '../../svm/vmcb-memory';
import { vmcbSaveCheck } from '../../svm/vmrun';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn } from './functions';
import {
  type VmcbControls,
  isIntercept,
  nestedVmcb02PrepareControl,
  nestedVmcbCheckControls,
  sanitizeVmcb12Controls,
  vmcbControlsFrom,
} from './nested-svm';
import { kvmAmdCpuid } from './svm-exit';
import { KvmPhase, queueKvmException } from './state';
import {
  nestedFeatures,
  readControls,
  svmGetRflags,
  svmSetGif,
  vmcb01Wr,
  vmcbRd,
  vmcbRd64,
  vmcbWr,
  vmcbWr64,
} from './svm';
import { KVM_SVM_HOST, MSRPM_SIZE } from './svm-state';

/** DR6_ACTIVE_LOW: the DR6 bits that read 1 when clear (arch/x86/include/asm/debugreg.h). */
export const DR6_ACTIVE_LOW = 0xffff0ff0;

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
export const SEGMENT_SPANS: [number, number][] = [
  [0x400, 0x40], // ES, CS, SS, DS
  [0x460, 0x10], // GDTR
  [0x480, 0x10], // IDTR
];

function copyFromL1(c: KvmContext, m: Memory, from: number, to: number, offset: number, len: number): void {
  for (let i = 0; i < len; i++) c.svmPort!.write(to, offset + i, 1, l1Byte(m, from + offset + i));
}

export function copyToL1(
  c: KvmContext,
  m: Memory,
  from: number,
  to: number,
  offset: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) write(m, to + offset + i, 1, c.svmPort!.read(from, offset + i, 1), 0);
}

/** KVM's registers: RAX and RSP of the vCPU (vcpu->arch.regs), as 64-bit numbers. */
export function regPair(c: KvmContext, r: number): number {
  const g = c.kvm.guestRegs;
  return g[2 * r + 1] * 0x100000000 + g[2 * r];
}

export function setRegPair(c: KvmContext, r: number, v: number): void {
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
