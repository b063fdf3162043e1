// VMRUN (AMD APM vol. 2 "VMRUN Instruction", "Canonicalization and Consistency Checks",
// "Event Injection"): save the host's state to VM_HSAVE_PA, check the VMCB, load the guest's
// state and control fields, set GIF, inject EVENTINJ through the guest's IDT.
import { EventKind, EventType } from '../engine/view';
import { deliverEvent } from '../cpu/deliver';
import type { Hart } from '../cpu/hart';
import { switchLane } from '../cpu/hart';
import { CR4_SUPPORTED, MAXPHYADDR } from '../cpu/control-regs';
import { Activity, CR0, CR4, RFLAGS, Shadow, swapBook } from '../cpu/state';
import { EFER, EFER_VALID, EVTINJ, INT_CTL, INTERCEPT, SvmEventType } from './bits';
import { SvmExit } from './exit-codes';
import { VMCB } from './vmcb';
import { loadStateArea, saveStateArea } from './save-area';
import { rd32, rd64, rdHi, wrCode } from './vmcb-memory';
import { intercepted } from './state';
import type { Memory } from '../cpu/memory';

/** Why VMRUN's consistency checks refused a VMCB (null: it passed). */
export function vmrunCheck(m: Memory, vmcb: number): string | null {
  const save = vmcbSaveCheck(m, vmcb);
  if (save) return save;
  const efer = rd32(m, vmcb + VMCB.EFER);
  const intercept4 = rd32(m, vmcb + VMCB.INTERCEPT_WORD4);
  const intercept3 = rd32(m, vmcb + VMCB.INTERCEPT);
  const intCtl = rd32(m, vmcb + VMCB.INT_CTL);
  if (!(intercept4 & 1)) return 'the VMRUN intercept bit is clear';
  const bitmaps = bitmapCheck(m, vmcb);
  if (bitmaps) return bitmaps;
  if (rd32(m, vmcb + VMCB.ASID) === 0) return 'ASID is zero';
  // Lab assumption (docs/svm.md): hardware refuses V_NMI_ENABLE without the NMI intercept, as
  // KVM's nested_vmcb_check_controls and kvm-unit-tests' svm vnmi test (stage 0) expect.
  if (intCtl & INT_CTL.V_NMI_ENABLE_MASK && !(intercept3 & 2))
    return 'V_NMI_ENABLE is set without the NMI intercept';
  return eventInjCheck(rd32(m, vmcb + VMCB.EVENT_INJ), efer);
}

/**
 * The state-area part of "Canonicalization and Consistency Checks" (EFER, CR0, CR3, CR4, DR6,
 * DR7, the long-mode combinations, CS.L with CS.D): the first that fails, or null. KVM's
 * nested_vmcb_check_save makes the same checks on vmcb12.
 */
export function vmcbSaveCheck(m: Memory, vmcb: number): string | null {
  const efer = rd32(m, vmcb + VMCB.EFER);
  const eferHi = rdHi(m, vmcb + VMCB.EFER);
  const cr0 = rd32(m, vmcb + VMCB.CR0);
  const cr4 = rd32(m, vmcb + VMCB.CR4);
  // APM "Canonicalization and Consistency Checks", in the order the APM lists them (the lab
  // reports the first that fails; hardware reports only VMEXIT_INVALID).
  if (!(efer & EFER.SVME)) return 'EFER.SVME is zero';
  if (!(cr0 & CR0.CD) && cr0 & CR0.NW) return 'CR0.CD is zero and CR0.NW is set';
  if (rdHi(m, vmcb + VMCB.CR0) !== 0) return 'CR0[63:32] are not zero';
  if (rdHi(m, vmcb + VMCB.CR3) >>> 20 !== 0) return 'a CR3 MBZ bit (63:52) is set';
  if (rdHi(m, vmcb + VMCB.CR4) !== 0 || cr4 & ~CR4_SUPPORTED || cr4 & CR4.VMXE) return 'a CR4 MBZ bit is set';
  if (rdHi(m, vmcb + VMCB.DR6) !== 0) return 'DR6[63:32] are not zero';
  if (rdHi(m, vmcb + VMCB.DR7) !== 0) return 'DR7[63:32] are not zero';
  if (eferHi !== 0 || efer & ~EFER_VALID) return 'an EFER MBZ bit is set';
  if (efer & EFER.LME && cr0 & CR0.PG && !(cr4 & CR4.PAE))
    return 'EFER.LME and CR0.PG are set, CR4.PAE is zero';
  if (efer & EFER.LME && cr0 & CR0.PG && !(cr0 & CR0.PE))
    return 'EFER.LME and CR0.PG are set, CR0.PE is zero';
  // A 64-bit code segment cannot also be a 32-bit one: CS.L and CS.D both set in long mode.
  const csAttrib = rd32(m, vmcb + VMCB.CS_ATTRIB) & 0xffff;
  if (efer & EFER.LME && cr0 & CR0.PG && cr4 & CR4.PAE && csAttrib & CS_ATTRIB_L && csAttrib & CS_ATTRIB_DB)
    return 'EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D are all set';
  return null;
}

