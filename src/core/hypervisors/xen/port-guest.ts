// The Xen model above L0 (Xen as L1 under KVM on SVM): what its code does to the processor goes
// through the same trapping stubs as KVM's above L0 (hypervisors/kvm/port-guest.ts), here Xen's
// own copy in its memory: WRMSR to EFER and VM_HSAVE_PA (svm_cpu_up) and VMRUN trap to the level
// below, which emulates SVM for Xen; CLGI/STGI set V_GIF; its VMCB is its own memory, read and
// written through the port's log. Xen's code clobbers registers between the #VMEXIT and the next
// VMRUN, so the guest's are kept in XenState.guestRegs.
import type { Hart } from '../../cpu/hart';
import { EFER, MSR_EFER, MSR_VM_HSAVE_PA } from '../../svm/bits';
import type { GuestPort } from '../kvm/port-guest';
import type { XenState } from './state';
import { XEN_HOST, type XenPort } from './port';

export class XenGuestPort implements XenPort {
  constructor(
    private readonly h: Hart,
    private readonly g: GuestPort,
    private readonly xen: XenState,
    readonly lane: number,
  ) {}
  fill(addr: number, len: number, byte: number): void {
    this.g.fill(addr, len, byte);
  }
  read32(o: number): number {
    return this.g.read(XEN_HOST.VMCB, o, 4);
  }
  read64(o: number): number {
    return this.g.read(XEN_HOST.VMCB, o, 8);
  }
  write32(o: number, v: number): void {
    this.g.write(XEN_HOST.VMCB, o, 4, v);
  }
  write64(o: number, v: number): void {
    this.g.write(XEN_HOST.VMCB, o, 8, v);
  }
  /** svm_cpu_up: WRMSR EFER.SVME and VM_HSAVE_PA, both exits to the level below. */
  cpuUp(): void {
    this.g.wrmsr(MSR_EFER, this.g.rdmsr(MSR_EFER) | EFER.SVME);
    this.g.wrmsr(MSR_VM_HSAVE_PA, XEN_HOST.HSAVE);
  }
  hostEfer(): number {
    return this.g.rdmsr(MSR_EFER);
  }
  hostCr(): { cr0: number; cr3: number; cr4: number } {
    const c = this.h.cpu;
    return { cr0: c.cr0, cr3: c.cr3, cr4: c.cr4 };
  }
  /** CLGI, STI, the guest's registers back, VMRUN (it traps; Xen resumes after it). */
  vmrun(): boolean {
    this.g.clgi();
    this.g.sti();
    this.g.loadGuestRegs(this.xen.guestRegs);
    this.g.vmrun(XEN_HOST.VMCB, 0, this.lane + 1);
    return false;
  }
  /** STGI after the #VMEXIT; Xen goes on with interrupts on (its IF from before VMRUN). */
  stgi(): void {
    this.g.stgi();
  }
  /** Above L0 host interrupts come through Xen's IDT (xen-levels.ts), not here. */
  hostInterrupt(): number {
    return -1;
  }
  selfIpi(vector: number): void {
    this.g.selfIpi(vector);
  }
  tsc(): number {
    return this.h.tsc;
  }
  guestReg(r: number): number {
    return this.xen.guestRegs[2 * r + 1] * 0x100000000 + this.xen.guestRegs[2 * r];
  }
  setGuestReg(r: number, v: number): void {
    this.xen.guestRegs[2 * r] = v >>> 0;
    this.xen.guestRegs[2 * r + 1] = Math.floor(v / 0x100000000) >>> 0;
  }
}
