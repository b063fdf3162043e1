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
import { RFLAGS, regNumber, setRegNumber } from '../../cpu/state';
import { X2APIC } from '../../cpu/apic';
import { type VmxCaps, writeRevision } from '../../vmx/capabilities';
import type { KvmPort } from './port';
import { type StubName, stubAddr } from './stubs';

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
} as const;

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

export class GuestPort implements KvmPort {
  private i = 0;
  constructor(
    private readonly h: Hart,
    private readonly tx: PortTx,
    readonly level: number,
    readonly caps: VmxCaps,
    private readonly mem: Uint8Array,
  ) {}

  /**
   * The next instruction of the decision: replayed from the log, or executed now (with its
   * registers set up by `setup`). LOAD_REGS is not an instruction: `setup` is all it does.
   */
  private op(op: number, arg: number, arg2: number, setup: () => void): number {
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
    setup();
    if (op === PortOp.LOAD_REGS) {
      log.push({ op, arg, arg2, result: 0 });
      return 0;
    }
    const stub = stubAddr(STUB[op]);
    h.cpu.rip = stub;
    const len = h.code[h.prog.indexAt[stub - h.prog.origin]].len;
    if (execute(h, Infinity) !== Exec.DONE || !h.vmx.nonRoot) {
      // A VM exit: the level below takes over, and resumes KVM after the instruction.
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
      const at = stubAddr('kvm_operand');
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
  loadGuestRegs(regs: Uint32Array): void {
    this.op(PortOp.LOAD_REGS, 0, 0, () => this.h.cpu.regs.set(regs));
  }
  private wrmsr(msr: number, lo: number, hi: number): void {
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
    this.wrmsr(X2APIC.ICR, vector & 0xff, 0);
  }
  hostEoi(): void {
    this.wrmsr(X2APIC.EOI, 0, 0);
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
}
