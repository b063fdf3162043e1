// KVM above L0: its port executes KVM's instruction stubs on the processor model, in VMX
// non-root operation. An instruction that does not exit (CLI, STI, IRET, a WRMSR the MSR
// bitmap lets through) just runs. One that exits ends the step with a real VM exit to the
// level below, which emulates it and resumes KVM after it; KVM's decision is then run again
// from its start, and the instructions it already executed are not executed again: their
// results are replayed from the log (a decision is a pure function of KVM's state and what
// its instructions returned). So KVM's code needs no suspension points of its own, and the
// trace shows every trap as the hardware makes it.
import type { Hart } from '../../cpu/hart';
import { Exec, execute } from '../../cpu/execute';
import { RFLAGS, RSP, regNumber, setRegNumber } from '../../cpu/state';
import { X2APIC } from '../../cpu/apic';
import { type VmxCaps, writeRevision } from '../../vmx/capabilities';
import type { KvmPort } from './port';
import type { SvmPort } from '../svm-port';
import { type StubName, kvmStubs, stubAddr } from './stubs';
import type { Program } from '../../asm/ir';

/** The instructions KVM's port executes, as logged. */
export const PortOp = {
  VMREAD: 1,
  VMWRITE: 2,
  VMXON: 3,
  VMCLEAR: 4,
  VMPTRLD: 5,
  VMLAUNCH: 6,
  VMRESUME: 7,
  WRMSR: 8,
  RDMSR: 9,
  LOAD_REGS: 10,
  STI: 11,
  CLI: 12,
  HLT: 13,
  IRET: 14,
  VMRUN: 15,
  STGI: 16,
  CLGI: 17,
  /** local_irq_enable: STI and one instruction past its shadow (an interrupt may come in). */
  IRQ_WINDOW: 18,
  /**
   * KVM's own memory (its VMCBs, on SVM), read, written or filled: not instructions that trap,
   * but logged like them, so that a decision run again after a trap sees what it saw the first
   * time and does not write again over what the level below wrote meanwhile (its #VMEXIT).
   */
  MEM_READ: 19,
  MEM_WRITE: 20,
  MEM_FILL: 21,
} as const;

const NO_OPS: ReadonlySet<number> = new Set();

/** The ops that touch KVM's memory or registers only: performed by `setup`, no stub. */
const LOCAL_OPS = new Set<number>([PortOp.LOAD_REGS, PortOp.MEM_READ, PortOp.MEM_WRITE, PortOp.MEM_FILL]);

export interface PortLogEntry {
  op: number;
  arg: number;
  arg2: number;
  result: number;
}

/** One transaction: the log of a decision in progress and the instruction that trapped. */
export interface PortTx {
  log: PortLogEntry[];
  pending: { op: number; arg: number; arg2: number; resume: number } | null;
}

export function newTx(): PortTx {
  return { log: [], pending: null };
}

export function cloneTx(t: PortTx): PortTx {
  return { log: t.log.map((e) => ({ ...e })), pending: t.pending ? { ...t.pending } : null };
}

/** Thrown (and caught by the engine) when an instruction of KVM's caused a VM exit. */
export class Trap {
  static readonly instance = new Trap();
}

const STUB: Record<number, StubName> = {
  [PortOp.VMREAD]: 's_vmread',
  [PortOp.VMWRITE]: 's_vmwrite',
  [PortOp.VMXON]: 's_vmxon',
  [PortOp.VMCLEAR]: 's_vmclear',
  [PortOp.VMPTRLD]: 's_vmptrld',
  [PortOp.VMLAUNCH]: 's_vmlaunch',
  [PortOp.VMRESUME]: 's_vmresume',
  [PortOp.WRMSR]: 's_wrmsr',
  [PortOp.RDMSR]: 's_rdmsr',
  [PortOp.STI]: 's_sti',
  [PortOp.CLI]: 's_cli',
  [PortOp.HLT]: 's_hlt',
  [PortOp.IRET]: 's_iret',
  [PortOp.VMRUN]: 's_vmrun',
  [PortOp.STGI]: 's_stgi',
  [PortOp.CLGI]: 's_clgi',
  [PortOp.IRQ_WINDOW]: 's_irq_window',
};

