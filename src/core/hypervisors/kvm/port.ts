// The architectural port of a hypervisor model: what its code does to the processor. KVM is
// the same code at every level; only the port differs. At L0 the port is the hardware (the
// VMX instructions and the physical APIC, performed at once). Above L0 it is what those
// instructions do in VMX non-root operation: each is executed by the processor model from
// KVM's own instruction stubs, so a sensitive one (VMREAD/VMWRITE without shadowing,
// VMLAUNCH/VMRESUME, WRMSR to the x2APIC, HLT) causes a real VM exit to the level below,
// which emulates it (port-guest.ts).
import { eoi, requestInterrupt } from '../../cpu/apic';
import { takeHostInterrupt } from '../host-interrupt';
import type { Hart } from '../../cpu/hart';
import type { VmxCaps } from '../../vmx/capabilities';
import { writeRevision } from '../../vmx/capabilities';
import { vmclear, vmenter, vmptrld, vmread, vmwrite, vmxon } from '../../vmx/instructions';
import { KVM_HOST } from './context';

/** What the KVM model does to the processor. */
export interface KvmPort {
  /** The level whose KVM this port serves. */
  readonly level: number;
  /** The VMX capabilities as this level reads them from the VMX MSRs. */
  readonly caps: VmxCaps;
  vmread(enc: number): number;
  vmwrite(enc: number, value: number): void;
  vmxon(addr: number): void;
  vmclear(addr: number): void;
  vmptrld(addr: number): void;
  /**
   * VMLAUNCH/VMRESUME of the current VMCS into `lane`. `entered`: the entry happened (then a
   * VM exit has brought KVM back, or, at L0, the step's record is the hardware's VMENTRY).
   */
  vmenter(launch: boolean, lane: number): { entered: boolean; reason: string | null };
  /** The TSC. */
  tsc(): number;
  /** Write the VMCS revision identifier (with the shadow-VMCS indicator) in KVM's memory. */
  writeRevision(addr: number, shadow?: boolean): void;
  /** KVM's own memory (its VMCS regions, its VMREAD/VMWRITE bitmaps). */
  memory(): Uint8Array;
  /** Put the guest's general registers back into the processor before VM entry. */
  loadGuestRegs(regs: Uint32Array): void;
  /** smp_send_reschedule to this CPU: a self-IPI with the reschedule vector. */
  selfIpi(vector: number): void;
  /** The host's interrupt handler ends: EOI to this level's APIC. */
  hostEoi(): void;
  /** The host's NMI handler returns (its IRET ends blocking by NMI). */
  hostNmiIret(): void;
  /**
   * An interrupt or NMI for the host that the processor takes now, while KVM runs with
   * interrupts enabled: its vector (2 for an NMI), acknowledged, or -1. Above L0 the processor
   * delivers them through KVM's IDT instead, so this is always -1 there.
   */
  hostInterrupt(): number;
  /** local_irq_enable / local_irq_disable (STI / CLI) of KVM's own code above L0. */
  sti(): void;
  cli(): void;
  /**
   * Above L0: local_irq_enable and one more instruction, so that an interrupt pending for KVM
   * is delivered through its IDT at the next boundary (at L0 hostInterrupt() takes it).
   */
  irqWindow(): void;
}

/** KVM at L0: the port is the processor itself. */
export class HardwarePort implements KvmPort {
  readonly level = 0;
  constructor(private readonly h: Hart) {}
  get caps(): VmxCaps {
    return this.h.caps;
  }
  vmread(enc: number): number {
    return vmread(this.h, enc).value ?? 0;
  }
  vmwrite(enc: number, value: number): void {
    vmwrite(this.h, enc, value);
  }
  vmxon(addr: number): void {
    vmxon(this.h, addr);
  }
  vmclear(addr: number): void {
    vmclear(this.h, addr);
  }
  vmptrld(addr: number): void {
    vmptrld(this.h, addr);
  }
  vmenter(launch: boolean, lane: number): { entered: boolean; reason: string | null } {
    const r = vmenter(this.h, launch, KVM_HOST.VMX_VMEXIT, lane);
    return { entered: r.entered, reason: r.reason };
  }
  tsc(): number {
    return this.h.tsc;
  }
  writeRevision(addr: number, shadow = false): void {
    writeRevision(this.h.mem.bytes, addr, shadow);
  }
  memory(): Uint8Array {
    return this.h.mem.bytes;
  }
  loadGuestRegs(regs: Uint32Array): void {
    this.h.cpu.regs.set(regs);
  }
  selfIpi(vector: number): void {
    requestInterrupt(this.h.apic, vector);
  }
  hostEoi(): void {
    eoi(this.h.apic);
  }
  hostNmiIret(): void {
    this.h.cpu.nmiBlocked = false;
  }
  sti(): void {
    // At L0 the model takes host interrupts between its decisions (hostInterrupt).
  }
  cli(): void {}
  irqWindow(): void {}
  hostInterrupt(): number {
    return takeHostInterrupt(this.h);
  }
}
