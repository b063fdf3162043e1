// Nested SVM in KVM (arch/x86/kvm/svm/nested.c), its pure decisions over the control fields:
// the checks nested_svm_vmrun makes on vmcb12 (nested_vmcb_check_controls), how
// nested_vmcb02_prepare_control builds vmcb02's controls from vmcb01 and vmcb12
// (nested_vmcb02_recalc_intercepts, the int_ctl merge), and who handles an exit of L2
// (nested_svm_exit_special, nested_svm_intercept). The run path that uses them (nested_svm_vmrun,
// enter_svm_guest_mode, nested_svm_vmexit, svm_check_nested_events) is nested-svm-run.ts.
import { EVTINJ, INT_CTL, INTERCEPT, interceptMask } from '../../svm/bits';
import { SvmExit } from '../../svm/exit-codes';
import { VMCB } from '../../svm/vmcb';

/** The VMCB control fields nested SVM reads (struct vmcb_ctrl_area_cached). */
export interface VmcbControls {
  /** Intercept vectors 0–4 (CR, DR, exceptions, misc 1, misc 2). */
  intercepts: [number, number, number, number, number];
  intCtl: number;
  intVector: number;
  intState: number;
  eventInj: number;
  eventInjErr: number;
  asid: number;
  nestedCtl: number;
  msrpmBasePa: number;
  iopmBasePa: number;
  nextRip: number;
  /** nested_cr3: L1's nested page table root (checked when L1 enables nested paging). */
  nestedCr3?: number;
}

/**
 * The control fields of a VMCB as nested.c caches them (nested_copy_vmcb_control_to_cache):
 * int_vector & SVM_INT_VECTOR_MASK, int_state & SVM_INTERRUPT_SHADOW_MASK, the permission maps'
 * addresses & PAGE_MASK. `r32`/`r64` read a field at its offset.
 */
export function vmcbControlsFrom(
  r32: (offset: number) => number,
  r64: (offset: number) => number,
): VmcbControls {
  const page = (pa: number) => pa - (pa % 0x1000);
  return {
    intercepts: [
      r32(VMCB.INTERCEPT_CR),
      r32(VMCB.INTERCEPT_DR),
      r32(VMCB.INTERCEPT_EXCEPTIONS),
      r32(VMCB.INTERCEPT),
      r32(VMCB.INTERCEPT_WORD4),
    ],
    intCtl: r32(VMCB.INT_CTL),
    intVector: r32(VMCB.INT_VECTOR) & 0xff,
    intState: r32(VMCB.INT_STATE) & 1,
    eventInj: r32(VMCB.EVENT_INJ),
    eventInjErr: r32(VMCB.EVENT_INJ_ERR),
    asid: r32(VMCB.ASID),
    nestedCtl: r64(VMCB.NESTED_CTL),
    msrpmBasePa: page(r64(VMCB.MSRPM_BASE_PA)),
    iopmBasePa: page(r64(VMCB.IOPM_BASE_PA)),
    nextRip: r64(VMCB.NEXT_RIP),
    nestedCr3: r64(VMCB.NESTED_CR3),
  };
}

/**
 * __nested_copy_vmcb_control_to_cache's filtering: the intercepts of features L1's CPUID lacks
 * are dropped (XSETBV without XSAVE, RDTSCP, SKINIT, RDPRU; INVPCID's is in intercept vector 5,
 * which the lab does not hold), and EVENTINJ's reserved
 * bits (SVM_EVTINJ_RESERVED_BITS: all but the vector, type, EV and V) are masked. `has` answers
 * whether L1's CPUID has a feature.
 */
export function sanitizeVmcb12Controls(
  c: VmcbControls,
  has: (feature: 'xsave' | 'rdtscp' | 'skinit' | 'rdpru') => boolean,
): VmcbControls {
  const out: VmcbControls = { ...c, intercepts: [...c.intercepts] };
  const drop: [Parameters<typeof has>[0], number][] = [
    ['xsave', INTERCEPT.INTERCEPT_XSETBV],
    ['rdtscp', INTERCEPT.INTERCEPT_RDTSCP],
    ['skinit', INTERCEPT.INTERCEPT_SKINIT],
    ['rdpru', INTERCEPT.INTERCEPT_RDPRU],
  ];
  for (const [f, bit] of drop) if (!has(f)) setIntercept(out, bit, false);
  out.eventInj = (c.eventInj & 0x80000fff) >>> 0;
  return out;
}