const RAX = 0;
const RCX = 1;
const RDX = 2;

/**
 * What an instruction that trapped returned, read when KVM resumes after the level below
 * emulated it: VMREAD's destination, RDMSR's EDX:EAX, whether VMLAUNCH/VMRESUME entered
 * (KVM resumes at its HOST_RIP) or failed (after the instruction).
 */
export function trappedResult(h: Hart, p: NonNullable<PortTx['pending']>, hostRip: number): number {
  const cpu = h.cpu;
  switch (p.op) {
    case PortOp.VMREAD:
      return cpu.rflags & (RFLAGS.CF | RFLAGS.ZF) ? 0 : regNumber(cpu, RAX);
    case PortOp.RDMSR:
      return cpu.regs[2 * RDX] * 0x100000000 + cpu.regs[2 * RAX];
    case PortOp.VMLAUNCH:
    case PortOp.VMRESUME:
      return cpu.rip === hostRip ? 1 : 0;
    default:
      return 0;
  }
}

/**
 * KVM above L0: its port executes its instruction stubs in the guest it is of the level below
 * (VMX non-root operation, or an SVM guest); on AMD it is its SVM port too — its VMCBs are its
 * own memory, VMRUN and the SVM MSRs trap to the level below, CLGI/STGI set V_GIF (vGIF).
 */
export class GuestPort implements KvmPort, SvmPort {
  private i = 0;
  constructor(
    private readonly h: Hart,
    private readonly tx: PortTx,
    readonly level: number,
    readonly caps: VmxCaps,
    private readonly mem: Uint8Array,
    /** The stub program in this level's memory (KVM's, or the Xen model's copy). */
    private readonly stubs: Program = kvmStubs(),
    /**
     * Ops after which the step ends even though they did not trap, so that the processor's
     * boundary checks run before the decision goes on: Xen's STGI, after which (with IF = 1) an
     * interrupt pending for Xen is delivered before svm_vmexit_handler.
     */
    private readonly yieldAfter: ReadonlySet<number> = NO_OPS,
  ) {}

  /**
   * The next instruction of the decision: replayed from the log, or executed now (with its
   * registers set up by `setup`). LOAD_REGS is not an instruction: `setup` is all it does.
   */
  private op(op: number, arg: number, arg2: number, setup: () => void | number): number {
    const i = this.i++;
    const log = this.tx.log;
    if (i < log.length) {
      const e = log[i];
      if (e.op === op && e.arg === arg && e.arg2 === arg2) return e.result;
      // The decision took another path this time (its state changed meanwhile): from here
      // on its instructions execute.
      log.length = i;
    }
    const h = this.h;
    const local = setup();
    if (LOCAL_OPS.has(op)) {
      const result = typeof local === 'number' ? local : 0;
      log.push({ op, arg, arg2, result });
      return result;
    }
    const stub = stubAddr(STUB[op], this.stubs);
    h.cpu.rip = stub;
    const len = h.code[h.prog.indexAt[stub - h.prog.origin]].len;
    // IRQ_WINDOW is STI then a NOP: the interrupt shadow ends, and the step ends with IF = 1.
    const count = op === PortOp.IRQ_WINDOW ? 2 : 1;
    for (let k = 0; k < count; k++) {
      if (execute(h, Infinity) !== Exec.DONE || h.level !== this.level) {
        // A VM exit (or #VMEXIT): the level below takes over, and resumes KVM after the
        // instruction.
        this.tx.pending = { op, arg, arg2, resume: stub + len };
        throw Trap.instance;
      }
    }
    if (this.yieldAfter.has(op)) {
      this.tx.pending = { op, arg, arg2, resume: stub + len };
      throw Trap.instance;
    }
    const cpu = h.cpu;
    let result = 0;
    if (op === PortOp.VMREAD) result = cpu.rflags & (RFLAGS.CF | RFLAGS.ZF) ? 0 : regNumber(cpu, RAX);
    else if (op === PortOp.RDMSR) result = cpu.regs[2 * RDX] * 0x100000000 + cpu.regs[2 * RAX];
    else if (op === PortOp.VMLAUNCH || op === PortOp.VMRESUME) result = 0; // VMfail, no exit
    log.push({ op, arg, arg2, result });
    return result;
  }

