// The vCPU's local APIC as Xen emulates it (xen/arch/x86/hvm/vlapic.c), in x2APIC mode: the
// guest's RDMSR/WRMSR of the x2APIC registers exit (MSR intercept) and Xen applies them to
// this state with the architectural register rules of cpu/x2apic.ts.
import { requestInterrupt } from '../../cpu/apic';
import { x2apicRead, x2apicWrite } from '../../cpu/x2apic';
import type { XenState } from './state';

/** vlapic_set_irq: a fixed interrupt sets its IRR bit (the caller kicks the vCPU). */
export function vlapicSetIrq(xen: XenState, vector: number): boolean {
  return requestInterrupt(xen.vlapic, vector);
}

/**
 * vlapic_accept_irq with APIC_DM_NMI: `if ( !test_and_set_bool(v->arch.nmi_pending) )
 * vcpu_kick(v)`. Returns whether the NMI was newly pending (a second one merges with it).
 */
export function vlapicAcceptNmi(xen: XenState): boolean {
  if (xen.nmiPending) return false;
  xen.nmiPending = true;
  return true;
}

/** What a guest x2APIC MSR write did. */
export interface VlapicWrite {
  ok: boolean;
  nmiToSelf: boolean;
  irq: number;
  eoiVector: number;
}

/** guest_wrmsr_x2apic → vlapic_reg_write. An NMI IPI to itself sets nmi_pending. */
export function guestWrmsrX2apic(xen: XenState, msr: number, lo: number, hi: number): VlapicWrite {
  const r = x2apicWrite(xen.vlapic, msr, lo, hi);
  if (r.ok && r.nmiToSelf) vlapicAcceptNmi(xen);
  return r;
}

/** guest_rdmsr_x2apic; null when Xen does not emulate the MSR (#GP). */
export function guestRdmsrX2apic(xen: XenState, msr: number, tsc: number): [number, number] | null {
  return x2apicRead(xen.vlapic, msr, tsc);
}