/** The VMCB segment attribute bits L (64-bit code) and D/B (SVM_SELECTOR_L_MASK, _DB_MASK). */
const CS_ATTRIB_L = 1 << 9;
const CS_ATTRIB_DB = 1 << 10;

/**
 * The MSR and I/O permission maps' bytes the processor reads: 8 KiB of MSRPM; 8 KiB + 1 byte of
 * the IOPM (an access to port 0xFFFF of more than one byte reads the bit after the last).
 */
const MSRPM_SPAN = 0x2000;
const IOPM_SPAN = 0x2001;

/**
 * "Canonicalization and Consistency Checks": "the MSR or IOIO intercept tables extend to a
 * physical address that is greater than or equal to the maximum supported physical address"
 * (MAXPHYADDR): the end of the span read (base + span) reaching 2^MAXPHYADDR fails, the reading
 * kvm-unit-tests test_msrpm_iopm_bitmap_addrs expects of hardware (an MSRPM at 2^MAXPHYADDR −
 * 8 KiB fails; an IOPM at 2^MAXPHYADDR − 12 KiB passes). VMRUN ignores bits 11:0 of both base
 * addresses. Checked whether or not the intercepts are enabled, as KVM's
 * nested_vmcb_check_controls does.
 */
function bitmapCheck(m: Memory, vmcb: number): string | null {
  const limit = 2 ** MAXPHYADDR;
  if (pageBase(rd64(m, vmcb + VMCB.MSRPM_BASE_PA)) + MSRPM_SPAN >= limit)
    return 'the MSR permission map extends beyond MAXPHYADDR';
  if (pageBase(rd64(m, vmcb + VMCB.IOPM_BASE_PA)) + IOPM_SPAN >= limit)
    return 'the I/O permission map extends beyond MAXPHYADDR';
  return null;
}

/** A permission-map base address as VMRUN uses it: bits 11:0 ignored. */
export function pageBase(pa: number): number {
  return pa - (pa % 0x1000);
}

/**
 * The exception vectors this processor defines (bit n = vector n): #DE #DB #BP #OF #BR #UD #NM
 * #DF #TS #NP #SS #GP #PF #MF #AC #MC #XM #HV #SX. Not exceptions: 2 (NMI), 9 (no longer
 * used), 15 and 22–27 and 31 (reserved), 20 (#VE, Intel's), and 21 (#CP) and 29 (#VC), which
 * need CET and SEV-ES, features the lab's processor lacks (KVM nested_svm_event_inj_valid_exept
 * draws the same line).
 */
const VALID_EXCEPTIONS = [0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 28, 30].reduce(
  (m, v) => m | (1 << v),
  0,
);

/**
 * "Event Injection": a valid EVENTINJ with a reserved type (1, 5, 6, 7), or an exception type
 * whose vector is not a valid exception (2 = NMI, a reserved vector, above 31), or #BR/#OF in
 * 64-bit mode, fails
 * VMRUN (KVM nested_svm_check_event_inj models the same rule; Bochs SvmInjectEvents).
 */
export function eventInjCheck(inj: number, efer: number): string | null {
  if (!(inj & EVTINJ.SVM_EVTINJ_VALID)) return null;
  const type = (inj >>> 8) & 7;
  const vector = inj & 0xff;
  if (
    type !== SvmEventType.INTR &&
    type !== SvmEventType.NMI &&
    type !== SvmEventType.EXCEPTION &&
    type !== SvmEventType.SOFT_INT
  )
    return `EVENTINJ type ${type} is reserved`;
  if (type === SvmEventType.EXCEPTION) {
    if (vector > 31 || !((VALID_EXCEPTIONS >>> vector) & 1))
      return `EVENTINJ exception vector ${vector} is not an exception`;
    if (efer & EFER.LMA && (vector === 4 || vector === 5))
      return `EVENTINJ exception vector ${vector} (#OF/#BR) is invalid in 64-bit mode`;
  }
  return null;
}

/** VMRUN's result for the trace and the tests. */
export interface VmrunResult {
  entered: boolean;
  failure: string | null;
}

/**
 * Execute VMRUN (the #UD and #GP checks were made by the caller): `next` is the address after
 * VMRUN, where the host resumes after the #VMEXIT.
 */