  vmread(enc: number): number {
    return this.op(PortOp.VMREAD, enc, 0, () => setRegNumber(this.h.cpu, RDX, enc));
  }
  vmwrite(enc: number, value: number): void {
    this.op(PortOp.VMWRITE, enc, value, () => {
      setRegNumber(this.h.cpu, RDX, enc);
      setRegNumber(this.h.cpu, RAX, value);
    });
  }
  private pointerOp(op: number, addr: number): void {
    this.op(op, addr, 0, () => {
      const b = this.mem;
      const at = stubAddr('kvm_operand', this.stubs);
      for (let k = 0; k < 8; k++) b[at + k] = Math.floor(addr / 2 ** (8 * k)) & 0xff;
    });
  }
  vmxon(addr: number): void {
    this.pointerOp(PortOp.VMXON, addr);
  }
  vmclear(addr: number): void {
    this.pointerOp(PortOp.VMCLEAR, addr);
  }
  vmptrld(addr: number): void {
    this.pointerOp(PortOp.VMPTRLD, addr);
  }
  vmenter(launch: boolean, lane: number): { entered: boolean; reason: string | null } {
    const r = this.op(launch ? PortOp.VMLAUNCH : PortOp.VMRESUME, lane, 0, () => {});
    return { entered: r === 1, reason: r === 1 ? null : 'VMfail (see VM_INSTRUCTION_ERROR)' };
  }
  tsc(): number {
    return this.h.tsc;
  }
  writeRevision(addr: number, shadow = false): void {
    writeRevision(this.mem, addr, shadow);
  }
  memory(): Uint8Array {
    return this.mem;
  }
  /** The guest's registers but RSP, which VMRUN or VM entry loads (the hypervisor keeps its own stack). */
  loadGuestRegs(regs: Uint32Array): void {
    this.op(PortOp.LOAD_REGS, 0, 0, () => {
      const r = this.h.cpu.regs;
      const lo = r[2 * RSP];
      const hi = r[2 * RSP + 1];
      r.set(regs);
      r[2 * RSP] = lo;
      r[2 * RSP + 1] = hi;
    });
  }
  private wrmsrHalves(msr: number, lo: number, hi: number): void {
    this.op(PortOp.WRMSR, msr, lo, () => {
      const regs = this.h.cpu.regs;
      setRegNumber(this.h.cpu, RCX, msr);
      regs[2 * RAX] = lo >>> 0;
      regs[2 * RAX + 1] = 0;
      regs[2 * RDX] = hi >>> 0;
      regs[2 * RDX + 1] = 0;
    });
  }
  selfIpi(vector: number): void {
    // x2APIC ICR: fixed delivery to this CPU (its own APIC ID, 0).
    this.wrmsrHalves(X2APIC.ICR, vector & 0xff, 0);
  }
  hostEoi(): void {
    this.wrmsrHalves(X2APIC.EOI, 0, 0);
  }
  hostNmiIret(): void {
    // The NMI came through KVM's IDT and its handler returns with IRET (irq handler).
  }
  hostInterrupt(): number {
    return -1;
  }
  sti(): void {
    this.op(PortOp.STI, 0, 0, () => {});
  }
  cli(): void {
    this.op(PortOp.CLI, 0, 0, () => {});
  }
  /** KVM's idle loop: STI; HLT (the STI shadow makes the pair atomic). */
  halt(): void {
    this.op(PortOp.HLT, 0, 0, () => {});
  }
  iret(): void {
    this.op(PortOp.IRET, 0, 0, () => {});
  }
  /** The host interrupt handler's IRET ends it; the step's record stays the handler's decision. */
  handlerIret(): void {
    const out = { ...this.h.out };
    this.iret();
    Object.assign(this.h.out, out);
  }
  /** The hypervisor's idle loop: STI; HLT (the STI shadow makes the pair atomic), which traps. */
  idle(): void {
    this.sti();
    this.halt();
  }
  /** local_irq_enable, then the next instruction: a pending interrupt is delivered after it. */
  irqWindow(): void {
    this.op(PortOp.IRQ_WINDOW, 0, 0, () => {});
  }

