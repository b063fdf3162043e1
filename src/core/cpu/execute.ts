// The instruction interpreter: executes the instruction at RIP and fills the step record.
// Each instruction's rule cites its SDM Vol. 2 entry where it matters for events.
import { Op } from '../asm/ir';
import { effectiveAddress } from './address';
import { compareAssert, conditionHolds } from './conditions';
import { RunError } from '../errors';
import { EventKind, EventType } from '../engine/view';
import { AluOp, alu, compareUnsigned, incdec, res, shift } from './alu';
import { Vector, deliverEvent } from './deliver';
import { pop64, push64 } from './stack';
import { iret } from './iret';
import type { DOperand } from './decoded';
import type { Hart } from './hart';
import { readVmxMsr } from '../vmx/capabilities';
import { guestTsc, instructionExit } from '../vmx/non-root';
import { loaded, read, write } from './memory';
import { msrValue, rdmsr, wrmsr } from './msr';
import { DEBUGCTL, DR6, MovDr, codeBreakpoints, movDebugRegister } from './debug';
import { ARITH_FLAGS, Activity, RFLAGS, Shadow, WRITABLE_FLAGS, regNumber } from './state';
import { Sys, executeSystem, sysFault } from './execute-system';
import { executeVmxInstruction } from './execute-vmx';
import { svmInstructionIntercept } from '../svm/intercepts';
import { executeSvmInstruction } from '../svm/instructions';
import { Exec, debugFault, done, fault, retire } from './retire';

export { Exec };

export { conditionHolds };

// Operand values, read into scratch halves to avoid allocations.
let alo = 0,
  ahi = 0,
  blo = 0,
  bhi = 0;

function readA(h: Hart, o: DOperand): void {
  switch (o.k) {
    case 0:
      alo = h.cpu.regs[2 * o.reg];
      ahi = o.size === 8 ? h.cpu.regs[2 * o.reg + 1] : 0;
      break;
    case 1:
      alo = o.lo;
      ahi = o.hi;
      break;
    default:
      read(h.mem, effectiveAddress(h, o), o.size);
      alo = loaded.lo;
      ahi = loaded.hi;
  }
}

function readB(h: Hart, o: DOperand): void {
  switch (o.k) {
    case 0:
      blo = h.cpu.regs[2 * o.reg];
      bhi = o.size === 8 ? h.cpu.regs[2 * o.reg + 1] : 0;
      break;
    case 1:
      blo = o.lo;
      bhi = o.hi;
      break;
    default:
      read(h.mem, effectiveAddress(h, o), o.size);
      blo = loaded.lo;
      bhi = loaded.hi;
  }
}

/** Write a result; 32-bit register writes zero the upper half (SDM Vol. 1 "General-Purpose Registers in 64-Bit Mode"). */
function writeOperand(h: Hart, o: DOperand, lo: number, hi: number): void {
  if (o.k === 0) {
    h.cpu.regs[2 * o.reg] = lo;
    h.cpu.regs[2 * o.reg + 1] = o.size === 8 ? hi : 0;
  } else if (o.k === 2) {
    write(h.mem, effectiveAddress(h, o), o.size, lo, hi);
  }
}

/** Operand access as JS numbers (exact below 2^53), for the VMX instructions. */
const numberAccess = {
  h: null as unknown as Hart,
  read(o: DOperand): number {
    readA(numberAccess.h, o);
    return ahi * 0x100000000 + alo;
  },
  write(o: DOperand, v: number): void {
    writeOperand(numberAccess.h, o, v >>> 0, Math.floor(v / 0x100000000) >>> 0);
  },
};

function operandBits(o: DOperand): number {
  return o.k === 1 ? 64 : o.size * 8;
}

const ALU_OF: number[] = [];
const ALU_MAP: Record<number, number> = {
  [Op.ADD]: AluOp.ADD,
  [Op.SUB]: AluOp.SUB,
  [Op.CMP]: AluOp.SUB,
  [Op.AND]: AluOp.AND,
  [Op.TEST]: AluOp.AND,
  [Op.OR]: AluOp.OR,
  [Op.XOR]: AluOp.XOR,
};
for (const [op, alu] of Object.entries(ALU_MAP)) ALU_OF[Number(op)] = alu;

/**
 * Execute the instruction at RIP. `budget` is the number of cycles until the next external
 * event (Infinity when none): only `work` can run into it. Returns an Exec code; `h.out`
 * holds the step's record and `cycles.spent` the cycles the instruction took.
 */