export function vmrun(
  h: Hart,
  vmcb: number,
  next: number,
  hostRip: number,
  guestLane = h.level + 1,
): VmrunResult {
  const svm = h.svm;
  const cpu = h.cpu;
  const m = h.mem;
  const hs = svm.hsavePa;
  // "VMRUN": the host's state goes to the host save area (the lab keeps it in the VMCB
  // save-area layout), RIP = the instruction after VMRUN.
  saveStateArea(m, hs, cpu, svm.efer, next);
  svm.hostLane = h.level;
  svm.guestLane = guestLane;
  svm.vmcb = vmcb;
  const failure = vmrunCheck(m, vmcb);
  if (failure) {
    // VMEXIT_INVALID: EXITCODE = -1, no guest state loaded or saved; the host resumes after
    // VMRUN with GIF = 0.
    wrCode(m, vmcb + VMCB.EXIT_CODE, SvmExit.ERR);
    svm.gif = false;
    cpu.rip = next;
    h.out.kind = EventKind.VMEXIT;
    h.out.rip = hostRip;
    h.out.d0 = 0xffffffff;
    h.out.d1 = 0;
    h.out.d2 = 0;
    return { entered: false, failure };
  }
  // Control fields the processor holds while the guest runs.
  svm.interceptCr = rd32(m, vmcb + VMCB.INTERCEPT_CR);
  svm.interceptDr = rd32(m, vmcb + VMCB.INTERCEPT_DR);
  svm.interceptExceptions = rd32(m, vmcb + VMCB.INTERCEPT_EXCEPTIONS);
  svm.intercept3 = rd32(m, vmcb + VMCB.INTERCEPT);
  svm.intercept4 = rd32(m, vmcb + VMCB.INTERCEPT_WORD4);
  svm.intCtl = rd32(m, vmcb + VMCB.INT_CTL);
  svm.intVector = rd32(m, vmcb + VMCB.INT_VECTOR) & 0xff;
  svm.tscOffset = rd64(m, vmcb + VMCB.TSC_OFFSET);
  // "VMRUN ignores the lower 12 bits of the address specified in the VMCB" for both maps.
  svm.iopm = pageBase(rd64(m, vmcb + VMCB.IOPM_BASE_PA));
  svm.msrpm = pageBase(rd64(m, vmcb + VMCB.MSRPM_BASE_PA));
  // "Physical (INTR) Interrupt Masking in EFLAGS": with V_INTR_MASKING the host's IF at VMRUN
  // masks physical interrupts while the guest runs.
  svm.hostIf = (cpu.rflags & RFLAGS.IF) !== 0;
  svm.pendingExit = null;
  // Guest state: the level above the host, or (a hypervisor model's nested guest) the lane
  // the caller names — lab bookkeeping of whose code runs; the processor does not care.
  swapBook(cpu, h.books[h.level], h.books[guestLane]);
  switchLane(h, guestLane);
  svm.efer = loadStateArea(m, vmcb, cpu);
  // A `work` the last #VMEXIT interrupted resumes only if the guest resumes at it (docs/model.md).
  if (cpu.workRemaining > 0 && cpu.rip !== svm.workRip) cpu.workRemaining = 0;
  cpu.activity = Activity.ACTIVE;
  // int_state bit 0: the guest is in an interrupt shadow for its first instruction.
  cpu.shadow = rd32(m, vmcb + VMCB.INT_STATE) & 1 ? Shadow.STI : 0;
  svm.guest = true;
  svm.gif = true;
  const inj = rd32(m, vmcb + VMCB.EVENT_INJ);
  if (inj & EVTINJ.SVM_EVTINJ_VALID) injectEvent(h, inj, rd32(m, vmcb + VMCB.EVENT_INJ_ERR));
  h.out.kind = EventKind.VMENTRY;
  h.out.rip = hostRip;
  h.out.d0 = inj >>> 0;
  h.out.d1 = 1;
  h.out.d2 = cpu.rip;
  return { entered: true, failure: null };
}

/**
 * "Event Injection": the event is delivered through the guest's IDT at the guest RIP as if it
 * had occurred there; a software interrupt returns to the VMCB's RIP (the hypervisor advances
 * it, or uses nRIP). EV pushes event_inj_err. The injection leaves no interrupt shadow.
 */
function injectEvent(h: Hart, inj: number, err: number): void {
  const cpu = h.cpu;
  const type = (inj >>> 8) & 7;
  const vector = type === SvmEventType.NMI ? 2 : inj & 0xff;
  const labType =
    type === SvmEventType.INTR
      ? EventType.EXTINT
      : type === SvmEventType.NMI
        ? EventType.NMI
        : type === SvmEventType.SOFT_INT
          ? EventType.SW_INT
          : EventType.HW_EXCEPTION;
  const withErr = (inj & EVTINJ.SVM_EVTINJ_VALID_ERR) !== 0;
  cpu.shadow = 0;
  deliverEvent(h, vector, labType, withErr ? err : 0, cpu.rip, {
    injected: true,
    instrRip: cpu.rip,
    instrLen: 0,
    deliverErrorCode: withErr,
  });
}

/** Whether the running guest's VMCB intercepts VMRUN (always: the check requires it). */
export function vmrunIntercepted(h: Hart): boolean {
  return intercepted(h.svm, INTERCEPT.INTERCEPT_VMRUN);
}
