// The SVM hardware as the Xen model drives it at L0: VMRUN of the VMCB in Xen's memory (with
// CLGI and STI before it, as svm_asm_do_resume does), STGI after the #VMEXIT, VMCB fields read
// and written in that memory (svm/vmcb.ts offsets, svm/vmcb-memory.ts accessors), the TSC, the
// physical APIC for the host's own interrupts and the IPIs it sends. The model sees only what
// real Xen sees. The VMCB accesses and GIF are the generic SVM port's (hypervisors/svm-port.ts,
// which KVM's svm.c uses too); what is Xen's own here is its memory layout and its resume path.
import { requestInterrupt } from '../../cpu/apic';
import { takeHostInterrupt } from '../host-interrupt';
import { SvmHardwarePort } from '../svm-port';
import type { Hart } from '../../cpu/hart';
import { regNumber, setRegNumber } from '../../cpu/state';
import { EFER } from '../../svm/bits';
import { vmrun } from '../../svm/vmrun';

/** Xen's host memory layout in the model: the VMCB, the host save area, the permission maps. */
export const XEN_HOST = {
  VMCB: 0x1000,
  HSAVE: 0x2000,
  /** The VMRUN of svm_asm_do_resume (the trace's host RIP; the model runs no host code). */
  VMRUN: 0x3000,
  MSRPM: 0x4000,
  IOPM: 0x6000,
} as const;

/** VMRUN's encoding length (0F 01 D8): the host resumes after it. */
const VMRUN_LEN = 3;

/** What the Xen model does to the processor (at L0 the hardware; above L0, port-guest.ts). */
export interface XenPort {
  /** The lane Xen runs in. */
  readonly lane: number;
  fill(addr: number, len: number, byte: number): void;
  read32(vmcbOffset: number): number;
  read64(vmcbOffset: number): number;
  write32(vmcbOffset: number, v: number): void;
  write64(vmcbOffset: number, v: number): void;
  cpuUp(): void;
  hostEfer(): number;
  hostCr(): { cr0: number; cr3: number; cr4: number };
  /**
   * svm_asm_do_resume: CLGI, STI, VMRUN. True when the step's record is the processor's (at L0);
   * above L0 the VMRUN trapped, and Xen is back after its guest's #VMEXIT.
   */
  vmrun(): boolean;
  stgi(): void;
  hostInterrupt(): number;
  selfIpi(vector: number): void;
  tsc(): number;
  guestReg(r: number): number;
  setGuestReg(r: number, v: number): void;
}

export class XenSvmPort implements XenPort {
  private readonly svm: SvmHardwarePort;
  constructor(
    private readonly h: Hart,
    /** The lane Xen runs in (0). */
    readonly lane: number,
  ) {
    this.svm = new SvmHardwarePort(h, lane);
  }

  fill(addr: number, len: number, byte: number): void {
    this.svm.fill(addr, len, byte);
  }

  read32(vmcbOffset: number): number {
    return this.svm.read(XEN_HOST.VMCB, vmcbOffset, 4);
  }

  read64(vmcbOffset: number): number {
    return this.svm.read(XEN_HOST.VMCB, vmcbOffset, 8);
  }

  write32(vmcbOffset: number, v: number): void {
    this.svm.write(XEN_HOST.VMCB, vmcbOffset, 4, v);
  }

  write64(vmcbOffset: number, v: number): void {
    this.svm.write(XEN_HOST.VMCB, vmcbOffset, 8, v);
  }

  /** svm_cpu_up: EFER.SVME = 1 and VM_HSAVE_PA = the host save area. */
  cpuUp(): void {
    this.h.svm.efer |= EFER.SVME;
    this.h.svm.hsavePa = XEN_HOST.HSAVE;
  }

  /** The host's EFER, CR0, CR3, CR4 (a guest set up with the host's paging mode). */
  hostEfer(): number {
    return this.h.svm.efer;
  }

  hostCr(): { cr0: number; cr3: number; cr4: number } {
    const c = this.h.cpu;
    return { cr0: c.cr0, cr3: c.cr3, cr4: c.cr4 };
  }

  /**
   * svm_asm_do_resume's tail: CLGI, STI (the host's IF = 1 with GIF = 0, so that with
   * V_INTR_MASKING a physical interrupt makes the guest exit), VMRUN. The step's record is the
   * hardware's (a VMRUN entry, or VMEXIT_INVALID).
   */
  vmrun(): boolean {
    this.svm.clgi();
    this.svm.setHostIf(true);
    vmrun(this.h, XEN_HOST.VMCB, XEN_HOST.VMRUN + VMRUN_LEN, XEN_HOST.VMRUN);
    return true;
  }

  /** STGI right after the #VMEXIT (entry.S): host interrupts can be taken again. */
  stgi(): void {
    this.svm.stgi();
  }

  /**
   * An interrupt or NMI for the host taken now that GIF = 1 and IF = 1: its vector (2 for an
   * NMI), acknowledged and EOI'd by Xen's handler, or -1.
   */
  hostInterrupt(): number {
    return takeHostInterrupt(this.h);
  }

  /** An IPI to this physical CPU (vcpu_kick's EVENT_CHECK_VECTOR). */
  selfIpi(vector: number): void {
    requestInterrupt(this.h.apic, vector);
  }

  tsc(): number {
    return this.h.tsc;
  }

  /** A guest general register other than RAX and RSP (those live in the VMCB save area). */
  guestReg(r: number): number {
    return regNumber(this.h.cpu, r);
  }

  setGuestReg(r: number, v: number): void {
    setRegNumber(this.h.cpu, r, v);
  }
}