export const cycles = { spent: 1 };

export function execute(h: Hart, budget: number): number {
  const cpu = h.cpu;
  const prog = h.prog;
  const off = cpu.rip - prog.origin;
  const index = off >= 0 && off < prog.indexAt.length ? prog.indexAt[off] : -1;
  if (index < 0) {
    throw new RunError(
      'runtime',
      `RIP 0x${cpu.rip.toString(16)} is not the start of an instruction of L${h.level}'s program (did it run past its last instruction?)`,
      h.level,
    );
  }
  const ins = h.code[index];
  const next = ins.addr + ins.len;
  const prevShadow = cpu.shadow;
  // "Single-step" with TF; with IA32_DEBUGCTL.BTF = 1 TF single-steps on branches only (SDM
  // "Single-Stepping on Branches"): `branchStep` applies to taken branches.
  const tf = (cpu.rflags & RFLAGS.TF) !== 0;
  const branchStep = tf && (cpu.debugctl & DEBUGCTL.BTF) !== 0;
  const singleStep = tf && !branchStep;
  cycles.spent = 1;
  // An instruction breakpoint: a fault-like #DB before the instruction, below interrupts and
  // above instruction VM exits (cpu/debug.ts).
  const hit = (cpu.dr[14] & 0xff) === 0 || cpu.rflags & RFLAGS.RF ? 0 : codeBreakpoints(cpu, ins.addr);
  if (hit) return debugFault(h, ins, hit);
  // "Instructions That Cause VM Exits": checked before the instruction executes. The exit
  // saves the blocking by STI or MOV SS the instruction executes in (SDM Vol. 3C "Saving
  // Non-Register State"), so the shadow is still in place here; the exit then loads the
  // host's state, which has none.
  if (h.vmx.nonRoot && instructionExit(h, ins)) return Exec.DONE;
  // AMD "Instruction Intercepts" in an SVM guest (svm/intercepts.ts).
  if (h.svm.guest && svmInstructionIntercept(h, ins)) return Exec.DONE;
  // The interrupt shadow covers only the boundary before this instruction. RF lets only this
  // instruction past its breakpoint (the lab clears it as the instruction begins; IRETQ may
  // set it again from the frame).
  cpu.shadow = 0;
  if (cpu.rflags & RFLAGS.RF) cpu.rflags &= ~RFLAGS.RF;
  const a = ins.a;
  switch (ins.op) {
    case Op.MOV:
      readB(h, ins.b);
      writeOperand(h, a, blo, bhi);
      break;
    case Op.LEA: {
      const ea = effectiveAddress(h, ins.b);
      writeOperand(h, a, ea >>> 0, Math.floor(ea / 0x100000000) >>> 0);
      break;
    }
    case Op.ADD:
    case Op.SUB:
    case Op.AND:
    case Op.OR:
    case Op.XOR:
    case Op.CMP:
    case Op.TEST: {
      readA(h, a);
      readB(h, ins.b);
      alu(ALU_OF[ins.op], alo, ahi, blo, bhi, operandBits(a));
      if (ins.op !== Op.CMP && ins.op !== Op.TEST) writeOperand(h, a, res.lo, res.hi);
      cpu.rflags = (cpu.rflags & ~ARITH_FLAGS) | res.flags;
      break;
    }
    case Op.INC:
    case Op.DEC:
      readA(h, a);
      incdec(ins.op === Op.DEC, alo, ahi, operandBits(a), cpu.rflags);
      writeOperand(h, a, res.lo, res.hi);
      cpu.rflags = (cpu.rflags & ~ARITH_FLAGS) | res.flags;
      break;
    case Op.SHL:
    case Op.SHR: {
      readA(h, a);
      const bits = operandBits(a);
      const b = ins.b;
      const raw = b.k === 0 ? cpu.regs[2] & 0xff : b.k === 1 ? b.lo : 0; // a register count is CL
      shift(ins.op === Op.SHR, alo, ahi, raw & (bits === 64 ? 63 : 31), bits);
      writeOperand(h, a, res.lo, res.hi);
      if (res.flags >= 0) cpu.rflags = (cpu.rflags & ~ARITH_FLAGS) | res.flags;
      break;
    }
    case Op.JMP:
      cpu.rip = ins.n;
      retire(h, ins, index);
      return done(h, tf);
    case Op.JCC: {
      const taken = conditionHolds(ins.cond, cpu.rflags);
      cpu.rip = taken ? ins.n : next;
      retire(h, ins, index);
      return done(h, singleStep || (branchStep && taken));
    }
    case Op.CALL:
      push64(h, next >>> 0, 0);
      cpu.rip = ins.n;
      retire(h, ins, index);
      return done(h, tf);
    case Op.RET:
      pop64(h);
      cpu.rip = loaded.hi * 0x100000000 + loaded.lo;
      retire(h, ins, index);
      return done(h, tf);
    case Op.PUSH:
      readA(h, a);
      push64(h, alo, ahi);
      break;
    case Op.POP:
      pop64(h);
      writeOperand(h, a, loaded.lo, loaded.hi);
      break;
    case Op.PUSHF:
      // "PUSHF/PUSHFQ": RF and VM are pushed as 0.
      push64(h, cpu.rflags & ~RFLAGS.RF, 0);
      break;
    case Op.POPF:
      // "POPF/POPFQ" at CPL 0 may change IF and TF; unlike STI it creates no interrupt shadow.
      pop64(h);
      cpu.rflags = (loaded.lo & WRITABLE_FLAGS & ~RFLAGS.RF) | RFLAGS.FIXED;
      break;
    case Op.NOP:
    case Op.PAUSE:
      break;
    case Op.HLT:
      // "HLT—Halt": RIP moves past HLT; an unmasked interrupt or an NMI resumes execution
      // with the return address after HLT.
      cpu.activity = Activity.HLT;
      cpu.mwaitBreak = false;
      cpu.inMwait = false;
      break;
    case Op.STI:
      // "STI—Set Interrupt Flag": if IF was 0, interrupts stay inhibited at the boundary after
      // STI. With IF already 1 there is no new shadow, so STI;STI has only one.
      if (!(cpu.rflags & RFLAGS.IF)) {
        cpu.rflags |= RFLAGS.IF;
        cpu.shadow = Shadow.STI;
      }
      break;
    case Op.CLI:
      cpu.rflags &= ~RFLAGS.IF;
      break;
    case Op.MOV_SS:
      // "MOV—Move": loading SS inhibits interrupts until after the next instruction; a second
      // MOV SS inside the shadow does not extend it.
      cpu.ss = cpu.regs[2 * a.reg] & 0xffff;
      if (!(prevShadow & Shadow.MOVSS)) cpu.shadow = Shadow.MOVSS;
      break;
    case Op.IRETQ:
      if (!iret(h)) {
        // A non-canonical return RIP: #GP(0) at the IRET, which did not complete.
        h.cpu.rip = ins.addr;
        deliverEvent(h, Vector.GP, EventType.HW_EXCEPTION, 0, ins.addr, { iretFault: true });
        return Exec.DONE;
      }
      retire(h, ins, index, EventKind.IRET);
      h.out.d2 = cpu.rip;
      return done(h, tf);
    case Op.INT:
      // "INT n": a software interrupt, delivered with the return address after the instruction.
      retire(h, ins, index);
      cpu.rip = next;
      deliverEvent(h, ins.n, EventType.SW_INT, 0, next, { instrRip: ins.addr, instrLen: ins.len });
      return Exec.DONE;
    case Op.INT3:
      retire(h, ins, index);
      cpu.rip = next;
      deliverEvent(h, Vector.BP, EventType.SW_EXCEPTION, 0, next, { instrRip: ins.addr, instrLen: ins.len });
      return Exec.DONE;
    case Op.RDTSC: {
      // "RDTSC": EDX:EAX ← TSC; the upper halves of RAX and RDX are cleared. A guest reads
      // the TSC plus TSC_OFFSET when "use TSC offsetting" is 1.
      const tsc = h.vmx.nonRoot ? guestTsc(h) : h.svm.guest ? h.tsc + h.svm.tscOffset : h.tsc;
      cpu.regs[0] = tsc >>> 0;
      cpu.regs[1] = 0;
      cpu.regs[4] = Math.floor(tsc / 0x100000000) >>> 0;
      cpu.regs[5] = 0;
      break;
    }
    case Op.RDMSR: {
      const vmxMsr = readVmxMsr(h.caps, cpu.regs[2]);
      if (vmxMsr) {
        cpu.regs[0] = vmxMsr[0] >>> 0;
        cpu.regs[1] = 0;
        cpu.regs[4] = vmxMsr[1] >>> 0;
        cpu.regs[5] = 0;
        break;
      }
      if (!rdmsr(h, cpu.regs[2])) {
        fault(h, ins, Vector.GP, 0);
        return Exec.DONE;
      }
      cpu.regs[0] = msrValue.lo;
      cpu.regs[1] = 0;
      cpu.regs[4] = msrValue.hi;
      cpu.regs[5] = 0;
      break;
    }
    case Op.LIDT: {
      // "LGDT/LIDT": loads the limit (2 bytes) and base (8 bytes) from memory.
      const addr = effectiveAddress(h, a);
      read(h.mem, addr + 2, 8);
      cpu.idtr = loaded.hi * 0x100000000 + loaded.lo;
      break;
    }
    case Op.UD2:
    case Op.INTO:
      // "UD2": #UD. "INTO" is invalid in 64-bit mode (opcode CE): #UD too.
      fault(h, ins, Vector.UD, 0);
      return Exec.DONE;
    case Op.INT1:
      // "INT1" (ICEBP, F1): #DB as a privileged software exception (type 5), a trap pushed
      // with the address of the next instruction; DR6 is not changed.
      retire(h, ins, index);
      cpu.rip = next;
      deliverEvent(h, Vector.DB, EventType.PRIV_SW_EXCEPTION, 0, next, {
        instrRip: ins.addr,
        instrLen: ins.len,
      });
      return Exec.DONE;
    case Op.VMXON:
    case Op.VMXOFF:
    case Op.VMCLEAR:
    case Op.VMPTRLD:
    case Op.VMREAD:
    case Op.VMWRITE:
    case Op.VMCALL:
    case Op.VMLAUNCH:
    case Op.VMRESUME:
      numberAccess.h = h;
      return executeVmxInstruction(h, ins, index, prevShadow, singleStep, numberAccess);
    case Op.VMRUN:
    case Op.VMMCALL:
    case Op.STGI:
    case Op.CLGI:
    case Op.VMLOAD:
    case Op.VMSAVE:
      return executeSvmInstruction(h, ins, index, singleStep);
    case Op.MOV_TO_DR:
    case Op.MOV_FROM_DR: {
      // "MOV—Move to/from Debug Registers" (cpu/debug.ts): general detect, #GP, or done.
      const r = movDebugRegister(cpu, ins.op === Op.MOV_TO_DR, ins.n, a.reg);
      if (r === MovDr.GENERAL_DETECT) return debugFault(h, ins, DR6.BD);
      if (r === MovDr.UD) {
        fault(h, ins, Vector.UD, 0);
        return Exec.DONE;
      }
      if (r === MovDr.GP) {
        fault(h, ins, Vector.GP, 0);
        return Exec.DONE;
      }
      break;
    }
    case Op.WRMSR:
      if (!wrmsr(h, cpu.regs[2], cpu.regs[0], cpu.regs[4])) {
        fault(h, ins, Vector.GP, 0);
        return Exec.DONE;
      }
      break;
    case Op.WORK: {
      // Lab instruction: spends N cycles and can be interrupted, resuming like a REP string
      // instruction (RIP stays on it; the remaining count is kept with the interrupted frame).
      // `work reg` takes its count from the register (at least 1 cycle).
      const count = a.k === 0 ? Math.max(1, regNumber(cpu, a.reg)) : ins.n;
      const remaining = cpu.workRemaining > 0 ? cpu.workRemaining : count;
      if (remaining > budget) {
        cpu.workRemaining = remaining - budget;
        cycles.spent = budget;
        return Exec.WORK_INTERRUPTED;
      }
      cpu.workRemaining = 0;
      cycles.spent = remaining;
      break;
    }
    case Op.ASSERT: {
      readA(h, a);
      readB(h, ins.b);
      const passed = compareAssert(ins.assertOp, compareUnsigned(alo, ahi, blo, bhi));
      cpu.rip = next;
      retire(h, ins, index, EventKind.ASSERT);
      h.out.d1 = passed ? 1 : 0;
      return done(h, singleStep);
    }
    case Op.SKIP:
      // Recorded like an assert with outcome 2: neither passed nor failed.
      cpu.rip = next;
      retire(h, ins, index, EventKind.ASSERT);
      h.out.d1 = 2;
      return done(h, singleStep);
    default: {
      const r = executeSystem(h, ins);
      if (r === Sys.NEXT) break;
      if (r === Sys.FAULT) {
        fault(h, ins, sysFault.vector, sysFault.errorCode);
        return Exec.DONE;
      }
      throw new RunError(
        'runtime',
        `instruction '${ins.text}' is not supported by the CPU model`,
        h.level,
        ins.line,
      );
    }
  }
  cpu.rip = next;
  retire(h, ins, index);
  return done(h, singleStep);
}