  // ---- SvmPort: KVM's SVM code above L0 -----------------------------------------------------

  private view(): DataView {
    return new DataView(this.mem.buffer, this.mem.byteOffset, this.mem.byteLength);
  }
  read(vmcb: number, offset: number, size: 1 | 2 | 4 | 8): number {
    const at = vmcb + offset;
    return this.op(PortOp.MEM_READ, at * 16 + size, 0, () => {
      const d = this.view();
      if (size === 8) return d.getUint32(at + 4, true) * 0x100000000 + d.getUint32(at, true);
      if (size === 4) return d.getUint32(at, true);
      return size === 2 ? d.getUint16(at, true) : d.getUint8(at);
    });
  }
  write(vmcb: number, offset: number, size: 1 | 2 | 4 | 8, value: number): void {
    const at = vmcb + offset;
    // The address and the size in one log argument: the write is the same only if all match.
    this.op(PortOp.MEM_WRITE, at * 16 + size, value, () => {
      const d = this.view();
      if (size === 8) {
        d.setUint32(at, value >>> 0, true);
        d.setUint32(at + 4, Math.floor(value / 0x100000000) >>> 0, true);
      } else if (size === 4) d.setUint32(at, value >>> 0, true);
      else if (size === 2) d.setUint16(at, value & 0xffff, true);
      else d.setUint8(at, value & 0xff);
    });
  }
  fill(addr: number, len: number, byte: number): void {
    this.op(PortOp.MEM_FILL, addr, len * 0x100 + (byte & 0xff), () => {
      this.mem.fill(byte, Math.min(addr, this.mem.length), Math.min(addr + len, this.mem.length));
    });
  }
  rdmsr(msr: number): number {
    return this.op(PortOp.RDMSR, msr, 0, () => setRegNumber(this.h.cpu, RCX, msr));
  }
  wrmsr(msr: number, value: number): boolean {
    this.wrmsrHalves(msr, value >>> 0, Math.floor(value / 0x100000000) >>> 0);
    return true;
  }
  clgi(): void {
    this.op(PortOp.CLGI, 0, 0, () => {});
  }
  stgi(): void {
    this.op(PortOp.STGI, 0, 0, () => {});
  }
  setHostIf(on: boolean): void {
    if (on) this.sti();
    else this.cli();
  }
  /**
   * VMRUN of KVM's VMCB (RAX): it always traps (the level below intercepts VMRUN and emulates
   * it, running `lane`); KVM resumes after it once an exit of its guest comes back, or at once
   * when the level below failed it (SVM_EXIT_ERR in the VMCB).
   */
  vmrun(vmcb: number, _hostRip: number, lane?: number): { entered: boolean; failure: string | null } {
    this.op(PortOp.VMRUN, vmcb, lane ?? this.level + 1, () => setRegNumber(this.h.cpu, RAX, vmcb));
    const failed = this.read(vmcb, 0x70, 4) === 0xffffffff;
    return { entered: !failed, failure: failed ? 'VMEXIT_INVALID (SVM_EXIT_ERR)' : null };
  }
}
