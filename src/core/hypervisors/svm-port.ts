// The SVM side of a hypervisor model's architectural port: what its code does to an AMD
// processor (AMD APM vol. 2 "Secure Virtual Machine"). A hypervisor at L0 (KVM's svm.c, Xen's
// hvm/svm) reads and writes its VMCBs as ordinary memory, enables SVM with EFER.SVME and
// VM_HSAVE_PA (WRMSR), brackets VMRUN with CLGI/STGI, and runs its guest with VMRUN. Shared by
// every model that drives SVM; the generic host part (TSC, APIC, host interrupts) stays in the
// hypervisor's own port.
import type { Hart } from '../cpu/hart';
import { RFLAGS } from '../cpu/state';
import { write } from '../cpu/memory';
import { svmRdmsr, svmWrmsr } from '../svm/msr';
import { rd32, rd64, wr32, wr64 } from '../svm/vmcb-memory';
import { vmrun } from '../svm/vmrun';

export interface SvmPort {
  /** Read a VMCB field (by its offset and width) of the VMCB at physical address `vmcb`. */
  read(vmcb: number, offset: number, size: 1 | 2 | 4 | 8): number;
  write(vmcb: number, offset: number, size: 1 | 2 | 4 | 8, value: number): void;
  /** Fill `len` bytes at `addr` (a permission map: all ones intercepts everything). */
  fill(addr: number, len: number, byte: number): void;
  rdmsr(msr: number): number;
  /** WRMSR; false when it faulted (#GP). */
  wrmsr(msr: number, value: number): boolean;
  clgi(): void;
  stgi(): void;
  /** The host's RFLAGS.IF (STI before VMRUN: with V_INTR_MASKING it lets physical INTR exit). */
  setHostIf(on: boolean): void;
  /**
   * VMRUN of the VMCB at `vmcb`: `entered` when the guest runs (the step's record is the
   * hardware's VMENTRY), else `failure` names the consistency check (#VMEXIT VMEXIT_INVALID).
   * After a #VMEXIT the host resumes at `hostRip`. `lane`: the level the guest runs (by default
   * the one above the host; KVM's vmcb02 runs its L1's guest).
   */
  vmrun(vmcb: number, hostRip: number, lane?: number): { entered: boolean; failure: string | null };
}

/** The hypervisor at L0: the processor itself, its memory the hypervisor's own. */
export class SvmHardwarePort implements SvmPort {
  constructor(
    private readonly h: Hart,
    /** The hypervisor's lane, whose memory holds its VMCBs; by default the running lane's. */
    private readonly lane?: number,
  ) {}
  private mem() {
    return (this.lane === undefined ? undefined : this.h.lanes[this.lane]?.mem) ?? this.h.mem;
  }
  read(vmcb: number, offset: number, size: 1 | 2 | 4 | 8): number {
    const m = this.mem();
    if (size === 8) return rd64(m, vmcb + offset);
    const v = rd32(m, vmcb + offset);
    return size === 4 ? v : size === 2 ? v & 0xffff : v & 0xff;
  }
  write(vmcb: number, offset: number, size: 1 | 2 | 4 | 8, value: number): void {
    const m = this.mem();
    if (size === 8) wr64(m, vmcb + offset, value);
    else if (size === 4) wr32(m, vmcb + offset, value);
    else write(m, vmcb + offset, size, value >>> 0, 0);
  }
  fill(addr: number, len: number, byte: number): void {
    const b = this.mem().bytes;
    // A map reaching past the end of memory: the processor reads the missing part as
    // intercepted (svm/intercepts.ts), as all ones would.
    b.fill(byte, Math.min(addr, b.length), Math.min(addr + len, b.length));
  }
  rdmsr(msr: number): number {
    return svmRdmsr(this.h, msr) ?? 0;
  }
  wrmsr(msr: number, value: number): boolean {
    return svmWrmsr(this.h, msr, value >>> 0, Math.floor(value / 0x100000000) >>> 0) === true;
  }
  clgi(): void {
    this.h.svm.gif = false;
  }
  stgi(): void {
    this.h.svm.gif = true;
  }
  setHostIf(on: boolean): void {
    const cpu = this.h.cpu;
    cpu.rflags = on ? (cpu.rflags | RFLAGS.IF) >>> 0 : (cpu.rflags & ~RFLAGS.IF) >>> 0;
  }
  vmrun(vmcb: number, hostRip: number, lane?: number): { entered: boolean; failure: string | null } {
    // VMRUN takes the VMCB's address in RAX.
    const regs = this.h.cpu.regs;
    regs[0] = vmcb >>> 0;
    regs[1] = 0;
    return vmrun(this.h, vmcb, hostRip, hostRip, lane);
  }
}
