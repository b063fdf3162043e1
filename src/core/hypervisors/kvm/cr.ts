// The vCPU's control registers in KVM (arch/x86/kvm/x86.c kvm_set_cr0/cr3/cr4/cr8, vmx.c
// vmx_set_cr0/vmx_set_cr4, handle_cr). KVM runs without EPT in the lab (the processor offers
// none), so it shadows paging: CR3 loads and stores exit, CR0 and CR4 are owned by the host
// but for the few bits the guest may flip freely, and GUEST_CR0/GUEST_CR4 hold the guest's
// values with the bits VMX requires forced on; the guest reads its own values from the read
// shadows. CR8 is the emulated local APIC's TPR (no TPR shadow: CR8 accesses exit).
import { CR0, CR4, CR0_INITIAL, CR4_INITIAL, RSP } from '../../cpu/state';
import { CR4_SUPPORTED, MAXPHYADDR } from '../../cpu/control-regs';
import { F, readField } from '../../vmx/vmcs';
import { type KvmContext, type KvmStepResult, decide } from './context';
import { Fn } from './functions';
import { currentVmcs12 } from './nested-state';
import { rd, wr } from './vmx';

/** KVM_POSSIBLE_CR0_GUEST_BITS without EPT: only TS is the guest's. */
export const KVM_CR0_GUEST_OWNED = CR0.TS;
/** KVM_POSSIBLE_CR4_GUEST_BITS without EPT: PVI, DE, PCE, OSFXSR, OSXMMEXCPT, TSD, FSGSBASE. */
export const KVM_CR4_GUEST_OWNED = 0x1070e;
/** KVM_VM_CR0_ALWAYS_ON (no unrestricted guest) and KVM_VM_CR0_ALWAYS_OFF. */
const CR0_ALWAYS_ON = (CR0.PG | CR0.PE | CR0.NE) >>> 0;
const CR0_ALWAYS_OFF = (CR0.NW | CR0.CD) >>> 0;
/** KVM_PMODE_VM_CR4_ALWAYS_ON without EPT. */
const CR4_ALWAYS_ON = CR4.PAE | CR4.VMXE;

/**
 * The masks are natural-width fields; the lab's field values are JS numbers, so KVM writes
 * the low 32 bits of ~guest_owned (the upper halves of CR0 and CR4 are reserved anyway).
 */
export const KVM_CR0_MASK = ~KVM_CR0_GUEST_OWNED >>> 0;
export const KVM_CR4_MASK = ~KVM_CR4_GUEST_OWNED >>> 0;

/** vmx_set_cr0: the guest's CR0 in the read shadow, with the always-on bits in GUEST_CR0. */
export function vmxSetCr0(c: KvmContext, cr0: number): void {
  c.kvm.cr0 = cr0 >>> 0;
  wr(c, F.GUEST_CR0, ((cr0 & ~CR0_ALWAYS_OFF) | CR0_ALWAYS_ON) >>> 0);
  wr(c, F.CR0_READ_SHADOW, cr0 >>> 0);
}

/** vmx_set_cr4. */
export function vmxSetCr4(c: KvmContext, cr4: number): void {
  c.kvm.cr4 = cr4 >>> 0;
  wr(c, F.GUEST_CR4, (cr4 | CR4_ALWAYS_ON) >>> 0);
  wr(c, F.CR4_READ_SHADOW, cr4 >>> 0);
}

/** kvm_set_cr3 → the MMU: the lab has no page tables, so GUEST_CR3 is the guest's CR3 itself. */
export function vmxSetCr3(c: KvmContext, cr3: number): void {
  c.kvm.cr3 = cr3;
  wr(c, F.GUEST_CR3, cr3);
}

/** init_vmcs / vmx_vcpu_reset: masks, and the vCPU's first CR values (those of bare metal). */
export function initVmcsCrs(c: KvmContext): void {
  wr(c, F.CR0_GUEST_HOST_MASK, KVM_CR0_MASK);
  wr(c, F.CR4_GUEST_HOST_MASK, KVM_CR4_MASK);
  wr(c, F.HOST_CR0, CR0_INITIAL);
  wr(c, F.HOST_CR3, 0);
  wr(c, F.HOST_CR4, CR4_INITIAL);
  vmxSetCr0(c, CR0_INITIAL);
  vmxSetCr3(c, 0);
  vmxSetCr4(c, CR4_INITIAL);
}

/** kvm_set_cr0 (with kvm_is_valid_cr0 and vmx_is_valid_cr0): false means #GP. */
export function kvmSetCr0(c: KvmContext, lo: number, hi: number): boolean {
  const v = lo >>> 0;
  if (hi !== 0) return false;
  if (v & CR0.NW && !(v & CR0.CD)) return false;
  if (v & CR0.PG && !(v & CR0.PE)) return false;
  // The vCPU is in 64-bit mode: clearing PG is #GP.
  if (!(v & CR0.PG)) return false;
  // In VMX operation the VMX-fixed bits must stay set (nested_guest/host_cr0_valid).
  if (c.kvm.nested.vmxon && (v & CR0_ALWAYS_ON) >>> 0 !== CR0_ALWAYS_ON) return false;
  vmxSetCr0(c, ((v & ~0x1ffaffc0) | CR0.ET) >>> 0);
  return true;
}