/** vmcb12_is_intercept / vmcb_is_intercept: an INTERCEPT_* bit of a controls' vectors. */
export function isIntercept(c: VmcbControls, bit: number): boolean {
  return ((c.intercepts[bit >> 5] ?? 0) & interceptMask(bit)) !== 0;
}

function setIntercept(c: VmcbControls, bit: number, on: boolean): void {
  const w = bit >> 5;
  c.intercepts[w] = on
    ? (c.intercepts[w] | interceptMask(bit)) >>> 0
    : (c.intercepts[w] & ~interceptMask(bit)) >>> 0;
}

export const MSRPM_BYTES = 0x2000;
export const IOPM_BYTES = 0x3000;

/**
 * nested_svm_check_bitmap_pa: bits 11:0 ignored, the map's first page rounded up (PAGE_ALIGN),
 * and its last byte a legal guest-physical address (kvm_vcpu_is_legal_gpa: below `limit`,
 * 2^MAXPHYADDR). Not the hardware's reading (svm/vmrun.ts bitmapCheck): a map ending exactly at
 * 2^MAXPHYADDR passes here.
 */
function bitmapPaValid(pa: number, size: number, limit: number): boolean {
  const addr = Math.ceil(pa / 0x1000) * 0x1000;
  return addr < limit && addr + size - 1 < limit;
}

/**
 * nested_svm_event_inj_valid_exept: the exception vectors KVM lets L1 inject — every defined
 * exception (with #OF and #BR in any mode: KVM does not check the mode), not NMI, reserved
 * vectors, #CP (no shadow stacks offered) or #VC (no SEV-ES).
 */
const KVM_VALID_EXCEPTIONS = [0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 28, 30];

/** nested_svm_check_event_inj: a defined type, and an exception type with a valid vector. */
function eventInjValid(inj: number): boolean {
  if (!(inj & EVTINJ.SVM_EVTINJ_VALID)) return true;
  const type = (inj >>> 8) & 7;
  if (type !== 0 && type !== 2 && type !== 3 && type !== 4) return false;
  return type !== 3 || KVM_VALID_EXCEPTIONS.includes(inj & 0xff);
}

/**
 * nested_vmcb_check_controls: why nested_svm_vmrun fails L1's VMRUN with SVM_EXIT_ERR
 * (VMEXIT_INVALID), or null. `limit` is 2^MAXPHYADDR of L1's processor (the permission maps'
 * last bytes must be legal addresses); `npt` whether KVM offers nested paging.
 */
export function nestedVmcbCheckControls(c: VmcbControls, limit: number, npt: boolean): string | null {
  if (!isIntercept(c, INTERCEPT.INTERCEPT_VMRUN)) return 'the VMRUN intercept is clear';
  if (c.asid === 0) return 'ASID is zero';
  if (c.nestedCtl & 1 && !npt) return 'nested paging is enabled but KVM offers none';
  if (c.nestedCtl & 1 && (c.nestedCr3 ?? 0) >= limit) return 'nested_cr3 is not a legal address';
  if (!bitmapPaValid(c.msrpmBasePa, MSRPM_BYTES, limit))
    return 'the MSR permission map is not at a legal address';
  if (!bitmapPaValid(c.iopmBasePa, IOPM_BYTES, limit))
    return 'the I/O permission map is not at a legal address';
  if (c.intCtl & INT_CTL.V_NMI_ENABLE_MASK && !isIntercept(c, INTERCEPT.INTERCEPT_NMI))
    return 'V_NMI_ENABLE is set without the NMI intercept';
  if (!eventInjValid(c.eventInj)) return `EVENTINJ ${(c.eventInj >>> 0).toString(16)} is not a valid event`;
  return null;
}

/** V_IRQ_INJECTION_BITS_MASK. */
const V_IRQ_INJECTION_BITS = INT_CTL.V_IRQ_MASK | INT_CTL.V_INTR_PRIO_MASK | INT_CTL.V_IGN_TPR_MASK;
const V_GIF_BITS = INT_CTL.V_GIF_MASK | INT_CTL.V_GIF_ENABLE_MASK;
const V_NMI_BITS = INT_CTL.V_NMI_PENDING_MASK | INT_CTL.V_NMI_ENABLE_MASK | INT_CTL.V_NMI_BLOCKING_MASK;