/** kvm_set_cr4: reserved bits (those the guest's CPUID lacks), PAE in long mode, PCIDE, VMXE. */
export function kvmSetCr4(c: KvmContext, lo: number, hi: number): boolean {
  if (hi !== 0 || lo & ~CR4_SUPPORTED) return false;
  if (!(lo & CR4.PAE)) return false;
  if (lo & CR4.PCIDE && !(c.kvm.cr4 & CR4.PCIDE) && c.kvm.cr3 % 0x1000 !== 0) return false;
  if (c.kvm.nested.vmxon && !(lo & CR4.VMXE)) return false;
  vmxSetCr4(c, lo);
  return true;
}

/** kvm_set_cr3: bits beyond the guest's MAXPHYADDR are reserved (bit 63 with PCIDE is not). */
export function kvmSetCr3(c: KvmContext, lo: number, hi: number): boolean {
  const h = c.kvm.cr4 & CR4.PCIDE ? hi & 0x7fffffff : hi;
  if (h >>> (MAXPHYADDR - 32) !== 0) return false;
  vmxSetCr3(c, h * 0x100000000 + (lo >>> 0));
  return true;
}

/** The guest register `r` as [lo, hi] (RSP lives in the VMCS). */
function guestReg(c: KvmContext, r: number): [number, number] {
  if (r === RSP) {
    const v = rd(c, F.GUEST_RSP);
    return [v >>> 0, Math.floor(v / 0x100000000) >>> 0];
  }
  return [c.kvm.guestRegs[2 * r], c.kvm.guestRegs[2 * r + 1]];
}

function setGuestReg(c: KvmContext, r: number, v: number): void {
  if (r === RSP) wr(c, F.GUEST_RSP, v);
  else {
    c.kvm.guestRegs[2 * r] = v >>> 0;
    c.kvm.guestRegs[2 * r + 1] = Math.floor(v / 0x100000000) >>> 0;
  }
}

/**
 * handle_cr: the exit qualification names the register (3:0), the access (5:4: 0 MOV to CR,
 * 1 MOV from CR) and the general register (11:8). In guest mode (an exit of L2 that L1 did not
 * ask for), MOV to CR0/CR4 keeps the bits vmcs12 owns at vmcs12's guest values and the read
 * shadow gets L2's value (handle_set_cr0/handle_set_cr4). A failed check injects #GP(0).
 * Returns null after queueing #GP (the caller records it), else the decision.
 */
export function handleCr(
  c: KvmContext,
  skip: () => void,
  injectGp: (qualification: number) => KvmStepResult,
): KvmStepResult {
  const q = rd(c, F.EXIT_QUALIFICATION);
  const cr = q & 0xf;
  const toCr = ((q >>> 4) & 3) === 0;
  const reg = (q >>> 8) & 0xf;
  const kvm = c.kvm;
  if (!toCr) {
    const value = cr === 3 ? kvm.cr3 : (kvm.lapic.tpr >>> 4) & 0xf; // kvm_read_cr3 / kvm_get_cr8
    setGuestReg(c, reg, value);
    skip();
    return decide(c.h, Fn.handle_cr, q, value);
  }
  let [lo, hi] = guestReg(c, reg);
  const orig = lo;
  const vmcs12 = kvm.nested.guestMode ? currentVmcs12(kvm.nested) : null;
  if (vmcs12 && (cr === 0 || cr === 4)) {
    const mask = readField(vmcs12, cr === 0 ? F.CR0_GUEST_HOST_MASK : F.CR4_GUEST_HOST_MASK) >>> 0;
    const guest = readField(vmcs12, cr === 0 ? F.GUEST_CR0 : F.GUEST_CR4) >>> 0;
    lo = ((lo & ~mask) | (guest & mask)) >>> 0;
    hi = 0;
  }
  let ok: boolean;
  switch (cr) {
    case 0:
      ok = kvmSetCr0(c, lo, hi);
      if (ok && vmcs12) wr(c, F.CR0_READ_SHADOW, orig);
      break;
    case 3:
      ok = kvmSetCr3(c, lo, hi);
      break;
    case 4:
      ok = kvmSetCr4(c, lo, hi);
      if (ok && vmcs12) wr(c, F.CR4_READ_SHADOW, orig);
      break;
    default:
      // kvm_set_cr8: bits 63:4 reserved; kvm_lapic_set_tpr.
      ok = hi === 0 && (lo & ~0xf) === 0;
      if (ok) {
        kvm.lapic.tpr = (lo & 0xf) << 4;
        kvm.reqEvent = true; // apic_update_ppr: a lower TPR may let an interrupt in
      }
  }
  if (!ok) return injectGp(q);
  skip();
  return decide(c.h, Fn.handle_cr, q, lo);
}