export interface NestedFeatures {
  /** L1 may use vGIF (nested_vgif_enabled: KVM's vgif and L1's CPUID). */
  vgif: boolean;
  /** L1 may use vNMI (nested_vnmi_enabled). */
  vnmi: boolean;
  /** KVM intercepts SMIs itself (intercept_smi). */
  interceptSmi: boolean;
}

/**
 * nested_vmcb02_recalc_intercepts: vmcb02's intercepts are vmcb01's (L0's) OR vmcb12's (L1's). With L1's
 * V_INTR_MASKING, L0 drops its CR8-write intercept (L2's CR8 does not affect L1's interrupts)
 * and, when L1's RFLAGS.IF is 0, its VINTR intercept (L1's interrupt window cannot open while
 * L2 runs); L0 does not want L2's VMMCALLs (no Hyper-V L2 TLB flush); an SMI intercept of L1's
 * counts only if L0 intercepts SMIs; PAUSE only if L1
 * intercepts it; VMLOAD and VMSAVE always (KVM offers no virtual VMLOAD/VMSAVE).
 */
export function recalcIntercepts(
  vmcb01: VmcbControls,
  vmcb12: VmcbControls,
  l1RflagsIf: boolean,
  f: NestedFeatures,
): VmcbControls['intercepts'] {
  const c: VmcbControls = { ...vmcb01, intercepts: [...vmcb01.intercepts] };
  if (vmcb12.intCtl & INT_CTL.V_INTR_MASKING_MASK) {
    setIntercept(c, INTERCEPT.INTERCEPT_CR8_WRITE, false);
    if (!l1RflagsIf) setIntercept(c, INTERCEPT.INTERCEPT_VINTR, false);
  }
  setIntercept(c, INTERCEPT.INTERCEPT_VMMCALL, false);
  for (let i = 0; i < 5; i++) c.intercepts[i] = (c.intercepts[i] | vmcb12.intercepts[i]) >>> 0;
  if (!f.interceptSmi) setIntercept(c, INTERCEPT.INTERCEPT_SMI, false);
  // PAUSE only if L1 wants it (KVM's own PAUSE exits are for yielding among L1's vCPUs).
  if (!isIntercept(vmcb12, INTERCEPT.INTERCEPT_PAUSE)) setIntercept(c, INTERCEPT.INTERCEPT_PAUSE, false);
  // nested_vmcb_needs_vls_intercept: L1 has no virtual VMLOAD/VMSAVE, so KVM emulates them.
  setIntercept(c, INTERCEPT.INTERCEPT_VMLOAD, true);
  setIntercept(c, INTERCEPT.INTERCEPT_VMSAVE, true);
  return c.intercepts;
}

/**
 * nested_vmcb02_prepare_control: int_ctl takes V_TPR and the V_IRQ injection bits from vmcb12
 * and V_INTR_MASKING from vmcb01; the V_GIF bits from vmcb12 when L1 uses vGIF, else from
 * vmcb01; the V_NMI bits from vmcb12 when L1 uses vNMI, else none. int_vector, int_state, EVENTINJ (with its error code) and
 * next_rip are vmcb12's; the permission maps, nested_ctl and the ASID are L0's (vmcb01's).
 * `nmiL1ToL2`: an NMI L1 injects into L2 through EVENTINJ, which L0's NMI masking must not
 * treat as its own (svm_inject_nmi's nmi_l1_to_l2).
 */
export function nestedVmcb02PrepareControl(
  vmcb01: VmcbControls,
  vmcb12: VmcbControls,
  l1RflagsIf: boolean,
  f: NestedFeatures,
): { vmcb02: VmcbControls; nmiL1ToL2: boolean } {
  let bits01 = INT_CTL.V_INTR_MASKING_MASK;
  let bits12 = INT_CTL.V_TPR_MASK | V_IRQ_INJECTION_BITS;
  if (f.vgif) bits12 |= V_GIF_BITS;
  else bits01 |= V_GIF_BITS;
  // The V_NMI bits are vmcb12's when L1 uses vNMI, and none otherwise: vNMI is off for L2 then
  // (is_vnmi_enabled is false in guest mode: KVM masks L1's NMIs in software while L2 runs).
  if (f.vnmi) bits12 |= V_NMI_BITS;
  const vmcb02: VmcbControls = {
    intercepts: recalcIntercepts(vmcb01, vmcb12, l1RflagsIf, f),
    intCtl: ((vmcb12.intCtl & bits12) | (vmcb01.intCtl & bits01)) >>> 0,
    intVector: vmcb12.intVector,
    intState: vmcb12.intState,
    eventInj: vmcb12.eventInj,
    eventInjErr: vmcb12.eventInjErr,
    asid: vmcb01.asid,
    nestedCtl: vmcb01.nestedCtl,
    msrpmBasePa: vmcb01.msrpmBasePa,
    iopmBasePa: vmcb01.iopmBasePa,
    nextRip: vmcb12.nextRip,
  };
  const inj = vmcb12.eventInj;
  const nmiL1ToL2 = (inj & EVTINJ.SVM_EVTINJ_VALID) !== 0 && ((inj >>> 8) & 7) === 2;
  return { vmcb02, nmiL1ToL2 };
}

/** Who handles an exit of L2: L0 itself, or L1 (an emulated #VMEXIT into vmcb12). */
export type NestedExit = 'host' | 'l1';

/**
 * nested_svm_exit_special, then nested_svm_intercept: INTR, NMI and NPF are L0's; an exception
 * L0 intercepts in vmcb01 is L0's; otherwise L1 gets what vmcb12 intercepts — an MSR access
 * through L1's MSR permission map, an I/O access through L1's I/O permission map (read with
 * `l1Bit(address, bit)` from L1's memory), a CR/DR access or any other exit by its intercept
 * bit, every exception that reached here, and SVM_EXIT_ERR.
 */
export function nestedSvmExitHandled(
  exitCode: number,
  exitInfo1: number,
  ecx: number,
  vmcb01: VmcbControls,
  vmcb12: VmcbControls,
  l1Bit: (addr: number, bit: number) => boolean,
): NestedExit {
  const code = exitCode >>> 0;
  if (code === SvmExit.INTR || code === SvmExit.NMI || code === 0x400) return 'host';
  if (code >= SvmExit.EXCP_BASE && code < SvmExit.EXCP_BASE + 32) {
    if ((vmcb01.intercepts[2] >>> (code - SvmExit.EXCP_BASE)) & 1) return 'host';
    return 'l1';
  }
  if (code === SvmExit.ERR >>> 0) return 'l1';
  if (code === SvmExit.MSR) {
    // nested_svm_exit_handled_msr: two bits per MSR, read then write, in three ranges.
    if (!isIntercept(vmcb12, INTERCEPT.INTERCEPT_MSR_PROT)) return 'host';
    const m = ecx >>> 0;
    let base: number;
    if (m <= 0x1fff) base = 0;
    else if (m >= 0xc0000000 && m <= 0xc0001fff) base = 0x800;
    else if (m >= 0xc0010000 && m <= 0xc0011fff) base = 0x1000;
    else return 'l1';
    const bit = (m & 0x1fff) * 2 + (exitInfo1 & 1);
    return l1Bit(vmcb12.msrpmBasePa + base + (bit >> 3), bit & 7) ? 'l1' : 'host';
  }
  if (code === SvmExit.IOIO) {
    // nested_svm_intercept_ioio: the bits of every port the access touches.
    if (!isIntercept(vmcb12, INTERCEPT.INTERCEPT_IOIO_PROT)) return 'host';
    const port = exitInfo1 >>> 16;
    const size = exitInfo1 & 0x10 ? 1 : exitInfo1 & 0x20 ? 2 : 4;
    for (let p = port; p < port + size; p++) if (l1Bit(vmcb12.iopmBasePa + (p >> 3), p & 7)) return 'l1';
    return 'host';
  }
  // CR and DR accesses (codes 0x00–0x3f) are bits 0–63 of the intercept vectors, the
  // instruction and event intercepts (0x60–) bits 96–; an exit code maps to its bit.
  const bit = code < 0x40 ? code : code >= 0x60 && code < 0xa0 ? code - 0x60 + INTERCEPT.INTERCEPT_INTR : -1;
  return bit >= 0 && isIntercept(vmcb12, bit) ? 'l1' : 'host';
}
